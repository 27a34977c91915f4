"""The booking path's server-side prepared statements (config.db.fetch_prepared) on PostgreSQL:
they survive refused bookings, a migration that changes a table under them does not turn into
errors, and the libpq path behind them keeps transactions, errors and threads as a psycopg cursor
would. These tests need real commits (transaction=True)."""

import threading
import time

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, connection, connections, transaction
from psycopg import pq

from booking import services
from booking.models import Booking
from config.db import fetch_prepared
from tests.booking.conftest import local
from tests.factories import DistrictFactory, ResourceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def book(actor, resource, day, h0, h1):
    return services.booking_create(
        actor=actor, resource=resource, start=local(day, h0), end=local(day, h1), class_size=20
    )


def test_a_refused_booking_keeps_the_prepared_statements(county_teacher, urban_teacher, urban_school, day):
    lab = ResourceFactory(school=urban_school, shared=True)
    book(county_teacher, lab, day, 9, 10)
    names = prepared()
    assert len(names) >= 2  # the locking read and the INSERT
    with pytest.raises(ValidationError) as exc:
        book(urban_teacher, lab, day, 9, 11)  # a committed overlap
    assert exc.value.code == "conflict"
    with pytest.raises(ValidationError):
        book(urban_teacher, lab, day, 3, 4)  # before opening: a rule
    assert prepared() == names
    book(urban_teacher, lab, day, 10, 11)
    assert prepared() == names
    assert Booking.objects.count() == 2


def test_a_column_changed_under_the_prepared_statements_costs_one_retry(county_teacher, urban_school, day):
    lab = ResourceFactory(school=urban_school, shared=True)
    book(county_teacher, lab, day, 9, 10)
    with connection.cursor() as cursor:  # what a migration widening a column does
        cursor.execute("ALTER TABLE equipment_resource ALTER COLUMN name TYPE varchar(201)")
    try:
        booking = book(county_teacher, lab, day, 10, 11)  # "cached plan must not change result type", retried
        assert booking.pk
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE equipment_resource ALTER COLUMN name TYPE varchar(200)")


def test_outside_a_transaction_a_stale_statement_runs_again_on_a_new_connection():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (id int PRIMARY KEY, label varchar(10))")
        cursor.execute("INSERT INTO prepared_probe VALUES (1, 'a')")
    try:
        sql = "SELECT id, label FROM prepared_probe WHERE id = %s"
        assert fetch_prepared(sql, [1]) == [(1, "a")]
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE prepared_probe ALTER COLUMN label TYPE text")
        assert fetch_prepared(sql, [1]) == [(1, "a")]
        assert fetch_prepared(sql, [1]) == [(1, "a")]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE prepared_probe")


def test_parameters_named_repeated_positional_and_a_literal_percent():
    assert fetch_prepared("SELECT %(a)s::int + %(b)s::int, %(a)s::int, '100%%'", {"a": 2, "b": 3}) == [
        (5, 2, "100%")
    ]
    assert fetch_prepared("SELECT %s::text, %s::date IS NULL", ["汉字", None]) == [("汉字", True)]
    with pytest.raises(TypeError):
        fetch_prepared("SELECT %s::int, %s::int", [1])


def test_a_statement_without_rows_returns_none():
    assert fetch_prepared("UPDATE schools_district SET name = name WHERE false", []) == []


def test_inside_a_transaction_the_first_statement_begins_it_and_a_rollback_undoes_it():
    district = DistrictFactory()
    sql = "UPDATE schools_district SET name = %s WHERE id = %s RETURNING name"
    with transaction.atomic():
        assert fetch_prepared(sql, ["renamed", district.pk]) == [("renamed",)]
        assert connection.connection.pgconn.transaction_status == pq.TransactionStatus.INTRANS
        transaction.set_rollback(True)
    district.refresh_from_db()
    assert district.name != "renamed"
    with pytest.raises(DataError) as exc, transaction.atomic():
        fetch_prepared("SELECT 1 / %s::int", [0])
    assert exc.value.__cause__.sqlstate == "22012"
    assert fetch_prepared(sql, ["kept", district.pk]) == [("kept",)]  # autocommit: committed
    district.refresh_from_db()
    assert district.name == "kept"


def test_waiting_for_a_row_lock_does_not_hold_the_gil():
    """The statement that waits for a lock lets the lock's holder (here the main thread) run: libpq's
    PQgetResult would block with the GIL held, and the holder could never commit (a deadlock that
    the lock_timeout below turns into a failure)."""
    district = DistrictFactory()
    wanted = ("dbname", "user", "password", "host", "port")
    holder = psycopg.connect(**{k: v for k, v in connection.get_connection_params().items() if k in wanted})
    got: list = []

    def waiter():
        try:
            with transaction.atomic():
                fetch_prepared("SELECT set_config('lock_timeout', '5s', true)", [])
                got.append(
                    fetch_prepared("SELECT id FROM schools_district WHERE id = %s FOR UPDATE", [district.pk])
                )
        except Exception as exc:  # the assertion below reports it
            got.append(exc)
        finally:
            connections.close_all()

    try:
        holder.execute("SELECT 1 FROM schools_district WHERE id = %s FOR UPDATE", [district.pk])
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.3)  # the waiter is now blocked on the row lock
        holder.commit()  # needs the GIL
        thread.join(10)
    finally:
        holder.close()
    assert got == [[(district.pk,)]]
