"""The booking path's server-side prepared statements (config.db.fetch_prepared) on PostgreSQL:
they survive refused bookings, and a migration that changes a table under them does not turn into
errors. These tests need real commits (transaction=True): psycopg forgets its prepared statements
when a transaction rolls back."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from booking import services
from booking.models import Booking
from config.db import fetch_prepared
from tests.booking.conftest import local
from tests.factories import ResourceFactory

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
