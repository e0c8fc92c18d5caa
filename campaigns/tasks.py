"""Thin Celery entry points. The state is in the database; a task only says "go look", so a
lost, repeated or late task costs time, never a lost or doubled step or send.

One task advances one batch of journeys (or dispatches one batch of deliveries) and queues
its successor while it found a full batch; `kick` starts CONCURRENCY such chains, at most
once while one is still waiting in the queue.
"""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, transaction

_RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True,
          "max_retries": 5}
KICK_SECONDS = 10  # a kick flag left by a lost task expires after this


def _kick(task) -> None:
    if cache.add(f"campaigns:kicked:{task.name}", 1, timeout=KICK_SECONDS):
        for _chain in range(settings.CAMPAIGNS_CONCURRENCY):
            task.delay()


def _started(task) -> None:
    cache.delete(f"campaigns:kicked:{task.name}")


def advance_on_commit() -> None:
    transaction.on_commit(lambda: _kick(advance_task), robust=True)


def dispatch_on_commit() -> None:
    transaction.on_commit(lambda: _kick(dispatch_task), robust=True)


@shared_task(name="campaigns.advance", **_RETRY)
def advance_task() -> int:
    """Advance one batch of due journeys; queue the next batch while there may be more."""
    from campaigns.services.runner import journeys_advance

    _started(advance_task)
    advanced = journeys_advance()
    if advanced.full:
        advance_task.delay()
    return advanced.claimed


@shared_task(name="campaigns.dispatch", **_RETRY)
def dispatch_task() -> int:
    """Send one batch of due deliveries; queue the next batch while there may be more."""
    from campaigns.services.dispatch import deliveries_dispatch

    _started(dispatch_task)
    dispatched = deliveries_dispatch()
    if dispatched.full:
        dispatch_task.delay()
    return dispatched.claimed


@shared_task(name="campaigns.consume_triggers", **_RETRY)
def consume_triggers_task() -> int:
    """Start the journeys new segment changes, lifecycle changes, events, orders and
    schedules call for."""
    from campaigns.services.triggers import triggers_consume

    return triggers_consume()


@shared_task(name="campaigns.react", **_RETRY)
def react_task(customer_ids: list[int]) -> int:
    """After these customers' orders or events arrived: record the coupons their orders
    carry (and release those of cancelled orders), end journeys that reached their goal,
    wake those waiting for an event, and start the journeys their events trigger."""
    from django.utils import timezone

    from campaigns.services.goals import journeys_convert
    from campaigns.services.redemptions import coupons_link_orders
    from campaigns.services.runner import journeys_wake
    from campaigns.services.triggers import triggers_consume

    now = timezone.now()
    coupons_link_orders(customer_ids, now=now)
    journeys_convert(customer_ids, now=now)
    journeys_wake(customer_ids, now=now)
    return triggers_consume(now=now, customers=customer_ids)


@shared_task(name="campaigns.sweep", **_RETRY)
def sweep_task() -> dict:
    """Every minute: read triggers, take back deliveries whose dispatcher died, and start the
    runner and the dispatcher when anything is due (the safety net under every kick)."""
    from campaigns.services.dispatch import deliveries_due, deliveries_reclaim
    from campaigns.services.runner import journeys_due
    from campaigns.services.triggers import triggers_consume

    started = triggers_consume()
    reclaimed = deliveries_reclaim()
    if journeys_due():
        _kick(advance_task)
    if deliveries_due():
        _kick(dispatch_task)
    return {"started": started, "reclaimed": reclaimed}


@shared_task(name="campaigns.refresh_results", **_RETRY)
def results_refresh_task() -> int:
    """Keep every running campaign's results warm in the cache for its results page."""
    from campaigns.services.results import campaign_results_refresh

    return campaign_results_refresh()
