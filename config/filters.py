import django_filters
from django.utils.translation import gettext_lazy as _

_TRUE = ("true", "True", "1")
_FALSE = ("false", "False", "0")


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """true/false/1/0 only: django-filter's own BooleanFilter silently ignores 'maybe'."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [(v, v) for v in (*_TRUE, *_FALSE)])
        kwargs.setdefault("coerce", lambda value: value in _TRUE)
        kwargs.setdefault("label", _("yes or no"))
        super().__init__(*args, **kwargs)
