"""The city search reads each candidate's active blocks up to the window's end: a btree on
(resource, block_start) holding block_end, for the active statuses only, answers that by an
index-only scan, several times cheaper a probe than the exclusion constraint's GiST index
(docs/benchmarks.md, availability search). Active bookings leave that set soon after they end
(completed, no-show, expired), so the scan starts near now whatever the history. PostgreSQL only:
the search's SQL runs there alone."""

from django.db import migrations

from config.migration_ops import PostgreSQLOnlySQL

# The statuses as the exclusion constraint's predicate spells them (migration 0005): the search's
# statement repeats them literally, so the planner can match the partial index.
INDEX = """
    CREATE INDEX IF NOT EXISTS booking_active_block_idx ON booking_booking
    (resource_id, block_start) INCLUDE (block_end)
    WHERE status IN ('pending', 'approved', 'checked_in', 'held')
"""


class Migration(migrations.Migration):
    dependencies = [("booking", "0010_booking_event_at_index")]

    operations = [
        PostgreSQLOnlySQL(
            # an earlier draft of this migration made it on (resource, block_end)
            sql=["DROP INDEX IF EXISTS booking_active_block_end_idx", INDEX],
            reverse_sql=["DROP INDEX IF EXISTS booking_active_block_idx"],
        ),
    ]
