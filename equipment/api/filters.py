import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from config.filters import IdFilter, IsoDateTimeFilter, StrictBooleanFilter
from equipment.models import Asset, CatalogItem, MaintenanceTicket, Resource, Subject
from schools.models import District


class ResourceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Resource.Kind.choices)
    subject = django_filters.ChoiceFilter(choices=Subject.choices)
    status = django_filters.ChoiceFilter(choices=Resource.Status.choices)
    district = IdFilter(field_name="school__district_id", label=_("district"))
    is_county = StrictBooleanFilter(method="filter_is_county", label=_("county school"))
    shared = StrictBooleanFilter(field_name="shared")
    capacity_min = django_filters.NumberFilter(
        field_name="capacity", lookup_expr="gte", label=_("capacity at least")
    )
    search = django_filters.CharFilter(method="filter_search", max_length=100, label=_("search"))

    class Meta:
        model = Resource
        fields = ["kind", "subject", "school", "district", "is_county", "shared", "capacity_min", "status"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def filter_is_county(self, queryset, name, value):
        return queryset.filter(school__district__kind=District.Kind.COUNTY if value else District.Kind.URBAN)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(school__name__icontains=value) | Q(building__icontains=value)
        )


class CatalogFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=CatalogItem.Category.choices)
    search = django_filters.CharFilter(method="filter_search", max_length=100, label=_("search"))
    interface = django_filters.CharFilter(
        field_name="requires__code", max_length=40, label=_("requires interface")
    )

    class Meta:
        model = CatalogItem
        fields = ["category", "interface"]

    @extend_schema_field(OpenApiTypes.STR)
    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(code__icontains=value) | Q(name__icontains=value) | Q(name_en__icontains=value)
        )


class AssetFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Asset.Status.choices)
    condition = django_filters.ChoiceFilter(choices=Asset.Condition.choices)
    catalog_item = django_filters.CharFilter(field_name="catalog_item__code", max_length=20)
    category = django_filters.ChoiceFilter(
        field_name="catalog_item__category", choices=CatalogItem.Category.choices
    )
    resource = IdFilter(field_name="space_id")
    kit = IdFilter(field_name="kit_id")
    in_store = StrictBooleanFilter(method="filter_in_store", label=_("in the store"))
    search = django_filters.CharFilter(method="filter_search", max_length=100, label=_("search"))

    class Meta:
        model = Asset
        fields = ["school", "status", "condition", "catalog_item", "category", "resource", "kit"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def filter_in_store(self, queryset, name, value):
        store = Q(space__isnull=True, kit__isnull=True)
        return queryset.filter(store) if value else queryset.exclude(store)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(tag__icontains=value)
            | Q(serial_number__icontains=value)
            | Q(catalog_item__name__icontains=value)
        )


class TicketFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=MaintenanceTicket.Status.choices)
    severity = django_filters.ChoiceFilter(choices=MaintenanceTicket.Severity.choices)
    overdue = StrictBooleanFilter(method="filter_overdue", label=_("overdue"))
    reported_after = IsoDateTimeFilter(field_name="reported_at", lookup_expr="gte")
    reported_before = IsoDateTimeFilter(field_name="reported_at", lookup_expr="lt")

    class Meta:
        model = MaintenanceTicket
        fields = ["status", "severity", "school", "resource", "asset", "overdue"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def filter_overdue(self, queryset, name, value):
        overdue = Q(due_at__lt=timezone.now()) & ~Q(status=MaintenanceTicket.Status.RESOLVED)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
