"""The metrics table keeps a tenth of each page free instead of half (PostgreSQL only).

Half was left free (0002) while the nightly recompute rewrote every buyer's row; since recency
is no longer stored it rewrites the ~1.4% whose values moved, and a tenth of a page holds a
night's new versions on their page all the same. Half-empty pages made every read of the
table twice as long: 1M customers took 29,088 pages (227 MB) instead of 16,046 (125 MB),
read in full by each recompute's comparison and by the segments that read the metrics.

Only pages written from now on are filled to 90%: the table is not rewritten here (that
would lock it). `VACUUM FULL customers_customermetrics` packs an existing one at once.
"""

from django.db import migrations

METRICS_FILLFACTOR = 90


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE customers_customermetrics SET (fillfactor = {METRICS_FILLFACTOR})")


def back_to_half(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE customers_customermetrics SET (fillfactor = 50)")


class Migration(migrations.Migration):
    dependencies = [("customers", "0017_events_bytewise_names_one_storefront_index")]

    operations = [migrations.RunPython(set_fillfactor, back_to_half, elidable=False)]
