import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from config.filters import StrictBooleanFilter
from schools.models import District, School, User


class DistrictFilter(django_filters.FilterSet):
    class Meta:
        model = District
        fields = ["code", "kind", "zone"]


class SchoolFilter(django_filters.FilterSet):
    is_county = StrictBooleanFilter(method="filter_is_county", label=_("county school"))
    search = django_filters.CharFilter(method="filter_search", label=_("search"), max_length=100)

    class Meta:
        model = School
        fields = ["district", "level", "is_county", "search"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def filter_is_county(self, queryset, name, value):
        kind = District.Kind.COUNTY if value else District.Kind.URBAN
        return queryset.filter(district__kind=kind)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(name_en__icontains=value) | Q(code__icontains=value)
        )


class UserFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label=_("search"), max_length=100)

    is_active = StrictBooleanFilter(field_name="is_active")

    class Meta:
        model = User
        fields = ["role", "school", "is_active", "search"]

    @extend_schema_field(OpenApiTypes.STR)
    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value) | Q(display_name__icontains=value) | Q(email__icontains=value)
        )
