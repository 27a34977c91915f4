"""The exclusion constraint also covers 'held' (a slot held for a waitlisted teacher)."""

from django.db import migrations

from config.migration_ops import PostgreSQLOnlySQL

CONSTRAINT = """
    ALTER TABLE booking_booking ADD CONSTRAINT booking_no_overlap
    EXCLUDE USING gist (
        resource_id WITH =,
        tstzrange(block_start, block_end, '[)') WITH &&
    ) WHERE (status IN ({statuses}))
"""
OLD = "'pending', 'approved', 'checked_in'"
NEW = "'pending', 'approved', 'checked_in', 'held'"


class Migration(migrations.Migration):
    dependencies = [("booking", "0004_series_waitlist")]

    operations = [
        PostgreSQLOnlySQL(
            sql=[
                "ALTER TABLE booking_booking DROP CONSTRAINT IF EXISTS booking_no_overlap",
                CONSTRAINT.format(statuses=NEW),
            ],
            reverse_sql=[
                "ALTER TABLE booking_booking DROP CONSTRAINT IF EXISTS booking_no_overlap",
                CONSTRAINT.format(statuses=OLD),
            ],
        ),
    ]
