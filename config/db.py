"""Small database helpers shared by the apps."""

from collections.abc import Collection

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a Django database error (None elsewhere)."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)


def id_in(field: str, ids: Collection[int]) -> Q:
    """`field IN ids`, as one array parameter on PostgreSQL for long lists: psycopg spends more
    time formatting thousands of placeholders than the server spends on the query."""
    ids = list(ids)
    if connection.vendor == "postgresql" and len(ids) > 100:
        return Q(**{f"{field}__in": RawSQL("SELECT unnest(%s::bigint[])", (ids,))})
    return Q(**{f"{field}__in": ids})
