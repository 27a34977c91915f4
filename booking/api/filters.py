import django_filters

from booking.models import Booking, BookingStatus, Closure
from config.filters import IsoDateTimeFilter


class BookingFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BookingStatus.choices)
    start_after = IsoDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = IsoDateTimeFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = Booking
        fields = ["resource", "school", "status", "start_after", "start_before"]


class ClosureFilter(django_filters.FilterSet):
    scope = django_filters.ChoiceFilter(choices=Closure.Scope.choices)
    kind = django_filters.ChoiceFilter(choices=Closure.Kind.choices)
    active_on = django_filters.DateFilter(method="filter_active_on")

    class Meta:
        model = Closure
        fields = ["scope", "kind", "school", "resource", "active_on"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(start_date__lte=value, end_date__gte=value)
