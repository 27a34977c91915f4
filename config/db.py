"""Small database helpers shared by the apps."""

import functools
import itertools
import re
import select
import time
import weakref
from collections.abc import Callable, Collection
from typing import NamedTuple

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Q
from django.db.models.expressions import RawSQL
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer


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
    cost more server CPU than running them (docs/benchmarks.md, booking service). The statements
    are prepared once per connection (`_Prepared`). Errors come out as Django's database errors.

    A stale prepared statement (STALE_PREPARED) is forgotten, so that its next use prepares it
    afresh: outside a transaction at once, on a new connection; inside one the error rolls the
    transaction back and the caller's retry (booking.services.with_retries) prepares it again."""
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


_DONE = {pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK}  # rows, or a statement without any
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
_names = itertools.count(1)


class _Statement(NamedTuple):
    query: bytes  # with $n placeholders
    names: tuple[str, ...] | None  # the parameters' names in $n order; None: positional
    formats: list  # text format for each parameter


@functools.cache
def _converted(sql: str) -> _Statement:
    """The statement as psycopg would convert it: %(name)s and %s to $n, %% to %."""
    names: list[str] = []
    count = 0

    def number(match) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            count += 1
            return f"${count}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    query = _PLACEHOLDER.sub(number, sql)
    if names and count:
        raise ValueError("a statement takes named or positional parameters, not both")
    return _Statement(
        query.encode(), tuple(names) if names else None, [PyFormat.TEXT] * (len(names) or count)
    )


class _Prepared:
    """One connection's prepared statements, sent through libpq directly.

    Through a psycopg cursor each execution cost ~50 us more of client CPU than the statement's
    round trip (the cursor, the query's conversion, the prepared-statement bookkeeping: measured on
    the booking's locking read, 122 against 73 us); a booking POST runs three such statements. And
    where a transaction has not started yet, its BEGIN goes with the statement in one libpq
    pipeline instead of a round trip of its own. Names are never reused: a stale statement is
    forgotten and prepared again under a new name (its old name is freed with the connection)."""

    _by_connection: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, raw):
        self.raw = raw
        self.names: dict[str, bytes] = {}
        self.transformer = Transformer(raw)

    @classmethod
    def of(cls, raw) -> "_Prepared":
        prepared = cls._by_connection.get(raw)
        if prepared is None:
            prepared = cls._by_connection[raw] = cls(raw)
        return prepared

    def run(self, sql: str, params) -> list[tuple]:
        raw, pgconn = self.raw, self.raw.pgconn
        statement = _converted(sql)
        values = [params[name] for name in statement.names] if statement.names else list(params)
        if len(values) != len(statement.formats):
            raise TypeError(f"the statement takes {len(statement.formats)} parameters, {len(values)} given")
        tx = self.transformer
        dumped = tx.dump_sequence(values, statement.formats)
        name = self.names.get(sql)
        begin = not raw.autocommit and pgconn.transaction_status == pq.TransactionStatus.IDLE
        with raw.lock:
            if not begin and name is not None:
                result = pgconn.exec_prepared(name, dumped)
                if result.status not in _DONE:
                    self._failed(sql, result)
            else:
                result = self._pipeline(sql, statement.query, name, dumped, begin)
            tx.set_pgresult(result)
            return tx.load_rows(0, result.ntuples, tuple)

    def _pipeline(self, sql: str, query: bytes, name: bytes | None, dumped, begin: bool):
        """BEGIN (if asked), PREPARE (if new) and the execution in one round trip."""
        pgconn = self.raw.pgconn
        fresh = name is None
        if fresh:
            name = f"edushare_{next(_names)}".encode()
        results = []
        pgconn.enter_pipeline_mode()
        try:
            if begin:
                # psycopg's own BEGIN, with the connection's isolation level and read-only flags
                pgconn.send_query_params(self.raw._get_tx_start_command(), None)
            if fresh:
                pgconn.send_prepare(name, query)
            pgconn.send_query_prepared(name, dumped)
            pgconn.pipeline_sync()
            # The connection is non-blocking (psycopg's), and libpq's PQgetResult would hold the
            # GIL while it blocks (a row lock can take long): wait on the socket in Python instead.
            while pgconn.flush():
                _wait(pgconn.socket, select.POLLOUT)
            while True:
                while pgconn.is_busy():
                    _wait(pgconn.socket, select.POLLIN)
                    pgconn.consume_input()
                result = pgconn.get_result()
                if result is None:
                    continue
                if result.status == pq.ExecStatus.PIPELINE_SYNC:
                    break
                results.append(result)
        finally:
            pgconn.exit_pipeline_mode()
        if len(results) < 1 + fresh + begin:
            raise psycopg.OperationalError("the server answered the pipeline with fewer results than asked")
        executed = results[-1]
        if fresh and results[-2].status == pq.ExecStatus.COMMAND_OK:
            self.names[sql] = name
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                self._failed(sql, result)
        if executed.status not in _DONE:
            self._failed(sql, executed)
        return executed

    def _failed(self, sql: str, result):
        error = psycopg.errors.error_from_result(result, encoding=self.raw.info.encoding)
        if error.sqlstate in STALE_PREPARED:
            self.names.pop(sql, None)
        raise error


def _wait(fileno: int, events: int) -> None:
    poll = select.poll()
    poll.register(fileno, events)
    poll.poll()


def _run_prepared(raw, sql: str, params) -> list[tuple]:
    return _Prepared.of(raw).run(sql, params)
