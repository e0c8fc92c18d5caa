"""Events: names compare byte by byte on PostgreSQL (the "C" collation), and one index by
storefront instead of two.

Event names are the storefronts' identifiers (visit, cart_add): matched whole, never sorted
by language rules. Comparing them through the C library cost every event written; building
the (name, occurred_at) index of a first CSV load of 1M events took 1.15 s instead of
0.92 s (bench/import_csv.py). Only the collation changes: the table is not rewritten, the
index is rebuilt. SQLite compares text bytewise already.

The client-id constraint becomes whole instead of partial (NULL event ids stay distinct, so
events without one never collide): its index, led by the storefront, then serves lookups by
storefront alone (a storefront's deletion check), and the foreign key's own index on the
storefront goes. Every event written updates one index less; a first load of 1M events
builds one index less (0.18 s).
"""

import django.db.models.deletion
from django.db import migrations, models


def _collate(schema_editor, collation: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE customers_event ALTER COLUMN name TYPE varchar(64) COLLATE {collation}")


def bytewise(apps, schema_editor):
    _collate(schema_editor, '"C"')


def by_database_collation(apps, schema_editor):
    _collate(schema_editor, '"default"')


class Migration(migrations.Migration):
    dependencies = [("customers", "0016_month_day_date_part")]

    operations = [
        migrations.RemoveConstraint(model_name="event", name="event_unique_client_id"),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.UniqueConstraint(fields=("storefront", "event_id"),
                                               name="event_unique_client_id"),
        ),
        migrations.AlterField(
            model_name="event",
            name="storefront",
            field=models.ForeignKey(db_index=False,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name="events", to="customers.storefront"),
        ),
        migrations.RunPython(bytewise, by_database_collation, elidable=False),
    ]
