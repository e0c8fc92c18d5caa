"""GET /api/v1/customers/{external_id}/offers/: what a storefront shows a customer."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.campaigns.factories import (
    CampaignFactory,
    CouponDefinitionFactory,
    DeliveryFactory,
    MessageTemplateFactory,
)
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def offers(api, external_id="li"):
    response = api.get(f"/api/v1/customers/{external_id}/offers/")
    assert response.status_code == 200, response.content
    return response.json()


def coupon(definition, customer, code, **fields):
    fields.setdefault("issued_at", timezone.now())
    return definition.coupons.create(code=code, customer=customer, **fields)


def test_the_offers_route_wins_over_the_customer_route(api):
    CustomerFactory(external_id="li")

    assert api.get("/api/v1/customers/li/offers/").json() == {
        "customer": "li", "coupons": [], "messages": []}
    assert api.get("/api/v1/customers/li/").json()["external_id"] == "li"


def test_an_external_id_with_a_slash_is_found(api):
    CustomerFactory(external_id="shop/42")

    assert offers(api, "shop/42")["customer"] == "shop/42"


def test_an_unknown_customer_is_a_404(api):
    response = api.get("/api/v1/customers/nobody/offers/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_offers_need_a_storefront_key(db):
    CustomerFactory(external_id="li")

    assert APIClient().get("/api/v1/customers/li/offers/").status_code == 401


def test_only_usable_coupons_of_the_customer_are_offered_soonest_to_expire_first(api):
    li, bo = CustomerFactory(external_id="li"), CustomerFactory(external_id="bo")
    now = timezone.now()
    campaign = CampaignFactory(name="Winback")
    percent = CouponDefinitionFactory(name="Winback 15", code_prefix="WB")
    fixed = CouponDefinitionFactory(name="Ten off", kind="fixed", value=Decimal("10"),
                                    currency="USD", min_order_amount=Decimal("50"))
    coupon(percent, li, "WB23456789AB", campaign=campaign, expires_at=now + dt.timedelta(days=9))
    coupon(fixed, li, "ABCDE23456", expires_at=now + dt.timedelta(days=2))
    coupon(percent, li, "WBEXPIRED22", expires_at=now - dt.timedelta(minutes=1))
    coupon(percent, li, "WBUSED22222", status="redeemed")
    coupon(percent, li, "WBFULL22222", redemptions=1, max_redemptions=1)
    coupon(percent, li, "WBLATER2222", starts_at=now + dt.timedelta(days=1))
    coupon(percent, bo, "WBOTHER2222")

    found = offers(api)["coupons"]

    assert [c["code"] for c in found] == ["ABCDE-23456", "WB-23456-789AB"]
    assert (found[0]["discount"], found[0]["kind"], found[0]["campaign"]) == (
        "10 USD off on orders of 50 or more", "fixed", None)
    assert (found[1]["discount"], found[1]["campaign"]["name"], found[1]["value"]) == (
        "15% off", "Winback", "15.00")


def test_inbox_messages_of_the_last_30_days_are_listed_newest_first(api):
    li = CustomerFactory(external_id="li")
    now = timezone.now()
    inbox = MessageTemplateFactory(channel="inbox", subject="S", body="B")
    definition = CouponDefinitionFactory(code_prefix="HI")
    code = coupon(definition, li, "HI23456789AB")

    def sent(days_ago, **fields):
        at = now - dt.timedelta(days=days_ago)
        return DeliveryFactory(customer=li, template=inbox, status="sent", sent_at=at,
                               due_at=at, created_at=at, **{"channel": "inbox", **fields})

    older = sent(10, subject="Older", body="Second")
    newer = sent(1, subject="Newer", body="First", coupon=code)
    sent(31, subject="Too old")
    sent(2, channel="email", subject="An email")
    DeliveryFactory(customer=li, template=inbox, channel="inbox", subject="Queued")

    messages = offers(api)["messages"]

    assert [(m["id"], m["subject"], m["body"], m["coupon_code"]) for m in messages] == [
        (newer.pk, "Newer", "First", "HI-23456-789AB"), (older.pk, "Older", "Second", None)]

