"""Deliveries: the messages journeys queue. A journey's send node writes one row per
customer under its (journey, step) key, in the runner's transaction; the runner itself sends
those it could claim as it wrote them (dispatch.Outbox), the dispatcher
(campaigns/services/dispatch.py) screens, renders and sends the rest in batches."""

import datetime
from collections.abc import Sequence

from campaigns.flows import Walker
from campaigns.models import Delivery
from campaigns.services.bulk import rows_insert
from campaigns.services.dispatch import Outbox


def deliveries_queue(*, walkers: Sequence[Walker], channel: str, template_id: int | None,
                     webhook_id: int | None, node: str, now: datetime.datetime,
                     outbox: Outbox | None = None) -> int:
    """Queue one delivery per walker, due now. A (journey, step) already queued is left as
    it is. With the runner's `outbox`, the deliveries are claimed for the runner as they are
    written (screened, and sent by it after its commit); otherwise the dispatcher claims
    them. Returns how many were written."""
    rows = [{"campaign_id": w.campaign_id, "journey_id": w.journey_id, "step": w.step,
             "node": node, "customer_id": w.customer_id, "channel": channel,
             "template_id": template_id, "webhook_id": webhook_id,
             "coupon_id": w.coupon_id, "status": Delivery.Status.QUEUED,
             "reason": "", "error": "", "due_at": now, "lease_until": None, "attempts": 0,
             "address": "", "subject": "", "body": "", "created_at": now, "sent_at": None,
             "test": False}
            for w in walkers]
    if outbox is not None:
        rows = outbox.claim(rows, now)
    written = rows_insert(Delivery, rows, conflict=("journey_id", "step"),
                          returning=("id", "journey_id", "status"))
    if outbox is not None:
        outbox.inserted(written)
    if any(status == Delivery.Status.QUEUED for _id, _journey, status in written):
        from campaigns.tasks import dispatch_on_commit

        dispatch_on_commit()
    return len(written)
