"""Campaigns follow what the customers and segments apps announce (connected in
CampaignsConfig.ready). Each reaction is a task queued after commit, but for an erasure."""

from django.db import transaction

from customers.signals import activity_recorded, customer_erased, metrics_refreshed
from segments.signals import memberships_changed


def _customers_acted(sender, customer_ids: list[int], **kwargs) -> None:
    from campaigns.tasks import react_task

    ids = list(customer_ids)
    transaction.on_commit(lambda: react_task.delay(ids), robust=True)


def _segments_changed(sender, segment_ids: list[int], **kwargs) -> None:
    from campaigns.tasks import consume_triggers_task

    transaction.on_commit(consume_triggers_task.delay, robust=True)


def _customers_erased(sender, customer_ids: list[int], **kwargs) -> None:
    from campaigns.services.erasure import campaigns_forget

    campaigns_forget(list(customer_ids))


def connect() -> None:
    activity_recorded.connect(_customers_acted, dispatch_uid="campaigns.customers_acted")
    # A metrics refresh may log lifecycle changes ("became dormant") for these customers.
    metrics_refreshed.connect(_customers_acted, dispatch_uid="campaigns.metrics_refreshed")
    # In the erasing transaction, not after it: nothing personal may outlive the erasure.
    customer_erased.connect(_customers_erased, dispatch_uid="campaigns.customers_erased")
    memberships_changed.connect(_segments_changed, dispatch_uid="campaigns.segments_changed")
