"""Thin Celery entry points: each loads ids and calls one service. Safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from customers.signals import metrics_recomputed, metrics_refreshed, predictions_scored

_RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True,
          "max_retries": 5}


@shared_task(name="customers.recompute_metrics", **_RETRY)
def metrics_recompute_task() -> int:
    """Full set-based recompute of every customer's metrics; returns the MetricsRun id."""
    from customers.services.metrics import metrics_recompute_all, metrics_vacuum

    run_id = metrics_recompute_all().pk
    metrics_vacuum()  # before the segments evaluate on the signal below
    metrics_recomputed.send(sender=metrics_recompute_task, run_id=run_id)
    dashboard_compute_task.delay()  # the dashboard shows the stages and classes just written
    return run_id


@shared_task(name="customers.refresh_customer_metrics", **_RETRY)
def metrics_refresh_customers_task(customer_ids: list[int]) -> None:
    """Recompute the metrics of just these customers (after their orders or events arrived)."""
    from customers.services.metrics import metrics_refresh_customers

    metrics_refresh_customers(customer_ids=customer_ids)
    metrics_refreshed.send(sender=metrics_refresh_customers_task, customer_ids=customer_ids)


@shared_task(name="customers.fit_value_model", **_RETRY)
def value_model_fit_task() -> dict:
    """Fit the value model to today's orders and score every customer (nightly, and from
    the model page)."""
    from customers.services.prediction import value_model_fit

    fit = value_model_fit()
    predictions_scored.send(sender=value_model_fit_task, fit_id=fit.pk)
    dashboard_compute_task.delay()  # the dashboard shows the predictions just scored
    return {"fit": fit.pk, "status": fit.status, "scored": fit.scored}


@shared_task(name="customers.check_value_model", **_RETRY)
def value_model_check_task(cutoff: str, end: str) -> int:
    """A holdout check of the value model (from the model page): fit on the orders before
    `cutoff`, compare with [cutoff, end). ISO datetimes in; the ValueModelCheck id out."""
    import datetime

    from django.utils import timezone

    from customers.models import ValueModelCheck
    from customers.services.prediction import value_model_holdout
    from customers.services.prediction.models import FitError

    cutoff_at, end_at = (datetime.datetime.fromisoformat(cutoff),
                         datetime.datetime.fromisoformat(end))
    try:
        check = value_model_holdout(cutoff=cutoff_at, end=end_at)
    except FitError as exc:
        # Recorded, so the model page says why instead of the check silently never showing.
        check = ValueModelCheck.objects.create(created_at=timezone.now(), cutoff=cutoff_at,
                                               end=end_at, report={"error": str(exc)})
    return check.pk


@shared_task(name="customers.compute_dashboard", **_RETRY)
def dashboard_compute_task() -> int:
    """Precompute every dashboard figure (after the metrics run and the value model scoring);
    returns the rows written. Replaces the stored set, so running it twice changes nothing."""
    from customers.services.dashboard import dashboard_figures_compute

    return dashboard_figures_compute()
