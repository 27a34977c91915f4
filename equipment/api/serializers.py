from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from equipment.models import Asset, CatalogItem, Interface, MaintenanceTicket, OpeningHours, Resource
from schools.models import Qualification

HHMM = {"format": "%H:%M", "input_formats": ["%H:%M", "%H:%M:%S"]}


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, refusing a NUL character before it asks the database: PostgreSQL
    cannot even compare a text with one (a DataError, a 500), and no code holds one."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError(
                ProhibitNullCharactersValidator.message, code=ProhibitNullCharactersValidator.code
            )
        return super().to_internal_value(data)


class OpeningHoursSerializer(serializers.ModelSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text=_("Monday = 0"))
    start = serializers.TimeField(**HHMM)
    end = serializers.TimeField(**HHMM)

    class Meta:
        model = OpeningHours
        fields = ["weekday", "start", "end"]

    def validate(self, attrs):
        # A PATCH of a resource is partial, and DRF carries that into this list, letting {} through
        # (KeyError, a 500): the new hours replace the old, so each range needs all three fields.
        missing = [name for name in self.Meta.fields if name not in attrs]
        if missing:
            raise serializers.ValidationError(
                {name: [self.fields[name].error_messages["required"]] for name in missing}, code="required"
            )
        return attrs


class InterfaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interface
        fields = ["code", "kind", "name", "name_en"]


class ResourceOutputSerializer(serializers.ModelSerializer):
    opening_hours = OpeningHoursSerializer(many=True, read_only=True)
    provides = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    required_qualification = serializers.SlugRelatedField(slug_field="code", read_only=True)
    kit_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    school_name = serializers.CharField(source="school.name", read_only=True)
    district = serializers.IntegerField(source="school.district_id", read_only=True)
    is_county = serializers.SerializerMethodField()

    class Meta:
        model = Resource
        fields = [
            "id", "name", "kind", "subject", "school", "school_name", "district", "is_county", "capacity",
            "shared", "requires_approval", "status", "opening_hours", "min_notice_hours", "max_advance_days",
            "min_minutes", "max_minutes", "building", "room", "description", "required_qualification",
            "provides", "kit_type", "transit_buffer_minutes",
        ]  # fmt: skip

    @extend_schema_field(serializers.BooleanField())
    def get_is_county(self, obj: Resource) -> bool:
        return obj.school.district.kind == "county"


class ResourceInputSerializer(serializers.ModelSerializer):
    opening_hours = OpeningHoursSerializer(many=True, required=False)
    provides = serializers.ListField(
        child=serializers.SlugField(max_length=40),
        required=False,
        max_length=100,
        help_text=_("interface codes"),
    )
    required_qualification = SlugRelatedField(
        slug_field="code", queryset=Qualification.objects.all(), required=False, allow_null=True
    )
    kit_type = SlugRelatedField(
        slug_field="code",
        queryset=CatalogItem.objects.filter(category="kit"),
        required=False,
        allow_null=True,
    )
    capacity = serializers.IntegerField(min_value=1, max_value=5000)

    class Meta:
        model = Resource
        fields = [
            "name", "kind", "subject", "school", "capacity", "shared", "requires_approval", "status",
            "opening_hours", "min_notice_hours", "max_advance_days", "min_minutes", "max_minutes", "building",
            "room", "description", "required_qualification", "provides", "kit_type", "transit_buffer_minutes",
        ]  # fmt: skip
        validators = []  # uniqueness is the service's full_clean() and the database's job
        extra_kwargs = {"school": {"required": False}}


class CatalogItemSerializer(serializers.ModelSerializer):
    interfaces = InterfaceSerializer(source="requires", many=True, read_only=True)
    adapter_from = serializers.SlugRelatedField(slug_field="code", read_only=True)
    adapter_to = serializers.SlugRelatedField(slug_field="code", read_only=True)
    contents = serializers.SerializerMethodField()

    class Meta:
        model = CatalogItem
        fields = [
            "code", "name", "name_en", "category", "interfaces", "adapter_from", "adapter_to",
            "unit_value_cny", "contents",
        ]  # fmt: skip

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_contents(self, obj: CatalogItem) -> list[dict]:
        if obj.category != CatalogItem.Category.KIT:
            return []
        return [{"item": c.item.code, "quantity": c.quantity} for c in obj.contents.select_related("item")]


class AssetOutputSerializer(serializers.ModelSerializer):
    catalog_item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    resource = serializers.PrimaryKeyRelatedField(source="space", read_only=True)

    class Meta:
        model = Asset
        fields = [
            "id", "tag", "catalog_item", "school", "resource", "kit", "status", "condition", "serial_number",
            "purchase_date", "value_cny", "notes",
        ]  # fmt: skip


class AssetInputSerializer(serializers.ModelSerializer):
    catalog_item = SlugRelatedField(slug_field="code", queryset=CatalogItem.objects.all())
    resource = serializers.PrimaryKeyRelatedField(
        source="space", queryset=Resource.objects.exclude(kind="mobile_kit"), required=False, allow_null=True
    )
    kit = serializers.PrimaryKeyRelatedField(
        queryset=Resource.objects.filter(kind="mobile_kit"), required=False, allow_null=True
    )
    value_cny = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)

    class Meta:
        model = Asset
        fields = [
            "tag", "catalog_item", "school", "resource", "kit", "status", "condition", "serial_number",
            "purchase_date", "value_cny", "notes",
        ]  # fmt: skip
        validators = []
        extra_kwargs = {"school": {"required": False}, "tag": {"validators": []}}


class TicketOutputSerializer(serializers.ModelSerializer):
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)

    class Meta:
        model = MaintenanceTicket
        fields = [
            "id", "resource", "asset", "school", "severity", "status", "description", "takes_out_of_service",
            "reported_by", "reported_at", "due_at", "overdue", "resolved_by", "resolved_at", "resolution",
        ]  # fmt: skip


class TicketInputSerializer(serializers.Serializer):
    resource = serializers.PrimaryKeyRelatedField(
        queryset=Resource.objects.all(), required=False, allow_null=True
    )
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all(), required=False, allow_null=True)
    severity = serializers.ChoiceField(choices=MaintenanceTicket.Severity.choices, default="medium")
    description = serializers.CharField(max_length=2000)
    takes_out_of_service = serializers.BooleanField(default=False)

    def validate(self, attrs):
        if bool(attrs.get("resource")) == bool(attrs.get("asset")):
            raise serializers.ValidationError(
                _("Report a fault on exactly one resource or one asset."), code="invalid"
            )
        return attrs


class TicketResolveInputSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class CompatibilityOutputSerializer(serializers.Serializer):
    item = serializers.CharField()
    space = serializers.IntegerField()
    compatible = serializers.BooleanField()
    compatible_with_adapters = serializers.BooleanField()
    missing = serializers.ListField(child=serializers.CharField())
    adapters = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    unbridgeable = serializers.ListField(child=serializers.CharField())


class SlaOutputSerializer(serializers.Serializer):
    reported = serializers.IntegerField()
    resolved = serializers.IntegerField()
    resolved_within_24h = serializers.IntegerField()
    open_overdue = serializers.IntegerField()
    compliance = serializers.FloatField(allow_null=True)


class QualificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Qualification
        fields = ["code", "name", "name_en", "validity_months"]
