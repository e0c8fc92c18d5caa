"""What campaigns keep about a customer whose personal data is being erased (the
customers app's `customer_erased` signal, in the erasing transaction).

Journeys under way stop (nothing more is sent or issued); queued messages are skipped; the
addresses, texts and errors of every message to the customer are emptied. The delivery rows stay,
emptied, so campaign results and frequency counts do not move; coupons stay (a code names
nobody).
"""

import datetime

from django.utils import timezone

from campaigns.models import Delivery, Journey
from campaigns.services.controls import Reason


def campaigns_forget(customer_ids: list[int], now: datetime.datetime | None = None) -> None:
    now = now or timezone.now()
    # Journeys first: a runner moving one of them holds its row, and its step's deliveries
    # are committed (and so skipped below) once this update has waited for it.
    Journey.objects.filter(
        customer_id__in=customer_ids,
        status__in=[Journey.Status.ACTIVE, Journey.Status.PAUSED],
    ).update(status=Journey.Status.EXITED, due_at=None, finished_at=now)
    Delivery.objects.filter(customer_id__in=customer_ids, status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.SKIPPED, reason=Reason.ERASED)
    Delivery.objects.filter(customer_id__in=customer_ids).update(**FORGOTTEN)


# What a message to an erased customer keeps of where it went and what it said (a provider's
# error may quote the address).
FORGOTTEN = {"address": "", "subject": "", "body": "", "error": ""}
