"""Small shared pieces of the HTTP adapter layer."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework.request import Request


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
