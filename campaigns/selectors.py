"""Reads of the campaigns app shared with the API: what a storefront shows a customer."""

import datetime

from django.db.models import F, Q
from django.utils import timezone, translation

from campaigns.models import Coupon, Delivery
from campaigns.services.coupons import display_code
from campaigns.services.rendering import discount_text, ui_language
from customers.models import Customer

INBOX_DAYS = 30


def customer_coupons(customer: Customer, now: datetime.datetime) -> list[dict]:
    """The customer's codes that can be used now: active, started, not expired, not used
    up, of an active definition; the soonest to expire first."""
    rows = (Coupon.objects
            .filter(customer=customer, status=Coupon.Status.ACTIVE,
                    redemptions__lt=F("max_redemptions"), definition__is_active=True)
            .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .select_related("definition", "campaign")
            .order_by(F("expires_at").asc(nulls_last=True), "id"))
    with translation.override(ui_language(customer.language)):
        return [{"code": display_code(c.code, c.definition.code_prefix),
                 "kind": c.definition.kind, "value": c.definition.value,
                 "currency": c.definition.currency,
                 "min_order_amount": c.definition.min_order_amount,
                 "discount": discount_text(c.definition.kind, c.definition.value,
                                           c.definition.currency,
                                           c.definition.min_order_amount),
                 "name": c.definition.name, "starts_at": c.starts_at,
                 "expires_at": c.expires_at,
                 "campaign": {"id": c.campaign_id, "name": c.campaign.name}
                 if c.campaign_id else None}
                for c in rows]


def customer_inbox(customer: Customer, now: datetime.datetime) -> list[dict]:
    """Inbox messages sent to the customer in the last INBOX_DAYS days, newest first."""
    rows = (Delivery.objects
            .filter(customer=customer, channel="inbox", status=Delivery.Status.SENT,
                    sent_at__gte=now - datetime.timedelta(days=INBOX_DAYS))
            .order_by("-sent_at", "-id")
            .values("id", "subject", "body", "sent_at", "coupon__code",
                    "coupon__definition__code_prefix", "campaign_id", "campaign__name"))
    return [{"id": row["id"], "subject": row["subject"], "body": row["body"],
             "sent_at": row["sent_at"],
             "coupon_code": display_code(row["coupon__code"],
                                         row["coupon__definition__code_prefix"])
             if row["coupon__code"] else None,
             "campaign": {"id": row["campaign_id"], "name": row["campaign__name"]}
             if row["campaign_id"] else None}
            for row in rows]


def customer_offers(customer: Customer, now: datetime.datetime | None = None) -> dict:
    now = now or timezone.now()
    return {"customer": customer.external_id, "coupons": customer_coupons(customer, now),
            "messages": customer_inbox(customer, now)}
