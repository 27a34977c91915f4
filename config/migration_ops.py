"""Migration operations that run on one database vendor only."""

from django.db import migrations


class PostgreSQLOnlySQL(migrations.RunSQL):
    """RunSQL that is a no-op on other databases: PostgreSQL-only guarantees (exclusion
    constraints, btree_gist) must never reach SQLite, which has neither."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class NotOnPostgreSQL(migrations.SeparateDatabaseAndState):
    """Database operations for every vendor but PostgreSQL (the state is left to the caller): where
    PostgreSQL gets hand-written SQL, e.g. dropping an index instead of rebuilding a foreign key."""

    def __init__(self, operations):
        super().__init__(database_operations=operations, state_operations=[])

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
