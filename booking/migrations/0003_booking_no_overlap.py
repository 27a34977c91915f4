"""No two active bookings of one resource overlap: a PostgreSQL exclusion constraint.

It is declared here, over the two plain datetime columns, and not in Meta.constraints: SQLite
has neither exclusion constraints nor range types, and must never see it (there the booking
service's IMMEDIATE transaction does the job). The status list is ACTIVE_STATUSES in models.
"""

from django.db import migrations

from config.migration_ops import PostgreSQLOnlySQL


class Migration(migrations.Migration):
    dependencies = [("booking", "0002_bookings")]

    operations = [
        PostgreSQLOnlySQL(
            sql=[
                "CREATE EXTENSION IF NOT EXISTS btree_gist",
                """
                ALTER TABLE booking_booking ADD CONSTRAINT booking_no_overlap
                EXCLUDE USING gist (
                    resource_id WITH =,
                    tstzrange(block_start, block_end, '[)') WITH &&
                ) WHERE (status IN ('pending', 'approved', 'checked_in'))
                """,
            ],
            reverse_sql=["ALTER TABLE booking_booking DROP CONSTRAINT IF EXISTS booking_no_overlap"],
        ),
    ]
