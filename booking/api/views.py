"""Thin HTTP adapters over booking.services and booking.selectors."""

import datetime as dt
import functools
import json
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from booking import checkin, selectors, services
from booking.idempotency import idempotent
from booking.models import Booking, Closure
from config.api import check_date_range, object_or_404, paginate
from equipment.models import Resource
from equipment.selectors import resource_list_for
from schools.models import School
from schools.rules import parse_periods

from .filters import BookingFilter, ClosureFilter
from .serializers import (
    AvailabilityOutputSerializer,
    BookingCreateInputSerializer,
    BookingOutputSerializer,
    CheckInInputSerializer,
    ClosureSerializer,
    ReasonInputSerializer,
    SearchResultSerializer,
    SeriesCancelInputSerializer,
    SeriesCreateInputSerializer,
    SeriesOutputSerializer,
    SeriesResultSerializer,
    WaitlistInputSerializer,
    WaitlistOutputSerializer,
    booking_input_by_time,
    booking_output,
)

MAX_WINDOW = dt.timedelta(days=62)


# DRF's sliding window (the times of the caller's requests in the last period; a request is refused
# when the period already holds `rate` of them), kept in a Redis sorted set and checked and updated
# in one step. ARGV: now, now - period (both as Python writes them: Lua would round them to 14
# digits), period, rate, a unique member. Returns {allowed, requests in the window, the oldest's time}.
_WINDOW_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[4]) then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, count, oldest[2] or ARGV[1]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, count + 1, ARGV[1]}
"""


@functools.cache
def _window_script_at(location: str):
    import redis

    # The cache's LOCATION URL only: credentials and TLS belong in that URL (rediss://user:pass@…);
    # CACHES["default"]["OPTIONS"] are not applied to this client.
    return redis.Redis.from_url(location).register_script(_WINDOW_LUA)


def _window_script():
    """The window script on the cache's Redis server, or None when the cache is not one Redis."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    location = settings.CACHES["default"].get("LOCATION")
    if not isinstance(caches["default"], RedisCache) or not isinstance(location, str) or "," in location:
        return None
    return _window_script_at(location)


class BookingWriteThrottle(ScopedRateThrottle):
    """ScopedRateThrottle for writes only. On Redis its window is checked and updated by one script
    (one round trip): DRF's read-then-write through the cache took two round trips, each through a
    new client, about 0.9 ms of a booking POST's CPU (0.25 now, docs/benchmarks.md), and let two
    concurrent requests both take the window's last place. Without Redis (SQLite, in-process cache)
    DRF's own implementation runs."""

    scope_attr = "throttle_scope"
    _count: int | None = None

    def allow_request(self, request, view):
        if request.method == "GET":
            return True
        script = _window_script()
        if script is None:
            return super().allow_request(request, view)
        # ScopedRateThrottle.allow_request and SimpleRateThrottle.allow_request, the window in Redis.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        allowed, count, oldest = script(
            keys=[self.cache.make_key(f"{self.key}_window")],
            args=[
                repr(self.now),
                repr(self.now - self.duration),
                self.duration,
                self.num_requests,
                f"{self.now!r}:{secrets.token_hex(4)}",
            ],
        )
        self._count, self._oldest = int(count), float(oldest)
        return bool(allowed)

    def wait(self):
        if self._count is None:
            return super().wait()
        # SimpleRateThrottle.wait over the window's size and its oldest request.
        remaining = self.duration - (self.now - self._oldest) if self._count else self.duration
        available = self.num_requests - self._count + 1
        return None if available <= 0 else remaining / available


class IsBookingUser(IsAuthenticated):
    """Analysts read aggregates only: no booking lists, no personal data."""

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and not request.user.is_analyst


