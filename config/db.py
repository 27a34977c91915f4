"""Small database helpers shared by the apps."""

import functools
import time
from collections.abc import Callable, Collection

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
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


def model_columns(model, table_alias: str, alias: str = DEFAULT_DB_ALIAS) -> str:
    """The model's concrete columns for a hand-written SELECT, in the order model_loader reads them."""
    quote = connections[alias].ops.quote_name
    return ", ".join(f"{table_alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def model_loader(model, alias: str = DEFAULT_DB_ALIAS) -> tuple[int, Callable]:
    """(how many columns, a function of those values -> the instance) for model_columns' part of a
    row: the backend's and the fields' converters applied as the ORM's compiler applies them, then
    `from_db`. For hand-written statements that read several models at once (one round trip)."""
    connection = connections[alias]
    fields = model._meta.concrete_fields
    attnames = [f.attname for f in fields]
    converters = []
    for i, field in enumerate(fields):
        col = field.get_col(model._meta.db_table)
        funcs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if funcs:
            converters.append((i, col, funcs))

    def load(values):
        values = list(values)
        if converters:
            current = connections[alias]  # this thread's connection, as the compiler passes it
            for i, expression, funcs in converters:
                for func in funcs:
                    values[i] = func(values[i], expression, current)
        return model.from_db(alias, attnames, values)

    return len(fields), load


# A prepared statement that no longer fits its tables (a migration changed a column under it:
# "cached plan must not change result type"), or one the server no longer has.
STALE_PREPARED = {"0A000", "26000"}


def fetch_prepared(sql: str, params) -> list[tuple]:
    """Run a statement as a server-side prepared statement on Django's PostgreSQL connection,
    inside its current transaction, and return the rows. Django binds parameters client-side, so
    PostgreSQL parses and plans every statement again; for the booking path's statements that
    cost more server CPU than running them (docs/benchmarks.md, booking service). psycopg keeps
    the prepared statements per connection. Errors come out as Django's database errors.

    A stale prepared statement (STALE_PREPARED) outside a transaction closes the connection and
    runs once more on a new one; inside a transaction the error rolls it back, which makes
    psycopg forget its prepared statements, and the caller's retry (booking.services.with_retries)
    prepares afresh."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy is a lookup
    # What Django's own cursor() checks first: a connection that failed its health check is
    # replaced, a broken transaction or a connection shared across threads is refused.
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_no_broken_transaction()
    db.validate_thread_sharing()
    started = time.monotonic()
    try:
        rows = _run_prepared(db.connection, sql, params)
    except psycopg.Error as exc:
        if exc.sqlstate not in STALE_PREPARED or db.in_atomic_block or not db.get_autocommit():
            with db.wrap_database_errors:
                raise
        db.close()
        db.ensure_connection()
        with db.wrap_database_errors:
            rows = _run_prepared(db.connection, sql, params)
    if db.queries_logged:  # shown by CaptureQueriesContext and the debug toolbar like any query
        db.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def _run_prepared(raw, sql: str, params) -> list[tuple]:
    # Django keeps psycopg's preparing off (its cursors bind client-side and never prepare):
    # allowed for this one statement only, so no other query lands in psycopg's cache.
    raw.prepare_threshold = 2**31 - 1
    try:
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall()
    finally:
        raw.prepare_threshold = None
