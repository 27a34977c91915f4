"""Thin HTTP adapters over equipment.services and equipment.selectors."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import check_date_range, object_or_404, paginate, query_id
from equipment import selectors, services
from equipment.models import Asset, CatalogItem, Interface, MaintenanceTicket, Resource
from schools.api.permissions import IsAdminOrAnalyst, ReadAnyWriteAdmins
from schools.models import Qualification

from .filters import AssetFilter, CatalogFilter, ResourceFilter, TicketFilter
from .serializers import (
    AssetInputSerializer,
    AssetOutputSerializer,
    CatalogItemSerializer,
    CompatibilityOutputSerializer,
    InterfaceSerializer,
    QualificationSerializer,
    ResourceInputSerializer,
    ResourceOutputSerializer,
    SlaOutputSerializer,
    TicketInputSerializer,
    TicketOutputSerializer,
    TicketResolveInputSerializer,
)


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


def _split_resource_input(validated: dict):
    data = dict(validated)
    hours = data.pop("opening_hours", None)
    if hours is not None:
        hours = [(h["weekday"], h["start"], h["end"]) for h in hours]
    provides = data.pop("provides", None)
    return data, hours, provides


# --- resources ------------------------------------------------------------------------------


class ResourceListCreateApi(generics.GenericAPIView):
    permission_classes = [ReadAnyWriteAdmins]
    serializer_class = ResourceOutputSerializer
    filterset_class = ResourceFilter

    def get_queryset(self):
        if _fake(self):
            return Resource.objects.none()
        return selectors.resource_list_for(self.request.user)

    @extend_schema(responses=ResourceOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.filter_queryset(self.get_queryset()), ResourceOutputSerializer)

    @extend_schema(request=ResourceInputSerializer, responses={201: ResourceOutputSerializer})
    def post(self, request):
        ser = ResourceInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data, hours, provides = _split_resource_input(ser.validated_data)
        resource = services.resource_create(
            actor=request.user, data=data, opening_hours=hours, provides=provides
        )
        resource = selectors.resource_list_for(request.user).get(pk=resource.pk)
        return Response(ResourceOutputSerializer(resource).data, status=status.HTTP_201_CREATED)


class ResourceDetailApi(APIView):
    permission_classes = [ReadAnyWriteAdmins]

    @extend_schema(responses=ResourceOutputSerializer)
    def get(self, request, pk):
        return Response(
            ResourceOutputSerializer(object_or_404(selectors.resource_list_for(request.user), pk=pk)).data
        )

    @extend_schema(request=ResourceInputSerializer, responses=ResourceOutputSerializer)
    def patch(self, request, pk):
        resource = object_or_404(selectors.resource_list_for(request.user), pk=pk)
        ser = ResourceInputSerializer(resource, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data, hours, provides = _split_resource_input(ser.validated_data)
        services.resource_update(
            actor=request.user, resource=resource, data=data, opening_hours=hours, provides=provides
        )
        resource = selectors.resource_list_for(request.user).get(pk=pk)
        return Response(ResourceOutputSerializer(resource).data)


class ResourceCompatibilityApi(APIView):
    """Can a catalogue item (or a kit's type) work in this space? What is missing, which adapters help."""

    @extend_schema(
        parameters=[
            OpenApiParameter("item", OpenApiTypes.STR, description=_("catalogue code (e.g. KIT-0001)")),
            OpenApiParameter("kit", OpenApiTypes.INT, description=_("a mobile kit's id: uses its kit type")),
        ],
        responses=CompatibilityOutputSerializer,
    )
    def get(self, request, pk):
        space = object_or_404(selectors.resource_list_for(request.user), pk=pk)
        code = request.query_params.get("item")
        kit_id = request.query_params.get("kit")
        if bool(code) == bool(kit_id):
            raise ValidationError(
                {"item": ValidationError(_("Give exactly one of 'item' or 'kit'."), code="required")}
            )
        if code:
            # PostgreSQL cannot compare a text holding NUL (a DataError), and no code holds one.
            item = CatalogItem.objects.filter(code=code[:20]).first() if "\x00" not in code else None
            if item is None:
                raise ValidationError(
                    {
                        "item": ValidationError(
                            _("Unknown catalogue code %(code)s.") % {"code": code[:20]}, code="unknown"
                        )
                    }
                )
        else:
            kit = object_or_404(
                selectors.resource_list_for(request.user).filter(kind="mobile_kit"), pk=kit_id
            )
            if kit.kit_type is None:
                raise ValidationError(
                    {"kit": ValidationError(_("This kit has no kit type."), code="invalid")}
                )
            item = kit.kit_type
        result = selectors.compatibility_for(item=item, space=space)
        body = {
            "item": item.code,
            "space": space.pk,
            "compatible": result.compatible,
            "compatible_with_adapters": result.compatible_with_adapters,
            "missing": result.missing,
            "adapters": result.bridges,
            "unbridgeable": result.unbridgeable,
        }
        return Response(CompatibilityOutputSerializer(body).data)


# --- catalogue ------------------------------------------------------------------------------


class CatalogListApi(generics.ListAPIView):
    serializer_class = CatalogItemSerializer
    filterset_class = CatalogFilter

    def get_queryset(self):
        return selectors.catalog_list().distinct()


class CatalogDetailApi(generics.RetrieveAPIView):
    serializer_class = CatalogItemSerializer
    lookup_field = "code"

    def get_queryset(self):
        return selectors.catalog_list()

    def get_object(self):
        # No code holds a NUL character, and PostgreSQL cannot even compare one (a DataError).
        if "\x00" in self.kwargs["code"]:
            raise Http404
        return super().get_object()


class InterfaceListApi(generics.ListAPIView):
    serializer_class = InterfaceSerializer
    pagination_class = None

    def get_queryset(self):
        return Interface.objects.all()


class QualificationListApi(generics.ListAPIView):
    serializer_class = QualificationSerializer
    pagination_class = None

    def get_queryset(self):
        return Qualification.objects.all()


# --- assets ---------------------------------------------------------------------------------


class AssetListCreateApi(generics.GenericAPIView):
    permission_classes = [ReadAnyWriteAdmins]
    serializer_class = AssetOutputSerializer
    filterset_class = AssetFilter

    def get_queryset(self):
        if _fake(self):
            return Asset.objects.none()
        return selectors.asset_list_for(self.request.user)

    @extend_schema(responses=AssetOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.filter_queryset(self.get_queryset()), AssetOutputSerializer)

    @extend_schema(request=AssetInputSerializer, responses={201: AssetOutputSerializer})
    def post(self, request):
        ser = AssetInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        asset = services.asset_create(actor=request.user, data=ser.validated_data)
        return Response(AssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


class AssetDetailApi(APIView):
    permission_classes = [ReadAnyWriteAdmins]

    @extend_schema(responses=AssetOutputSerializer)
    def get(self, request, pk):
        return Response(
            AssetOutputSerializer(object_or_404(selectors.asset_list_for(request.user), pk=pk)).data
        )

    @extend_schema(request=AssetInputSerializer, responses=AssetOutputSerializer)
    def patch(self, request, pk):
        asset = object_or_404(selectors.asset_list_for(request.user), pk=pk)
        ser = AssetInputSerializer(asset, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        asset = services.asset_update(actor=request.user, asset=asset, data=ser.validated_data)
        return Response(AssetOutputSerializer(asset).data)


# --- maintenance tickets --------------------------------------------------------------------


class TicketListCreateApi(generics.GenericAPIView):
    serializer_class = TicketOutputSerializer
    filterset_class = TicketFilter

    def get_queryset(self):
        if _fake(self):
            return MaintenanceTicket.objects.none()
        return selectors.ticket_list_for(self.request.user)

    @extend_schema(responses=TicketOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.filter_queryset(self.get_queryset()), TicketOutputSerializer)

    @extend_schema(request=TicketInputSerializer, responses={201: TicketOutputSerializer})
    def post(self, request):
        ser = TicketInputSerializer(data=request.data)
        # Only what the caller can see may be named: another school's private lab is "not found".
        ser.fields["resource"].queryset = selectors.resource_list_for(request.user)
        ser.fields["asset"].queryset = selectors.asset_list_for(request.user)
        ser.is_valid(raise_exception=True)
        ticket = services.ticket_report(actor=request.user, **ser.validated_data)
        return Response(TicketOutputSerializer(ticket).data, status=status.HTTP_201_CREATED)


class TicketDetailApi(APIView):
    @extend_schema(responses=TicketOutputSerializer)
    def get(self, request, pk):
        return Response(
            TicketOutputSerializer(object_or_404(selectors.ticket_list_for(request.user), pk=pk)).data
        )


class TicketResolveApi(APIView):
    @extend_schema(request=TicketResolveInputSerializer, responses=TicketOutputSerializer)
    def post(self, request, pk):
        ticket = object_or_404(selectors.ticket_list_for(request.user), pk=pk)
        ser = TicketResolveInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        ticket = services.ticket_resolve(
            actor=request.user, ticket=ticket, resolution=ser.validated_data["resolution"]
        )
        return Response(TicketOutputSerializer(ticket).data)


class TicketStartApi(APIView):
    @extend_schema(request=None, responses=TicketOutputSerializer)
    def post(self, request, pk):
        ticket = object_or_404(selectors.ticket_list_for(request.user), pk=pk)
        ticket = services.ticket_start(actor=request.user, ticket=ticket)
        return Response(TicketOutputSerializer(ticket).data)


def _parse_date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            {field: ValidationError(_("Enter a date as YYYY-MM-DD."), code="invalid")}
        ) from None
    # Like every query date of the API: date_to=9999-12-31 overflowed at the day after it.
    return check_date_range(day, field)


class TicketSlaApi(APIView):
    """24-hour repair compliance (source document 5.4) for tickets reported in a window."""

    permission_classes = [IsAuthenticated, IsAdminOrAnalyst]

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description=_("inclusive")),
            OpenApiParameter("school", OpenApiTypes.INT),
        ],
        responses=SlaOutputSerializer,
    )
    def get(self, request):
        qs = selectors.ticket_list_for(request.user)
        date_from = _parse_date(request.query_params.get("date_from"), "date_from")
        date_to = _parse_date(request.query_params.get("date_to"), "date_to")
        tz = timezone.get_current_timezone()
        if date_from:
            qs = qs.filter(reported_at__gte=dt.datetime.combine(date_from, dt.time(), tzinfo=tz))
        if date_to:
            qs = qs.filter(
                reported_at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=tz)
            )
        school = query_id(request.query_params.get("school"), "school", _("A school id is a number."))
        if school is not None:
            # No school has an id past 64 bits, and SQLite cannot compare one (OverflowError).
            qs = qs.filter(school_id=school) if school < 2**63 else qs.none()
        return Response(SlaOutputSerializer(selectors.sla_summary(qs)).data)