class BookingListCreateApi(generics.GenericAPIView):
    permission_classes = [IsBookingUser]
    serializer_class = BookingOutputSerializer
    filterset_class = BookingFilter
    throttle_classes = [BookingWriteThrottle]
    throttle_scope = "booking_write"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Booking.objects.none()
        return selectors.booking_list_for(self.request.user)

    @extend_schema(responses=BookingOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.filter_queryset(self.get_queryset()), BookingOutputSerializer)

    @extend_schema(
        request=BookingCreateInputSerializer,
        responses={201: BookingOutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
    )
    def post(self, request):
        return idempotent(request, lambda: self._create(request))

    def _create(self, request):
        data = booking_input_by_time(request.data)
        if data is None:
            return self._create_validated(request, self._validated(request))
        # The usual request, read without the serializer and without asking whether the caller may
        # see the resource: booking_create reads (and locks) the row itself and books only the
        # caller's own school's resources and shared ones, i.e. exactly those the caller sees. Had
        # it refused, the serializer's answer comes first, as it would have: an unknown resource and
        # another school's private one both answer 400 "resource" (nothing about the second leaks).
        # A conflict is decided only after every rule, the access rule included, has passed.
        try:
            booking = services.booking_create(
                actor=request.user,
                resource=Resource.from_db(None, ["id"], [data["resource"]]),  # the rest loads if read
                start=data["start"],
                end=data["end"],
                class_size=data["class_size"],
                purpose=data["purpose"],
            )
        except ValidationError as exc:
            if getattr(exc, "code", None) != "conflict":
                self._validated(request)
            raise
        except Exception:
            self._validated(request)
            raise
        return Response(booking_output(booking, request.user, request), status=status.HTTP_201_CREATED)

    def _validated(self, request) -> dict:
        ser = BookingCreateInputSerializer(data=request.data)
        # Only whether the caller may see it: booking_create reads (and locks) the row itself.
        visible = resource_list_for(request.user).select_related(None).prefetch_related(None)
        ser.fields["resource"].queryset = visible.only("pk", "school_id")
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    def _create_validated(self, request, data):
        resource = data["resource"]
        asked = _times(data, resource)
        booking = services.booking_create(
            actor=request.user,
            resource=resource,
            start=asked.start,
            end=asked.end,
            class_size=data["class_size"],
            purpose=data["purpose"],
            periods=asked.periods,
        )
        # The booking comes back with its booker loaded: all the answer needs, no re-read.
        return Response(booking_output(booking, request.user, request), status=status.HTTP_201_CREATED)


class BookingDetailApi(APIView):
    permission_classes = [IsBookingUser]

    @extend_schema(responses=BookingOutputSerializer)
    def get(self, request, pk):
        booking = object_or_404(selectors.booking_list_for(request.user), pk=pk)
        return Response(BookingOutputSerializer(booking, context={"request": request}).data)


class _BookingActionApi(APIView):
    """POST a status change: parse, call `service(user, booking, data)`, render the booking."""

    permission_classes = [IsBookingUser]
    throttle_classes = [BookingWriteThrottle]
    throttle_scope = "booking_write"
    input_serializer = ReasonInputSerializer
    service = None  # set by _action()

    def post(self, request, pk):
        booking = object_or_404(selectors.booking_list_for(request.user), pk=pk)
        ser = self.input_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        booking = type(self).service(request.user, booking, ser.validated_data)
        booking = selectors.booking_list_for(request.user).get(pk=booking.pk)
        return Response(BookingOutputSerializer(booking, context={"request": request}).data)


def _action(name, fn, serializer=ReasonInputSerializer, doc=""):
    cls = type(
        f"Booking{name}Api",
        (_BookingActionApi,),
        {"service": staticmethod(fn), "input_serializer": serializer, "__doc__": doc},
    )

    # A function of this class's own: extend_schema records the request body on the function, and
    # the inherited one is shared by every action (the schema gave them all the last one's body).
    def post(self, request, pk):
        return _BookingActionApi.post(self, request, pk)

    cls.post = extend_schema(request=serializer, responses=BookingOutputSerializer)(post)
    return cls


BookingCancelApi = _action(
    "Cancel",
    lambda u, b, d: services.booking_cancel(actor=u, booking=b, reason=d["reason"]),
    doc="The booker or the resource's admins cancel, with a reason.",
)
BookingApproveApi = _action(
    "Approve",
    lambda u, b, d: services.booking_approve(actor=u, booking=b, reason=d["reason"]),
    doc="The resource's school admin approves a pending request.",
)
BookingRejectApi = _action(
    "Reject",
    lambda u, b, d: services.booking_reject(actor=u, booking=b, reason=d["reason"]),
    doc="The resource's school admin rejects a pending request.",
)
BookingCheckInApi = _action(
    "CheckIn",
    lambda u, b, d: services.booking_check_in(actor=u, booking=b, code=d.get("code") or None),
    CheckInInputSerializer,
    doc="The booker checks in on arrival (from 30 minutes before the start); the owner school's admin "
    "may confirm with the booker's code.",
)


class SVGRenderer(BaseRenderer):
    media_type = "image/svg+xml"
    format = "svg"
    charset = None  # the document's XML declaration says utf-8

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data, ensure_ascii=False).encode()  # an error asked for as an image


