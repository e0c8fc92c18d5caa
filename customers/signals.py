"""What the customers app announces; apps above it (segments, campaigns) listen, so the
dependency keeps pointing one way."""

from django.dispatch import Signal

# Sent after the metrics of these customers were recomputed because their orders or events
# arrived. Argument: customer_ids (list[int]).
metrics_refreshed = Signal()

# Sent after a full metrics recompute (nightly). Argument: run_id (int).
metrics_recomputed = Signal()

# Sent once a storefront's orders or events for these customers have committed (not for CSV
# imports: a backfill is not news). Argument: customer_ids (list[int]). Campaigns start
# journeys and check goals on it.
activity_recorded = Signal()

# Sent after the value model scored every customer (predicted CLV, churn probability, value
# coefficient). Argument: fit_id (int).
predictions_scored = Signal()

# Sent inside the transaction that erased these customers' personal data (their rows stay,
# emptied): whatever the apps above keep about them goes in the same transaction.
# Argument: customer_ids (list[int]).
customer_erased = Signal()
