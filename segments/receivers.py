"""Segments follow the customers app's announcements (connected in SegmentsConfig.ready)."""

from django.db import transaction

from customers.signals import (
    customer_erased,
    metrics_recomputed,
    metrics_refreshed,
    predictions_scored,
)


def _customers_changed(sender, customer_ids: list[int], **kwargs) -> None:
    from segments.tasks import evaluate_customers_task

    ids = list(customer_ids)
    transaction.on_commit(lambda: evaluate_customers_task.delay(ids))


def _metrics_recomputed(sender, run_id: int, **kwargs) -> None:
    from segments.tasks import evaluate_all_task

    transaction.on_commit(evaluate_all_task.delay)


def _predictions_scored(sender, fit_id: int, **kwargs) -> None:
    from segments.tasks import evaluate_all_task

    transaction.on_commit(evaluate_all_task.delay)


def connect() -> None:
    metrics_refreshed.connect(_customers_changed, dispatch_uid="segments.customers_changed")
    # An erased customer leaves every segment (evaluations leave erased customers out).
    customer_erased.connect(_customers_changed, dispatch_uid="segments.customer_erased")
    metrics_recomputed.connect(_metrics_recomputed, dispatch_uid="segments.metrics_recomputed")
    # Rules on predicted CLV, churn probability or the value coefficient follow a new scoring.
    predictions_scored.connect(_predictions_scored, dispatch_uid="segments.predictions_scored")
