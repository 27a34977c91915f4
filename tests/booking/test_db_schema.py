"""The booking tables' indexes as migration 0012 leaves them: no single-column index that a
composite one leading with the same column already serves, the notification's event key still
unique, every foreign key still enforced. Checked by introspection on whichever database runs."""

import pytest
from django.db import IntegrityError, connection, transaction

from booking.models import Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def constraints(table: str) -> dict:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def index_columns(table: str) -> list[list[str]]:
    return [c["columns"] for c in constraints(table).values() if c["index"] and not c["primary_key"]]


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("booking_booking", "resource_id"),
        ("booking_booking", "school_id"),
        ("booking_booking", "booked_by_id"),
        ("booking_notification", "recipient_id"),
    ],
)
def test_a_composite_index_serves_the_column_and_no_single_column_twin_is_written(table, column):
    columns = index_columns(table)
    assert [column] not in columns
    assert any(len(c) > 1 and c[0] == column for c in columns)


def test_the_foreign_keys_are_still_enforced():
    fks = {
        tuple(c["columns"]): c["foreign_key"]
        for c in constraints("booking_booking").values()
        if c["foreign_key"]
    }
    assert fks[("resource_id",)][0] == "equipment_resource"
    assert fks[("school_id",)][0] == "schools_school"
    assert fks[("booked_by_id",)][0] == "schools_user"
    recipient = [c for c in constraints("booking_notification").values() if c["columns"] == ["recipient_id"]]
    assert any(c["foreign_key"] for c in recipient)


def test_the_event_key_is_unique_by_its_named_constraint_and_has_no_like_index():
    found = constraints("booking_notification")
    assert found["notif_dedupe_key_unique"]["unique"]
    assert found["notif_dedupe_key_unique"]["columns"] == ["dedupe_key"]
    # the unique constraint's own index only: no second (LIKE) index
    on_the_key = [name for name, c in found.items() if c["columns"] == ["dedupe_key"]]
    assert on_the_key == ["notif_dedupe_key_unique"]


def test_the_same_event_key_twice_is_refused_by_the_database():
    user = UserFactory()
    row = {"recipient": user, "kind": "booking_confirmed", "language": "zh-hans", "subject": "s", "body": "b"}
    Notification.objects.create(dedupe_key="k-1", **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.bulk_create([Notification(dedupe_key="k-1", **row)])
    assert Notification.objects.filter(dedupe_key="k-1").count() == 1
