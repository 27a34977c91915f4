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


def fetch_prepared(sql: str, params) -> list[tuple]:
    """Run a statement as a server-side prepared statement on Django's PostgreSQL connection,
    inside its current transaction, and return the rows. Django binds parameters client-side, so
    PostgreSQL parses and plans every statement again; for the booking path's two statements that
    cost more server CPU than running them (docs/benchmarks.md, booking service). psycopg keeps
    the prepared statements per connection. Errors come out as Django's database errors."""
    import time

    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's preparing off (its cursors bind client-side and never prepare);
        # this lets explicit prepare=True work, and nothing else gets prepared automatically.
        raw.prepare_threshold = 2**31 - 1
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall()
    if connection.queries_logged:  # shown by CaptureQueriesContext and the debug toolbar like any query
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows
