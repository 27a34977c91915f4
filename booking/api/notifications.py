"""In-app notifications, notification preferences and calendar-feed URLs: thin HTTP adapters over
booking.notifications and booking.feeds."""

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import feeds, notifications
from booking.models import Notification, NotificationKind
from booking.models.notifications import NotificationLanguage
from config.api import object_or_404, paginate
from equipment.selectors import resource_list_for

# --- serializers ----------------------------------------------------------------------------


class NotificationListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        rows = list(data.all() if hasattr(data, "all") else data)
        notifications.render_pending(rows)  # the page's unrendered rows in a few queries, not per row
        return super().to_representation(rows)


class NotificationOutputSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id", "kind", "kind_display", "booking", "subject", "body", "created_at", "read_at", "unread",
            "sent_at", "emailed",
        ]  # fmt: skip
        list_serializer_class = NotificationListSerializer

    def to_representation(self, instance: Notification):
        # A new booking's rows are rendered after its commit; read before delivery, render now.
        notifications.render_pending([instance])
        return super().to_representation(instance)

    def get_unread(self, obj: Notification) -> bool:
        return obj.read_at is None


class NotificationPreferencesSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=NotificationLanguage.choices, required=False)
    email_opt_out = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=50,
        help_text=_("Kinds of notification kept in the app only, without an e-mail."),
    )
    kinds = serializers.SerializerMethodField(
        help_text=_("Every kind of notification, for the opt-out list.")
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_kinds(self, obj) -> list[str]:
        return list(NotificationKind.values)


class FeedUrlOutputSerializer(serializers.Serializer):
    url = serializers.URLField()


# --- filters --------------------------------------------------------------------------------


class NotificationFilter(filters.FilterSet):
    unread = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_unread",
        help_text=_("true: unread only; false: read only"),
    )

    class Meta:
        model = Notification
        fields = ["unread", "kind"]

    def filter_unread(self, queryset, name, value):
        return queryset.filter(read_at__isnull=value == "true")


# --- views ----------------------------------------------------------------------------------


class NotificationListApi(generics.GenericAPIView):
    """The caller's own notifications, newest first."""

    serializer_class = NotificationOutputSerializer
    filterset_class = NotificationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return Notification.objects.filter(recipient=self.request.user).order_by("-created_at", "-pk")

    @extend_schema(responses=NotificationOutputSerializer(many=True))
    def get(self, request):
        return paginate(
            self, request, self.filter_queryset(self.get_queryset()), NotificationOutputSerializer
        )


class NotificationReadApi(APIView):
    @extend_schema(request=None, responses=NotificationOutputSerializer)
    def post(self, request, pk):
        notification = object_or_404(Notification.objects.filter(recipient=request.user), pk=pk)
        notification = notifications.notification_mark_read(user=request.user, notification=notification)
        return Response(NotificationOutputSerializer(notification).data)


class NotificationReadAllApi(APIView):
    @extend_schema(
        request=None,
        responses=inline_serializer("NotificationReadAllOutput", {"updated": serializers.IntegerField()}),
    )
    def post(self, request):
        return Response({"updated": notifications.notifications_mark_all_read(user=request.user)})


class NotificationPreferencesApi(APIView):
    """Language of the caller's notifications, and the kinds they get in the app only."""

    def _body(self, pref):
        return NotificationPreferencesSerializer(
            {"language": pref.language, "email_opt_out": pref.email_opt_out or []}
        ).data

    @extend_schema(responses=NotificationPreferencesSerializer)
    def get(self, request):
        return Response(self._body(notifications.preference_for(request.user)))

    @extend_schema(request=NotificationPreferencesSerializer, responses=NotificationPreferencesSerializer)
    def put(self, request):
        ser = NotificationPreferencesSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        pref = notifications.notification_preferences_update(
            user=request.user,
            language=ser.validated_data.get("language"),
            email_opt_out=ser.validated_data.get("email_opt_out"),
        )
        return Response(self._body(pref))


class CalendarFeedRegenerateApi(APIView):
    """Revoke the caller's calendar feed (the old URL answers 404) and issue a new URL."""

    @extend_schema(request=None, responses={201: FeedUrlOutputSerializer})
    def post(self, request):
        feed = feeds.calendar_feed_regenerate(user=request.user)
        return Response({"url": feeds.feed_url(feed, request)}, status=status.HTTP_201_CREATED)


class CalendarFeedRevokeApi(APIView):
    """Revoke the caller's calendar feed; `me.calendar_url` issues a new one when next asked."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        feeds.calendar_feed_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResourceCalendarFeedApi(APIView):
    """The secret feed URL of a resource's bookings (school names only, no teachers), for the
    resource's school admins and centre admins. `?regenerate=true` rotates it."""

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("regenerate", OpenApiTypes.BOOL, description="Revoke and reissue.")],
        responses=FeedUrlOutputSerializer,
    )
    def post(self, request, pk):
        resource = object_or_404(resource_list_for(request.user), pk=pk)
        regenerate = request.query_params.get("regenerate", "").lower() in ("true", "1", "yes")
        feed = feeds.resource_feed_get(actor=request.user, resource=resource, regenerate=regenerate)
        return Response({"url": feeds.feed_url(feed, request)})
