"""Deliveries: the messages journeys queue. A journey's send node writes one row per
customer under its (journey, step) key, in the runner's transaction; the dispatcher
(campaigns/services/dispatch.py) screens, renders and sends them in batches."""

import datetime
from collections.abc import Sequence

from campaigns.flows import Walker
from campaigns.models import Coupon, Delivery
from campaigns.services.bulk import rows_insert


def journey_coupons(journey_ids: Sequence[int]) -> dict[int, int]:
    """Journey id -> its latest coupon (the one a message should mention)."""
    latest: dict[int, tuple[int, int]] = {}
    for journey_id, step, pk in Coupon.objects.filter(journey_id__in=set(journey_ids)) \
            .values_list("journey_id", "step", "pk"):
        if journey_id not in latest or step > latest[journey_id][0]:
            latest[journey_id] = (step, pk)
    return {journey_id: pk for journey_id, (_step, pk) in latest.items()}


def deliveries_queue(*, walkers: Sequence[Walker], channel: str, template_id: int | None,
                     webhook_id: int | None, node: str, now: datetime.datetime) -> int:
    """Queue one delivery per walker, due now. A (journey, step) already queued is left as
    it is. Returns how many were queued."""
    coupons = journey_coupons([w.journey_id for w in walkers])
    rows = [{"campaign_id": w.campaign_id, "journey_id": w.journey_id, "step": w.step,
             "node": node, "customer_id": w.customer_id, "channel": channel,
             "template_id": template_id, "webhook_id": webhook_id,
             "coupon_id": coupons.get(w.journey_id), "status": Delivery.Status.QUEUED,
             "reason": "", "error": "", "due_at": now, "lease_until": None, "attempts": 0,
             "address": "", "subject": "", "body": "", "created_at": now, "sent_at": None,
             "test": False}
            for w in walkers]
    queued = len(rows_insert(Delivery, rows, conflict=("journey_id", "step"),
                             returning=("id",)))
    if queued:
        from campaigns.tasks import dispatch_on_commit

        dispatch_on_commit()
    return queued
