"""The city search reads each candidate's active blocks from the window's start on: a btree on
(resource, block_end) holding block_start, for the active statuses only, answers that by an
index-only scan, several times cheaper a probe than the exclusion constraint's GiST index
(docs/benchmarks.md, availability search). PostgreSQL only: the search's SQL runs there alone."""

from django.db import migrations

from config.migration_ops import PostgreSQLOnlySQL

# The statuses as the exclusion constraint's predicate spells them (migration 0005): the search's
# statement repeats them literally, so the planner can match the partial index.
INDEX = """
    CREATE INDEX IF NOT EXISTS booking_active_block_end_idx ON booking_booking
    (resource_id, block_end) INCLUDE (block_start)
    WHERE status IN ('pending', 'approved', 'checked_in', 'held')
"""


class Migration(migrations.Migration):
    dependencies = [("booking", "0010_booking_event_at_index")]

    operations = [
        PostgreSQLOnlySQL(
            sql=[INDEX],
            reverse_sql=["DROP INDEX IF EXISTS booking_active_block_end_idx"],
        ),
    ]
