"""Mobile-kit rotation API: requests (school admins), plans (centre admins), handovers."""

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from booking.models import CustodyEvent, Handover, Placement, RotationPlan, RotationRequest
from booking.rotation import services
from config.api import object_or_404, paginate, query_id
from equipment.api.serializers import SlugRelatedField
from equipment.models import Asset, CatalogItem, Resource


class IsAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        u = request.user
        return bool(u and u.is_authenticated and (u.is_centre_admin or u.is_school_admin))


class IsCentre(BasePermission):
    def has_permission(self, request, view) -> bool:
        u = request.user
        return bool(u and u.is_authenticated and u.is_centre_admin)


class RequestSerializer(serializers.ModelSerializer):
    kit_type = SlugRelatedField(
        slug_field="code", queryset=CatalogItem.objects.all(), required=False, allow_null=True
    )
    kit = serializers.PrimaryKeyRelatedField(
        queryset=Resource.objects.filter(kind="mobile_kit"), required=False, allow_null=True
    )
    days = serializers.IntegerField(min_value=1, max_value=60)
    students = serializers.IntegerField(min_value=1, max_value=100_000)

    class Meta:
        model = RotationRequest
        fields = [
            "id",
            "school",
            "kit_type",
            "kit",
            "days",
            "earliest",
            "latest_end",
            "students",
            "reason",
            "status",
            "created_at",
        ]
        read_only_fields = ["id", "school", "status", "created_at"]


class PlacementSerializer(serializers.ModelSerializer):
    kit_name = serializers.CharField(source="kit.name", read_only=True)
    school_name = serializers.CharField(source="school.name", read_only=True)

    class Meta:
        model = Placement
        fields = [
            "id",
            "request",
            "kit",
            "kit_name",
            "school",
            "school_name",
            "start",
            "end",
            "adapter",
            "transit_in_days",
            "km_in",
            "pinned",
            "booking",
        ]


class PlanSerializer(serializers.ModelSerializer):
    kits = serializers.SerializerMethodField()
    requests = serializers.SerializerMethodField()

    class Meta:
        model = RotationPlan
        fields = [
            "id",
            "date_from",
            "date_to",
            "status",
            "solver",
            "solver_status",
            "objective",
            "bound",
            "gap",
            "travel_km",
            "seconds",
            "created_at",
            "applied_at",
            "kits",
            "requests",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_kits(self, plan) -> list[dict]:
        """Per kit: its timeline of schools."""
        out: dict[int, dict] = {}
        for x in plan.placements.select_related("kit", "school").order_by("kit_id", "start"):
            kit = out.setdefault(x.kit_id, {"kit": x.kit_id, "name": x.kit.name, "timeline": []})
            kit["timeline"].append(PlacementSerializer(x).data)
        return list(out.values())

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_requests(self, plan) -> list[dict]:
        """Per request of the window: served (by which placement) or why not."""
        served = {x.request_id: x.pk for x in plan.placements.all()}
        ids = set(served) | {int(k) for k in plan.unserved}
        return [
            {
                "request": rid,
                "served": rid in served,
                "placement": served.get(rid),
                "reason": None if rid in served else plan.unserved.get(str(rid)),
            }
            for rid in sorted(ids)
        ]


class PlanCreateSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    solver = serializers.ChoiceField(choices=["cp-sat", "greedy"], default="cp-sat")


class ReplanSerializer(serializers.Serializer):
    pin = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=1000
    )
    drop = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=1000
    )
    solver = serializers.ChoiceField(choices=["cp-sat", "greedy"], default="cp-sat")


