import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from config.api import MAX_YEAR, MIN_YEAR

_TRUE = ("true", "True", "1")
_FALSE = ("false", "False", "0")


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """true/false/1/0 only: django-filter's own BooleanFilter silently ignores 'maybe'."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [(v, v) for v in (*_TRUE, *_FALSE)])
        kwargs.setdefault("coerce", lambda value: value in _TRUE)
        kwargs.setdefault("label", _("yes or no"))
        super().__init__(*args, **kwargs)


class _BoundedIsoDateTimeField(IsoDateTimeField):
    def validate(self, value):
        super().validate(value)
        if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValidationError(
                gettext("Give a date between %(first)s and %(last)s.")
                % {"first": f"{MIN_YEAR}-01-01", "last": f"{MAX_YEAR}-12-31"},
                code="out_of_range",
            )


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time between the years every query date of the API keeps to
    (config.api.check_date_range). Outside them SQLite's adapter, converting to UTC, overflowed
    (0001-01-01T00:00 in Asia/Shanghai, 9999-12-31T23:59-12:00): an OverflowError, a 500."""

    field_class = _BoundedIsoDateTimeField


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An id: a whole number a 64-bit integer column holds. SQLite cannot even compare a larger
    one with a foreign key column (OverflowError, a 500); django-filter's NumberFilter reads any
    decimal up to 1e50."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)

    def get_max_validator(self):
        return None