class BookingCheckInQrApi(APIView):
    """The booker's check-in QR code (SVG) holding `check_in_url`: shown on arrival, the owner
    school scans it to confirm. Only the booker gets it (404 for everyone else)."""

    permission_classes = [IsBookingUser]
    renderer_classes = [JSONRenderer, SVGRenderer]  # errors as JSON, like every other endpoint

    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        booking = object_or_404(
            selectors.booking_list_for(request.user).filter(booked_by_id=request.user.pk), pk=pk
        )
        svg = checkin.check_in_qr_svg_file(checkin.check_in_url(booking, request))
        response = HttpResponse(svg, content_type="image/svg+xml")
        response["Cache-Control"] = "private, no-store"  # the code is the booker's to show
        return response


BookingCheckOutApi = _action(
    "CheckOut", lambda u, b, d: services.booking_check_out(actor=u, booking=b), doc="The booker checks out."
)


def _parse_dt(value, field):
    from rest_framework.fields import DateTimeField

    if not value:
        raise ValidationError({field: ValidationError(_("This parameter is required."), code="required")})
    try:
        return DateTimeField().to_internal_value(value)
    except Exception:
        raise ValidationError(
            {field: ValidationError(_("Enter a date-time like 2026-12-01T08:00."), code="invalid")}
        ) from None


def _parse_date(value, field):
    if not value:
        raise ValidationError({field: ValidationError(_("This parameter is required."), code="required")})
    try:
        if len(value) != 10:
            raise ValueError
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            {field: ValidationError(_("Enter a date as YYYY-MM-DD."), code="invalid")}
        ) from None
    return check_date_range(day, field)


def _parse_int(value, field, lo, hi):
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not lo <= number <= hi:
        raise ValidationError(
            {
                field: ValidationError(
                    _("Enter a whole number from %(lo)s to %(hi)s.") % {"lo": lo, "hi": hi}, code="invalid"
                )
            }
        )
    return number


class ResourceAvailabilityApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("end", OpenApiTypes.DATETIME, required=True),
        ],
        responses=AvailabilityOutputSerializer,
    )
    def get(self, request, pk):
        resource = object_or_404(resource_list_for(request.user), pk=pk)
        start = _parse_dt(request.query_params.get("start"), "start")
        end = _parse_dt(request.query_params.get("end"), "end")
        if end <= start:
            raise ValidationError(
                {"end": ValidationError(_("The end must be after the start."), code="invalid_range")}
            )
        if end - start > MAX_WINDOW:
            raise ValidationError(
                {"end": ValidationError(_("Ask for at most 62 days at a time."), code="window_too_long")}
            )
        free = selectors.free_slots_for(
            user=request.user, resource=resource, start=start, end=end, now=timezone.now()
        )
        body = {"resource": resource.pk, "free": [{"start": a, "end": b} for a, b in free]}
        return Response(AvailabilityOutputSerializer(body).data)


