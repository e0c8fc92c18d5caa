"""Deliveries: the messages journeys queue. A journey's send node writes one row per
customer under its (journey, step) key, in the runner's transaction; the dispatcher
(campaigns/services/dispatch.py) screens, renders and sends them in batches."""

import datetime
from collections.abc import Sequence

from campaigns.flows import Walker
from campaigns.models import Delivery
from campaigns.services.bulk import rows_insert


def deliveries_queue(*, walkers: Sequence[Walker], channel: str, template_id: int | None,
                     webhook_id: int | None, node: str, now: datetime.datetime) -> int:
    """Queue one delivery per walker, due now. A (journey, step) already queued is left as
    it is. Returns how many were queued."""
    rows = [{"campaign_id": w.campaign_id, "journey_id": w.journey_id, "step": w.step,
             "node": node, "customer_id": w.customer_id, "channel": channel,
             "template_id": template_id, "webhook_id": webhook_id,
             "coupon_id": w.coupon_id, "status": Delivery.Status.QUEUED,
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