class CheckItemSerializer(serializers.Serializer):
    asset = serializers.IntegerField()
    present = serializers.BooleanField(default=True)
    condition = serializers.ChoiceField(choices=Asset.Condition.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class ChecklistSerializer(serializers.Serializer):
    items = CheckItemSerializer(many=True, max_length=2000)


class OverrideSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class HandoverSerializer(serializers.ModelSerializer):
    start = serializers.DateField(source="placement.start", read_only=True)
    end = serializers.DateField(source="placement.end", read_only=True)
    checklist = serializers.SerializerMethodField()

    class Meta:
        model = Handover
        fields = [
            "id",
            "kit",
            "sequence",
            "from_school",
            "to_school",
            "start",
            "end",
            "status",
            "checked_out_at",
            "checked_in_at",
            "override_reason",
            "checklist",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_checklist(self, obj) -> list[dict]:
        """The kit's contents to tick, with what each check found so far."""
        checks = {(c.asset_id, c.stage): c for c in obj.checks.all()}
        rows = []
        # Prefetched by the list view (kit__kit_contents__catalog_item): no query per leg.
        for asset in sorted(obj.kit.kit_contents.all(), key=lambda a: a.tag):
            out, into = checks.get((asset.pk, "out")), checks.get((asset.pk, "in"))
            rows.append(
                {
                    "asset": asset.pk,
                    "tag": asset.tag,
                    "item": asset.catalog_item.name,
                    "out": {"present": out.present, "condition": out.condition} if out else None,
                    "in": {"present": into.present, "condition": into.condition, "ticket": into.ticket_id}
                    if into
                    else None,
                }
            )
        return rows


class CustodySerializer(serializers.ModelSerializer):
    class Meta:
        model = CustodyEvent
        fields = ["id", "kit", "asset", "school", "event", "at", "handover", "note"]


# --- views ----------------------------------------------------------------------------------


def _requests_for(user):
    qs = RotationRequest.objects.select_related("kit_type")
    return qs if user.is_centre_admin else qs.filter(school_id=user.school_id)


class RequestListCreateApi(generics.GenericAPIView):
    permission_classes = [IsAdmin]
    serializer_class = RequestSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RotationRequest.objects.none()
        return _requests_for(self.request.user)

    @extend_schema(responses=RequestSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.get_queryset(), RequestSerializer)

    @extend_schema(request=RequestSerializer, responses={201: RequestSerializer})
    def post(self, request):
        ser = RequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        created = services.request_create(actor=request.user, data=ser.validated_data)
        return Response(RequestSerializer(created).data, status=status.HTTP_201_CREATED)


class RequestDetailApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=RequestSerializer)
    def get(self, request, pk):
        return Response(RequestSerializer(object_or_404(_requests_for(request.user), pk=pk)).data)

    @extend_schema(responses=RequestSerializer)
    def delete(self, request, pk):
        obj = object_or_404(_requests_for(request.user), pk=pk)
        return Response(RequestSerializer(services.request_cancel(actor=request.user, request=obj)).data)


class PlanCreateApi(APIView):
    permission_classes = [IsCentre]

    @extend_schema(request=PlanCreateSerializer, responses={201: PlanSerializer})
    def post(self, request):
        ser = PlanCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        plan = services.plan_create(actor=request.user, **ser.validated_data)
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class PlanDetailApi(APIView):
    permission_classes = [IsCentre]

    @extend_schema(responses=PlanSerializer)
    def get(self, request, pk):
        return Response(PlanSerializer(object_or_404(RotationPlan.objects.all(), pk=pk)).data)


class PlanReplanApi(APIView):
    """Pin some placements, drop some requests, and plan again (a new proposal)."""

    permission_classes = [IsCentre]

    @extend_schema(request=ReplanSerializer, responses={201: PlanSerializer})
    def post(self, request, pk):
        plan = object_or_404(RotationPlan.objects.all(), pk=pk)
        ser = ReplanSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        new = services.plan_replan(
            actor=request.user, plan=plan, pin=data["pin"], drop=data["drop"], solver=data["solver"]
        )
        return Response(PlanSerializer(new).data, status=status.HTTP_201_CREATED)


class PlanApplyApi(APIView):
    """Book every placement (all or nothing); schools are told their dates."""

    permission_classes = [IsCentre]

    @extend_schema(request=None, responses=PlanSerializer)
    def post(self, request, pk):
        plan = object_or_404(RotationPlan.objects.all(), pk=pk)
        plan = services.plan_apply(actor=request.user, plan=plan)
        return Response(PlanSerializer(plan).data)


class HandoverListApi(generics.GenericAPIView):
    permission_classes = [IsAdmin]
    serializer_class = HandoverSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Handover.objects.none()
        return services.handovers_for(self.request.user).prefetch_related(
            "checks", "kit__kit_contents__catalog_item"
        )

    @extend_schema(responses=HandoverSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.get_queryset(), HandoverSerializer)


class _HandoverActionApi(APIView):
    permission_classes = [IsAdmin]

    def _get(self, request, pk):
        return object_or_404(services.handovers_for(request.user), pk=pk)


class _HandoverChecklistApi(_HandoverActionApi):
    step = None  # the service: handover_check_out or handover_check_in

    @extend_schema(request=ChecklistSerializer, responses=HandoverSerializer)
    def post(self, request, pk):
        ser = ChecklistSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        h = type(self).step(
            actor=request.user, handover=self._get(request, pk), items=ser.validated_data["items"]
        )
        return Response(HandoverSerializer(h).data)


class HandoverCheckOutApi(_HandoverChecklistApi):
    """The sending school checks the kit out, item by item."""

    step = staticmethod(services.handover_check_out)


class HandoverCheckInApi(_HandoverChecklistApi):
    """The receiving school checks the kit in; missing or broken items open tickets."""

    step = staticmethod(services.handover_check_in)


class HandoverOverrideApi(_HandoverActionApi):
    @extend_schema(request=OverrideSerializer, responses=HandoverSerializer)
    def post(self, request, pk):
        ser = OverrideSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        h = services.handover_override(
            actor=request.user, handover=self._get(request, pk), reason=ser.validated_data["reason"]
        )
        return Response(HandoverSerializer(h).data)


class CustodyApi(generics.GenericAPIView):
    """A kit's custody history (add ?asset= for one asset's)."""

    permission_classes = [IsAdmin]
    serializer_class = CustodySerializer

    def get_queryset(self):
        return CustodyEvent.objects.none()

    @extend_schema(
        responses=CustodySerializer(many=True),
        parameters=[OpenApiParameter("asset", int, description="only this asset's custody events")],
    )
    def get(self, request, pk):
        kit = object_or_404(Resource.objects.filter(kind="mobile_kit"), pk=pk)
        user = request.user
        qs = CustodyEvent.objects.filter(kit=kit).order_by("at", "pk")
        if not user.is_centre_admin:
            involved = Handover.objects.filter(kit=kit).filter(
                Q(from_school_id=user.school_id) | Q(to_school_id=user.school_id)
            )
            if kit.school_id != user.school_id and not involved.exists():
                raise ValidationError(_("This kit has not been at your school."), code="forbidden")
        asset = query_id(request.query_params.get("asset"), "asset")
        if asset is not None:
            # No asset has an id past 64 bits, and SQLite cannot compare one (OverflowError).
            qs = qs.filter(asset_id=asset) if asset < 2**63 else qs.none()
        return paginate(self, request, qs, CustodySerializer)