class AvailabilitySearchApi(generics.GenericAPIView):
    """Free slots across the city, ordered by start, then travel time from `near_school`."""

    permission_classes = [IsBookingUser]
    serializer_class = SearchResultSerializer
    # Every page of a broad search computes the whole answer (the exact count needs it): per user.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "search"

    def get_queryset(self):  # results are computed, not a queryset; this is for the schema
        from equipment.models import Resource

        return Resource.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, required=True),
            OpenApiParameter("date_to", OpenApiTypes.DATE, required=True, description="inclusive"),
            OpenApiParameter("kind", OpenApiTypes.STR),
            OpenApiParameter("subject", OpenApiTypes.STR),
            OpenApiParameter("duration", OpenApiTypes.INT, description="minutes"),
            OpenApiParameter("periods", OpenApiTypes.STR, description="e.g. 5-6"),
            OpenApiParameter("capacity_min", OpenApiTypes.INT),
            OpenApiParameter("near_school", OpenApiTypes.INT),
            OpenApiParameter("max_travel_minutes", OpenApiTypes.INT),
        ],
        responses=SearchResultSerializer(many=True),
    )
    def get(self, request):
        from equipment.models import Resource, Subject

        p = request.query_params
        date_from = _parse_date(p.get("date_from"), "date_from")
        date_to = _parse_date(p.get("date_to"), "date_to")
        if date_to < date_from:
            raise ValidationError(
                {"date_to": ValidationError(_("date_to is before date_from."), code="invalid_range")}
            )
        if (date_to - date_from).days >= 31:  # both days included: at most 31 days
            raise ValidationError(
                {"date_to": ValidationError(_("Search at most 31 days at a time."), code="window_too_long")}
            )
        kind, subject = p.get("kind") or None, p.get("subject") or None
        if kind and kind not in Resource.Kind.values:
            raise ValidationError({"kind": ValidationError(_("Unknown kind."), code="invalid")})
        if subject and subject not in Subject.values:
            raise ValidationError({"subject": ValidationError(_("Unknown subject."), code="invalid")})
        duration = _parse_int(p.get("duration"), "duration", 5, 24 * 60)
        periods = None
        if p.get("periods"):
            try:
                periods = parse_periods(p["periods"])
            except ValidationError as exc:
                raise ValidationError({"periods": exc}) from None
        if duration and periods:
            raise ValidationError(
                {"periods": ValidationError(_("Give duration or periods, not both."), code="invalid")}
            )
        near = None
        near_id = _parse_int(p.get("near_school"), "near_school", 1, 2**62)
        if near_id is not None:
            near = School.objects.filter(pk=near_id).first()
            if near is None:
                raise ValidationError({"near_school": ValidationError(_("Unknown school."), code="invalid")})
            if near.latitude is None:
                raise ValidationError(
                    {
                        "near_school": ValidationError(
                            _("This school has no coordinates."), code="no_coordinates"
                        )
                    }
                )
        max_travel = _parse_int(p.get("max_travel_minutes"), "max_travel_minutes", 0, 24 * 60)
        if max_travel is not None and near is None:
            raise ValidationError(
                {"near_school": ValidationError(_("max_travel_minutes needs near_school."), code="required")}
            )
        query = selectors.SearchQuery(
            date_from=date_from,
            date_to=date_to,
            kind=kind,
            subject=subject,
            duration=duration,
            periods=periods,
            capacity_min=_parse_int(p.get("capacity_min"), "capacity_min", 1, 5000),
            near_school=near,
            max_travel_minutes=max_travel,
        )
        results = selectors.availability_search(user=request.user, query=query, now=timezone.now())
        if hasattr(results, "expect_page"):  # PostgreSQL: the count and this page from one statement
            page = request.query_params.get(self.paginator.page_query_param, 1)
            results.expect_page(self.paginator.get_page_size(request), page)
        return paginate(self, request, results, SearchResultSerializer)


