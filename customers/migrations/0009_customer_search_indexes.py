"""Indexes for the operator's customer search (customers.selectors.customer_search): prefix
matches on the external id and phone, and case-insensitive prefix matches on email and name.
PostgreSQL only, where LIKE 'x%' needs the pattern operator classes (the unique constraint's
index does not serve it); on SQLite the embedded databases are small."""

from django.db import migrations

INDEXES = {
    "customer_search_external_id": "(external_id varchar_pattern_ops)",
    "customer_search_phone": "(phone varchar_pattern_ops)",
    "customer_search_email": "(upper(email::text) text_pattern_ops)",
    "customer_search_name": "(upper(name::text) text_pattern_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON customers_customer {columns}")
    # Statistics of the new expressions: without them the planner guesses a prefix matches
    # thousands and walks the primary key backwards through every customer (2-3 s at 1M).
    schema_editor.execute("ANALYZE customers_customer")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0008_dashboard_figures")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
