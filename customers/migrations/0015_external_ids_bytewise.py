"""External ids of customers and orders compare byte by byte on PostgreSQL (the "C"
collation), whatever the database's collation.

They are the brands' own keys: nobody sorts them by language rules, and comparing them
through the C library cost every ingest and every lookup. Their unique indexes now also serve
prefix matches (LIKE 'x%' needs a bytewise index), so the customer search's own external-id
index (migration 0009) goes: one index less for every customer written, and a first CSV load
of 200,000 customers builds its key index in ~50 ms instead of two in ~150 ms
(bench/import_csv.py). Only the collation changes: the tables are not rewritten, the two
unique indexes are rebuilt. SQLite compares text bytewise already.
"""

from django.db import migrations

COLUMNS = {"customers_customer": "external_id", "customers_order": "external_id"}
SEARCH_INDEX = "customer_search_external_id"


def _collate(schema_editor, collation: str) -> None:
    for table, column in COLUMNS.items():
        schema_editor.execute(
            f"ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(128) COLLATE {collation}")


def bytewise(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
    _collate(schema_editor, '"C"')


def by_database_collation(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _collate(schema_editor, '"default"')
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} "
                          "ON customers_customer (external_id varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [("customers", "0014_customer_activity")]

    operations = [migrations.RunPython(bytewise, by_database_collation, elidable=False)]