class ClosureListCreateApi(generics.GenericAPIView):
    serializer_class = ClosureSerializer
    filterset_class = ClosureFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Closure.objects.none()
        user = self.request.user
        qs = Closure.objects.select_related("school", "resource")
        if user.is_centre_admin or user.is_analyst:
            return qs
        visible = resource_list_for(user).values("pk")
        return qs.filter(
            Q(scope="city")
            | Q(scope="school", school_id=user.school_id)
            | Q(scope="resource", resource__in=visible)
        )

    @extend_schema(responses=ClosureSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.filter_queryset(self.get_queryset()), ClosureSerializer)

    @extend_schema(request=ClosureSerializer, responses={201: ClosureSerializer})
    def post(self, request):
        ser = ClosureSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        closure = services.closure_create(actor=request.user, data=ser.validated_data)
        return Response(ClosureSerializer(closure).data, status=status.HTTP_201_CREATED)


class ClosureDetailApi(APIView):
    @extend_schema(responses=ClosureSerializer)
    def get(self, request, pk):
        return Response(
            ClosureSerializer(object_or_404(ClosureListCreateApi(request=request).get_queryset(), pk=pk)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        view = ClosureListCreateApi(request=request)
        closure = object_or_404(view.get_queryset(), pk=pk)
        services.closure_delete(actor=request.user, closure=closure)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- series and waitlist --------------------------------------------------------------------


def _times(data, resource) -> services.TimeRequest:
    """The request's `start`/`end` or `date`/`periods` (the input serializers require one pair)."""
    return services.time_request(
        resource=resource,
        start=data.get("start"),
        end=data.get("end"),
        date=data.get("date"),
        periods=data.get("periods", ""),
    )


class SeriesCreateApi(APIView):
    """Recurring bookings: an RRULE expanded in Asia/Shanghai; `preview: true` writes nothing."""

    permission_classes = [IsBookingUser]
    throttle_classes = [BookingWriteThrottle]
    throttle_scope = "booking_write"

    @extend_schema(
        request=SeriesCreateInputSerializer,
        responses={201: SeriesResultSerializer, 200: SeriesResultSerializer},
    )
    def post(self, request):
        ser = SeriesCreateInputSerializer(data=request.data)
        ser.fields["resource"].queryset = resource_list_for(request.user)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        asked = _times(data, data["resource"])
        start, end, periods = asked.start, asked.end, asked.periods
        result = services.series_create(
            actor=request.user,
            resource=data["resource"],
            first_start=start,
            first_end=end,
            rrule_text=data["rrule"],
            class_size=data["class_size"],
            purpose=data["purpose"],
            periods=periods,
            mode=data["mode"],
            preview=data["preview"],
            waitlist_missed=data["waitlist"],
        )
        body = SeriesResultSerializer(
            {
                "id": result.series.pk if result.series else None,
                "preview": data["preview"],
                "complete": result.complete,
                "occurrences": [
                    {"start": o.start, "end": o.end, "booking": o.booking, "code": o.code, "detail": o.detail}
                    for o in result.occurrences
                ],
            }
        ).data
        if data["preview"]:
            return Response(body)
        if result.series is None:
            # all_or_nothing (or nothing bookable): nothing was booked; every problem is listed.
            body["code"] = (
                "conflict" if any(o.code == "conflict" for o in result.occurrences) else "not_bookable"
            )
            body["detail"] = _("No occurrence was booked.")
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(body, status=status.HTTP_201_CREATED)


def _series_for(user):
    from booking.models import Series

    qs = Series.objects.select_related("resource")
    if user.is_centre_admin:
        return qs
    if user.is_school_admin:
        return qs.filter(Q(school_id=user.school_id) | Q(resource__school_id=user.school_id))
    return qs.filter(school_id=user.school_id)


class SeriesDetailApi(APIView):
    permission_classes = [IsBookingUser]

    @extend_schema(responses=SeriesOutputSerializer)
    def get(self, request, pk):
        return Response(SeriesOutputSerializer(object_or_404(_series_for(request.user), pk=pk)).data)


class SeriesCancelApi(APIView):
    """Cancel `all` remaining occurrences, or `following` from a given occurrence on."""

    permission_classes = [IsBookingUser]

    @extend_schema(request=SeriesCancelInputSerializer, responses=SeriesOutputSerializer)
    def post(self, request, pk):
        series = object_or_404(_series_for(request.user), pk=pk)
        ser = SeriesCancelInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        from_booking = None
        if data["scope"] == "following":
            if "booking" not in data:
                raise ValidationError(
                    {"booking": ValidationError(_("Name the first occurrence to cancel."), code="required")}
                )
            from_booking = series.bookings.filter(pk=data["booking"]).first()
            if from_booking is None:
                raise ValidationError(
                    {
                        "booking": ValidationError(
                            _("That booking is not part of this series."), code="invalid"
                        )
                    }
                )
        services.series_cancel(
            actor=request.user, series=series, from_booking=from_booking, reason=data["reason"]
        )
        series.refresh_from_db()
        return Response(SeriesOutputSerializer(series).data)


class _SeriesDecisionApi(APIView):
    permission_classes = [IsBookingUser]
    approve = True

    @extend_schema(request=ReasonInputSerializer, responses=SeriesOutputSerializer)
    def post(self, request, pk):
        series = object_or_404(_series_for(request.user), pk=pk)
        ser = ReasonInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        fn = services.series_approve if self.approve else services.series_reject
        fn(actor=request.user, series=series, reason=ser.validated_data["reason"])
        return Response(SeriesOutputSerializer(series).data)


class SeriesApproveApi(_SeriesDecisionApi):
    """The resource's school admin approves every pending occurrence of the series at once."""

    approve = True


class SeriesRejectApi(_SeriesDecisionApi):
    """The resource's school admin rejects every pending occurrence of the series at once."""

    approve = False


class WaitlistListCreateApi(generics.GenericAPIView):
    permission_classes = [IsBookingUser]
    serializer_class = WaitlistOutputSerializer

    def get_queryset(self):
        from booking.models import WaitlistEntry

        if getattr(self, "swagger_fake_view", False):
            return WaitlistEntry.objects.none()
        return (
            WaitlistEntry.objects.filter(user=self.request.user)
            .select_related("booking")
            .order_by("-created_at")
        )

    @extend_schema(responses=WaitlistOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.get_queryset(), WaitlistOutputSerializer)

    @extend_schema(request=WaitlistInputSerializer, responses={201: WaitlistOutputSerializer})
    def post(self, request):
        ser = WaitlistInputSerializer(data=request.data)
        ser.fields["resource"].queryset = resource_list_for(request.user)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        asked = _times(data, data["resource"])
        start, end, periods = asked.start, asked.end, asked.periods
        entry = services.waitlist_join(
            actor=request.user,
            resource=data["resource"],
            start=start,
            end=end,
            class_size=data["class_size"],
            purpose=data["purpose"],
            periods=periods,
        )
        return Response(WaitlistOutputSerializer(entry).data, status=status.HTTP_201_CREATED)


class WaitlistDetailApi(APIView):
    permission_classes = [IsBookingUser]

    def _entry(self, request, pk):
        return object_or_404(WaitlistListCreateApi(request=request).get_queryset(), pk=pk)

    @extend_schema(responses=WaitlistOutputSerializer)
    def get(self, request, pk):
        return Response(WaitlistOutputSerializer(self._entry(request, pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        services.waitlist_leave(actor=request.user, entry=self._entry(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WaitlistConfirmApi(APIView):
    """Take the slot held for you: it becomes your booking."""

    permission_classes = [IsBookingUser]

    @extend_schema(request=None, responses=BookingOutputSerializer)
    def post(self, request, pk):
        entry = object_or_404(WaitlistListCreateApi(request=request).get_queryset(), pk=pk)
        booking = services.waitlist_confirm(actor=request.user, entry=entry)
        booking = selectors.booking_list_for(request.user).get(pk=booking.pk)
        return Response(BookingOutputSerializer(booking, context={"request": request}).data)


class WaitlistDeclineApi(APIView):
    """Let the held slot pass to the next teacher."""

    permission_classes = [IsBookingUser]

    @extend_schema(request=None, responses=WaitlistOutputSerializer)
    def post(self, request, pk):
        entry = object_or_404(WaitlistListCreateApi(request=request).get_queryset(), pk=pk)
        entry = services.waitlist_decline(actor=request.user, entry=entry)
        return Response(WaitlistOutputSerializer(entry).data)
