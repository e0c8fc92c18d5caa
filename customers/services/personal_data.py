"""Everything held about one customer, as one JSON document: what a customer receives when
they ask for their data (the right of access and to portability: GDPR articles 15 and 20,
PIPL article 45). The customers app's own records, then what segments and campaigns keep
about them (customers.pages.register_data). Read in one transaction, so the parts agree.
"""

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from customers import pages
from customers.models import (
    Customer,
    CustomerMetrics,
    CustomerPrediction,
    Erasure,
    Event,
    LifecycleChange,
    Order,
)

FORMAT_VERSION = 1
CUSTOMER_FIELDS = (
    "external_id", "email", "phone", "name", "gender", "birthday", "city", "signup_at",
    "acquisition_channel", "time_zone", "language", "email_consent", "email_consent_at",
    "sms_consent", "sms_consent_at", "attributes", "tags", "created_at", "updated_at",
)
METRICS_FIELDS = (
    "lifecycle_stage", "rfm_class", "r_score", "f_score", "m_score", "order_count",
    "first_order_at", "last_order_at", "frequency", "monetary", "ltv", "aov", "computed_at",
)
PREDICTION_FIELDS = ("predicted_clv", "expected_purchases", "churn_probability",
                     "value_coefficient", "computed_at")


def _one(model: type[Model], customer: Customer, fields: tuple[str, ...]) -> dict | None:
    return model.objects.filter(customer=customer).values(*fields).first()


def _own_records(customer: Customer) -> dict[str, Any]:
    orders = Order.objects.filter(customer=customer).order_by("placed_at", "pk").values(
        "external_id", "storefront__name", "amount", "refunded_amount", "currency", "status",
        "placed_at", "coupon_code", "items")
    events = Event.objects.filter(customer=customer).order_by("occurred_at", "pk").values(
        "name", "occurred_at", "properties", "storefront__name")
    changes = LifecycleChange.objects.filter(customer=customer).order_by(
        "changed_at", "pk").values("from_stage", "to_stage", "changed_at")
    return {
        "metrics": _one(CustomerMetrics, customer, METRICS_FIELDS),
        "prediction": _one(CustomerPrediction, customer, PREDICTION_FIELDS),
        "lifecycle_changes": list(changes),
        "orders": [_renamed(order, storefront__name="storefront") for order in orders],
        "events": [_renamed(event, storefront__name="storefront") for event in events],
    }


def _renamed(row: dict, **names: str) -> dict:
    return {names.get(key, key): value for key, value in row.items()}


def customer_personal_data(customer: Customer, *, now: dt.datetime | None = None) -> dict:
    """The document: the profile, the customers app's records, then every registered
    part, each a list oldest first."""
    with transaction.atomic():
        profile = Customer.objects.filter(pk=customer.pk).values(*CUSTOMER_FIELDS).get()
        erasure = Erasure.objects.filter(customer=customer).values(
            "erased_at", "requested_by").first()
        document = {
            "format": FORMAT_VERSION,
            "exported_at": now or timezone.now(),
            "customer": profile,
            "last_seen_at": customer.last_seen_at,
            "erasure": erasure,
            **_own_records(customer),
        }
        for key in sorted(pages.DATA):
            document[key] = list(pages.DATA[key].rows(customer))
    return document
