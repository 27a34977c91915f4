"""Small shared pieces of the HTTP adapter layer."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework.request import Request

# Query dates outside these years answer 400: nothing is booked or measured there, and day-by-day
# code would otherwise walk (or overflow at) year 9999.
MIN_YEAR, MAX_YEAR = 2000, 2100


def check_date_range(day: dt.date, field: str) -> dt.date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValidationError(
            {
                field: ValidationError(
                    _("Give a date between %(first)s and %(last)s.")
                    % {"first": f"{MIN_YEAR}-01-01", "last": f"{MAX_YEAR}-12-31"},
                    code="out_of_range",
                )
            }
        )
    return day


def query_id(value, field: str, message: str | None = None) -> int | None:
    """A query parameter holding an id: None when absent, its int when ASCII digits, else 400 naming
    `field`. ASCII only: "²" and "١٢" are digits to str.isdigit(), and int() refuses the first. The
    int may exceed 64 bits: each caller says what such an id means (no row has one)."""
    if value in (None, ""):
        return None
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise ValidationError({field: ValidationError(message or _("Give a numeric id."), code="invalid")})
    return int(text)


def object_or_404(queryset, **lookup):
    """get_object_or_404 that also answers 404 for malformed ids (e.g. /schools/abc/)."""
    try:
        return get_object_or_404(queryset, **lookup)
    except (TypeError, ValueError, OverflowError):
        raise Http404 from None


def paginate(view, request: Request, queryset, serializer_class, **context):
    page = view.paginate_queryset(queryset)
    ctx = {"request": request, **context}
    if page is not None:
        return view.get_paginated_response(serializer_class(page, many=True, context=ctx).data)
    from rest_framework.response import Response

    return Response(serializer_class(queryset, many=True, context=ctx).data)
