"""Erasing a customer's personal data on request (the right to erasure: GDPR article 17,
PIPL article 47).

The customer's row stays, emptied of everything that identifies or describes the person, so
that its orders (amounts, times, line items: no personal data) keep counting in the revenue
figures and the figures of the past do not move. Its external id is replaced by a random
one, so the storefront's id no longer finds it: a later order or profile under the old id
starts a new customer. Its behaviour events and last activity are deleted; its consents are
withdrawn. An Erasure row records when and at whose request; segments and campaigns leave
every customer with one out (`not_erased`), and what they kept goes on the `customer_erased`
signal, in the same transaction.
"""

import logging
import uuid

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from customers.models import Customer, CustomerActivity, Erasure, Event
from customers.signals import customer_erased

logger = logging.getLogger(__name__)

ERASED_ID_PREFIX = "erased-"


def _emptied(now) -> dict:
    """The customer's fields once erased: nothing personal, consents withdrawn now."""
    return {
        "external_id": f"{ERASED_ID_PREFIX}{uuid.uuid4().hex}",
        "email": "", "phone": "", "name": "", "gender": "", "birthday": None, "city": "",
        "time_zone": "", "language": "", "attributes": {}, "tags": [],
        "email_consent": False, "email_consent_at": now,
        "sms_consent": False, "sms_consent_at": now,
        "updated_at": now,
    }


def customer_erase(*, customer_id: int, requested_by: str) -> Erasure | None:
    """Erase this customer's personal data and record it. None when there is no such
    customer or it was erased already (nothing changes: safe to repeat)."""
    with transaction.atomic():
        # Row lock: two requests erasing one customer take turns, and the second finds the
        # first one's Erasure.
        if not Customer.objects.select_for_update().filter(pk=customer_id).exists():
            return None
        if Erasure.objects.filter(customer_id=customer_id).exists():
            return None
        now = timezone.now()
        Customer.objects.filter(pk=customer_id).update(**_emptied(now))
        Event.objects.filter(customer_id=customer_id).delete()
        CustomerActivity.objects.filter(customer_id=customer_id).delete()
        erasure = Erasure.objects.create(customer_id=customer_id, erased_at=now,
                                         requested_by=requested_by[:200])
        customer_erased.send(sender=Customer, customer_ids=[customer_id])
    logger.info("Erased the personal data of customer %s at the request of %s",
                customer_id, requested_by)
    return erasure


def not_erased(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """These customers less the erased ones. NOT EXISTS, an anti-join with the few erasures
    (40 segment templates at 1M customers: +0.1-0.3 s of 6.5 s; `NOT IN` tested every row
    against a hashed subquery, +0.5-1.0 s)."""
    return customers.filter(~Exists(Erasure.objects.filter(customer_id=OuterRef("pk"))))


def erased_ids_sql(column: str) -> str:
    """A SQL condition on a customer id column: not an erased customer's (as not_erased)."""
    return (f"NOT EXISTS (SELECT 1 FROM {Erasure._meta.db_table} erased "
            f"WHERE erased.customer_id = {column})")
