"""Thin Celery entry points; each calls one service and is safe to run twice."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from segments.signals import memberships_changed

_RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True,
          "max_retries": 5}


@shared_task(name="segments.evaluate_segment", **_RETRY)
def evaluate_segment_task(segment_id: int) -> dict:
    from segments.services.evaluation import segment_evaluate

    outcome = segment_evaluate(segment_id)
    _announce([outcome])
    return {"entered": outcome.entered, "exited": outcome.exited, "size": outcome.size,
            "skipped": outcome.skipped}


@shared_task(name="segments.evaluate_customers", **_RETRY)
def evaluate_customers_task(customer_ids: list[int]) -> int:
    """Re-evaluate these customers in every active segment; returns the changes made."""
    from segments.services.evaluation import customers_evaluate

    outcomes = customers_evaluate(customer_ids)
    _announce(outcomes)
    return sum(o.entered + o.exited for o in outcomes)


@shared_task(name="segments.evaluate_due", **_RETRY)
def evaluate_due_task() -> int:
    """Queue a full evaluation of every active segment whose refresh interval has passed."""
    from segments.models import Segment

    now = timezone.now()
    due = [segment.pk for segment in Segment.objects.filter(is_active=True)
           if segment.last_evaluated_at is None
           or (now - segment.last_evaluated_at).total_seconds()
           >= segment.refresh_interval_minutes * 60 - 30]  # 30 s slack for beat's own jitter
    for segment_id in due:
        evaluate_segment_task.delay(segment_id)
    return len(due)


@shared_task(name="segments.evaluate_all", **_RETRY)
def evaluate_all_task() -> int:
    """Full evaluation of every active segment, references first (after the nightly metrics)."""
    from segments.services.evaluation import segments_evaluate_all

    outcomes = segments_evaluate_all()
    _announce(outcomes)
    return len(outcomes)


def _announce(outcomes) -> None:
    changed = [o.segment_id for o in outcomes if o.entered or o.exited]
    if changed:
        memberships_changed.send(sender=evaluate_segment_task, segment_ids=changed)
