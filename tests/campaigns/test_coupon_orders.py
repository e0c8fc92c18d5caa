"""Orders that arrive carrying a coupon code (POST /api/v1/orders/) are linked to the code's
redemption by campaigns.react_task (queued after the storefront's orders for those
customers); a cancelled order gives its code back, a refunded one keeps it used."""

import logging
from decimal import Decimal

import pytest

from campaigns.models import Coupon, CouponRedemption
from campaigns.services.coupons import coupon_definitions_with_stats
from campaigns.tasks import react_task
from customers.models import Customer
from tests.campaigns.coupons import REDEEM, personal, redeem_body, shared
from tests.campaigns.factories import CampaignFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def send_order(api, customer: str, external_id: str, code: str = "", amount: str = "80.00",
               status: str = "paid") -> None:
    response = api.post(ORDERS, {"external_id": external_id, "customer": customer,
                                 "amount": amount, "status": status, "coupon_code": code,
                                 "placed_at": "2026-03-01T10:00:00Z"}, format="json")
    assert response.status_code in (200, 201), response.content
    react_task.apply(args=[list(Customer.objects.filter(external_id=customer)
                                .values_list("pk", flat=True))])


def campaign_coupon(owner) -> Coupon:
    coupon = personal(owner, kind="percentage", value=Decimal(10))
    Coupon.objects.filter(pk=coupon.pk).update(campaign=CampaignFactory(name="Win back"),
                                               node="gift")
    return Coupon.objects.get(pk=coupon.pk)


def test_an_order_carrying_a_code_records_its_redemption_for_the_issuing_campaign(api):
    owner = CustomerFactory()
    coupon = campaign_coupon(owner)

    send_order(api, owner.external_id, "o-1", code=coupon.code.lower(), amount="80.00")

    redemption = CouponRedemption.objects.get()
    assert (redemption.order_external_id, redemption.customer, redemption.discount) == (
        "o-1", owner, Decimal("8.00"))
    assert (redemption.coupon.campaign.name, redemption.coupon.node) == ("Win back", "gift")
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redemptions) == ("redeemed", 1)
    assert coupon_definitions_with_stats().get().discount_spent == Decimal("8.00")


def test_an_order_already_redeemed_through_the_api_is_not_recorded_twice(api):
    owner = CustomerFactory()
    coupon = campaign_coupon(owner)
    api.post(REDEEM, redeem_body(coupon, owner, order="o-1"), format="json")

    send_order(api, owner.external_id, "o-1", code=coupon.code)
    send_order(api, owner.external_id, "o-1", code=coupon.code)

    assert CouponRedemption.objects.count() == 1


def test_a_code_used_up_by_another_order_records_nothing(api, caplog):
    owner = CustomerFactory()
    coupon = campaign_coupon(owner)
    send_order(api, owner.external_id, "o-1", code=coupon.code)

    with caplog.at_level(logging.WARNING, logger="campaigns.services.redemptions"):
        send_order(api, owner.external_id, "o-2", code=coupon.code)

    assert list(CouponRedemption.objects.values_list("order_external_id", flat=True)) == ["o-1"]
    assert "o-2" in caplog.text


def test_an_unknown_code_on_an_order_records_nothing(api):
    send_order(api, "ann", "o-1", code="SHOPS-OWN-CODE")

    assert CouponRedemption.objects.count() == 0


def test_a_shared_code_on_orders_is_recorded_up_to_its_limit(api):
    coupon = shared("TWICE", shared_limit=2)

    for n in range(3):
        send_order(api, f"c{n}", f"o{n}", code="twice")

    assert CouponRedemption.objects.count() == 2
    assert Coupon.objects.get(pk=coupon.pk).status == "redeemed"


def test_a_cancelled_order_releases_its_code(api):
    owner = CustomerFactory()
    coupon = campaign_coupon(owner)
    send_order(api, owner.external_id, "o-1", code=coupon.code)

    send_order(api, owner.external_id, "o-1", code=coupon.code, status="cancelled")

    assert CouponRedemption.objects.count() == 0
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redemptions) == ("active", 0)
    assert coupon_definitions_with_stats().get().discount_spent == 0
    again = api.post(REDEEM, redeem_body(coupon, owner, order="o-2"), format="json")
    assert again.status_code == 200


def test_cancelling_an_order_redeemed_through_the_api_releases_the_code(api):
    coupon = shared("ONCE", shared_limit=1)
    api.post(REDEEM, redeem_body(coupon, "ann", order="o-1"), format="json")

    send_order(api, "ann", "o-1", status="cancelled")  # the order itself names no code

    assert Coupon.objects.get(pk=coupon.pk).redemptions == 0


def test_a_refunded_order_keeps_its_code_used(api):
    owner = CustomerFactory()
    coupon = campaign_coupon(owner)
    send_order(api, owner.external_id, "o-1", code=coupon.code)

    send_order(api, owner.external_id, "o-1", code=coupon.code, status="refunded")

    assert CouponRedemption.objects.count() == 1
    assert Coupon.objects.get(pk=coupon.pk).status == "redeemed"
