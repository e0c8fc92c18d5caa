from django.db import migrations, models

# - CustomerMetrics.recency_days is derived from last_order_at (a model property) instead of
#   stored: it moved every day for every buyer, so the nightly recompute rewrote ~700,000 rows
#   of 1M customers to keep it current.
# - The orders' (customer, placed_at) index becomes a covering one for the metrics aggregate
#   (INCLUDE is PostgreSQL-only; elsewhere it is the same plain index under a new name).
#   Building it on a large orders table blocks order writes for the duration of the build
#   (8.5 s for 10M orders in bench/metrics.py).


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_metrics_run_counts'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='order',
            name='customers_o_custome_766d9f_idx',
        ),
        migrations.RemoveField(
            model_name='customermetrics',
            name='recency_days',
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['customer', 'placed_at'], include=('status', 'amount', 'refunded_amount'), name='order_customer_placed_cover'),
        ),
    ]
