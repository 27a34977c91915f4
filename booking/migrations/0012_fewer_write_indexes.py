"""Three index entries fewer per booking and two per notification: the single-column indexes of
booking.resource, .school and .booked_by and of notification.recipient duplicate the composite
indexes that lead with the same column, and notification.dedupe_key's unique=True also made a LIKE
index nothing queries (its uniqueness is now a named constraint).

On PostgreSQL only the indexes go and the unique constraint is renamed: Django's own operations
would drop and re-add each foreign key, re-checking every row of the bookings table under an
exclusive lock. Other databases (the embedded SQLite) run Django's operations."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.migration_ops import NotOnPostgreSQL, PostgreSQLOnlySQL

DROPPED = {  # index: the column it was on
    "booking_booking_booked_by_id_ee5f03d4": ("booking_booking", "booked_by_id"),
    "booking_booking_resource_id_e01c6ee0": ("booking_booking", "resource_id"),
    "booking_booking_school_id_891b01aa": ("booking_booking", "school_id"),
    "booking_notification_recipient_id_57fe7c4e": ("booking_notification", "recipient_id"),
}
FORWARD = [f"DROP INDEX IF EXISTS {name}" for name in DROPPED] + [
    "DROP INDEX IF EXISTS booking_notification_dedupe_key_14d626f8_like",
    "ALTER TABLE booking_notification RENAME CONSTRAINT booking_notification_dedupe_key_key"
    " TO notif_dedupe_key_unique",
]
BACKWARD = [
    f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})" for name, (table, column) in DROPPED.items()
] + [
    "ALTER TABLE booking_notification RENAME CONSTRAINT notif_dedupe_key_unique"
    " TO booking_notification_dedupe_key_key",
    "CREATE INDEX IF NOT EXISTS booking_notification_dedupe_key_14d626f8_like"
    " ON booking_notification (dedupe_key varchar_pattern_ops)",
]

STATE = [
    migrations.AlterField(
        model_name="booking",
        name="booked_by",
        field=models.ForeignKey(
            db_index=False,
            on_delete=django.db.models.deletion.PROTECT,
            related_name="bookings",
            to=settings.AUTH_USER_MODEL,
            verbose_name="booked by",
        ),
    ),
    migrations.AlterField(
        model_name="booking",
        name="resource",
        field=models.ForeignKey(
            db_index=False,
            on_delete=django.db.models.deletion.PROTECT,
            related_name="bookings",
            to="equipment.resource",
            verbose_name="resource",
        ),
    ),
    migrations.AlterField(
        model_name="booking",
        name="school",
        field=models.ForeignKey(
            db_index=False,
            on_delete=django.db.models.deletion.PROTECT,
            related_name="bookings",
            to="schools.school",
            verbose_name="requesting school",
        ),
    ),
    migrations.AlterField(
        model_name="notification",
        name="dedupe_key",
        field=models.CharField(max_length=255, verbose_name="event key"),
    ),
    migrations.AlterField(
        model_name="notification",
        name="recipient",
        field=models.ForeignKey(
            db_index=False,
            on_delete=django.db.models.deletion.CASCADE,
            related_name="notifications",
            to=settings.AUTH_USER_MODEL,
            verbose_name="recipient",
        ),
    ),
    migrations.AddConstraint(
        model_name="notification",
        constraint=models.UniqueConstraint(fields=("dedupe_key",), name="notif_dedupe_key_unique"),
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0011_search_active_block_index"),
        ("equipment", "0003_openinghours_no_overlap"),
        ("schools", "0002_qualification_teacherqualification"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=STATE,
            database_operations=[
                PostgreSQLOnlySQL(sql=FORWARD, reverse_sql=BACKWARD),
                NotOnPostgreSQL(STATE),
            ],
        ),
    ]
