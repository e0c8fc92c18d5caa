"""Helpers for the coupon tests: definitions saved through the service (so a shared code gets
its Coupon row), codes issued by hand, and the storefront calls."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Coupon, CouponDefinition
from campaigns.services.coupons import coupon_definition_save, coupon_issue_manual
from customers.models import Customer
from tests.customers.factories import CustomerFactory

VALIDATE, REDEEM = "/api/v1/coupons/validate/", "/api/v1/coupons/redeem/"
DAY = dt.timedelta(days=1)


def definition(**values) -> CouponDefinition:
    values = {"name": f"def-{CouponDefinition.objects.count()}", "kind": "percentage",
              "value": Decimal(10), **values}
    return coupon_definition_save(**values)


def personal(customer: Customer | None = None, definition_: CouponDefinition | None = None,
             **values) -> Coupon:
    """A personal code issued by hand to `customer` (a new one by default)."""
    customer = customer or CustomerFactory()
    definition_ = definition_ or definition(**values)
    return coupon_issue_manual(definition_id=definition_.pk, customer_id=customer.pk,
                               now=timezone.now())


def shared(code: str = "SUMMER20", **values) -> Coupon:
    return Coupon.objects.get(code=definition(shared_code=code, **values).shared_code)


def check(coupon_or_code, customer="c-none", amount="100.00", **extra) -> dict:
    code = coupon_or_code if isinstance(coupon_or_code, str) else coupon_or_code.code
    owner = customer if isinstance(customer, str) else customer.external_id
    return {"code": code, "customer_external_id": owner, "order_amount": amount, **extra}


def redeem_body(coupon_or_code, customer="c-none", order="o1", amount="100.00", **extra):
    return {**check(coupon_or_code, customer, amount, **extra), "order_external_id": order}
