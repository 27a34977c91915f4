"""No two opening ranges of one resource and weekday overlap: a PostgreSQL exclusion constraint.

The services and the admin already refuse overlapping ranges (equipment.rules.check_opening_hours);
this makes it a guarantee the SQL of the city search and of the usage metrics can rely on (they
subtract bookings from each range separately). PostgreSQL only, as booking's exclusion constraint:
SQLite has neither exclusion constraints nor range types. Times are placed on one fixed date to
make a range of them.
"""

from django.db import migrations

from config.migration_ops import PostgreSQLOnlySQL


class Migration(migrations.Migration):
    dependencies = [("equipment", "0002_resource_county_advance_days")]

    operations = [
        PostgreSQLOnlySQL(
            sql=[
                "CREATE EXTENSION IF NOT EXISTS btree_gist",
                """
                ALTER TABLE equipment_openinghours ADD CONSTRAINT opening_hours_no_overlap
                EXCLUDE USING gist (
                    resource_id WITH =,
                    weekday WITH =,
                    tsrange(DATE '2000-01-03' + "start", DATE '2000-01-03' + "end", '[)') WITH &&
                )
                """,
            ],
            reverse_sql=[
                "ALTER TABLE equipment_openinghours DROP CONSTRAINT IF EXISTS opening_hours_no_overlap"
            ],
        ),
    ]
