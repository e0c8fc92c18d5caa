"""The storefront's coupon calls: POST /api/v1/coupons/validate/ and /redeem/."""

from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Coupon, CouponDefinition, CouponRedemption
from campaigns.services.coupons import coupon_definitions_with_stats
from customers.models import Customer
from tests.campaigns.coupons import (
    DAY,
    REDEEM,
    VALIDATE,
    check,
    personal,
    redeem_body,
    shared,
)
from tests.campaigns.factories import CampaignFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def validate(api, body) -> dict:
    response = api.post(VALIDATE, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def reason(api, body) -> str:
    return validate(api, body)["reason"]


# --- validate -------------------------------------------------------------------------------

def test_valid_personal_code_answers_the_discount_and_the_coupon(api):
    owner = CustomerFactory()
    coupon = personal(owner, kind="percentage", value=Decimal(15), code_prefix="WELCOME",
                      valid_days=7)

    body = validate(api, check(coupon, owner, amount="80.00"))

    assert body["valid"] is True
    assert (body["reason"], body["discount"]) == ("", "12.00")
    assert body["coupon"]["code"] == f"WELCOME-{coupon.code[7:12]}-{coupon.code[12:]}"
    assert body["coupon"]["kind"] == "percentage"
    assert body["coupon"]["value"] == "15.00"
    assert body["coupon"]["expires_at"] is not None
    assert body["coupon"]["campaign"] is None


def test_code_is_found_whatever_the_case_dashes_and_spaces(api):
    owner = CustomerFactory()
    coupon = personal(owner)
    code = coupon.code
    typed = f" {code[:3].lower()} {code[3:6]}-{code[6:].lower()} "

    assert validate(api, check(typed, owner))["valid"] is True


def test_the_issuing_campaign_is_named(api):
    owner = CustomerFactory()
    coupon = personal(owner)
    campaign = CampaignFactory(name="Win back")
    Coupon.objects.filter(pk=coupon.pk).update(campaign=campaign, node="gift")

    assert validate(api, check(coupon, owner))["coupon"]["campaign"] == {
        "id": campaign.pk, "name": "Win back"}


def test_unknown_code_is_not_found(api):
    body = validate(api, check("NOSUCHCODE"))

    assert (body["valid"], body["reason"], body["coupon"]) == (False, "not_found", None)
    assert body["discount"] == "0.00"


def test_inactive_definition_is_refused(api):
    owner = CustomerFactory()
    coupon = personal(owner)
    CouponDefinition.objects.filter(pk=coupon.definition_id).update(is_active=False)

    assert reason(api, check(coupon, owner)) == "inactive"


def test_code_before_its_start_is_not_started(api):
    owner = CustomerFactory()
    coupon = personal(owner, valid_from=timezone.now() + DAY)

    assert reason(api, check(coupon, owner)) == "not_started"


def test_code_past_its_expiry_is_expired(api):
    owner = CustomerFactory()
    coupon = personal(owner)
    Coupon.objects.filter(pk=coupon.pk).update(expires_at=timezone.now() - DAY)

    assert reason(api, check(coupon, owner)) == "expired"


def test_someone_elses_code_is_not_yours(api):
    coupon = personal(CustomerFactory())

    assert reason(api, check(coupon, CustomerFactory())) == "not_yours"


def test_order_below_the_minimum_is_refused(api):
    owner = CustomerFactory()
    coupon = personal(owner, min_order_amount=Decimal(50))

    assert reason(api, check(coupon, owner, amount="49.99")) == "minimum_not_met"
    assert reason(api, check(coupon, owner, amount="50.00")) == ""


def test_order_in_another_currency_is_refused(api):
    owner = CustomerFactory()
    coupon = personal(owner, kind="fixed", value=Decimal(5), currency="CNY")

    assert reason(api, check(coupon, owner, currency="USD")) == "currency_mismatch"
    assert reason(api, check(coupon, owner, currency="cny")) == ""


def test_non_stackable_code_with_another_code_is_refused(api):
    owner = CustomerFactory()
    coupon, other = personal(owner), personal(owner)

    body = validate(api, check(coupon, owner, other_codes=[other.code]))

    assert (body["valid"], body["reason"]) == (False, "not_stackable")


def test_stackable_codes_combine_but_not_with_a_non_stackable_one(api):
    owner = CustomerFactory()
    first, second = personal(owner, stackable=True), personal(owner, stackable=True)
    lone = personal(owner)

    assert reason(api, check(first, owner, other_codes=[second.code])) == ""
    assert reason(api, check(first, owner, other_codes=[lone.code])) == "not_stackable"


def test_unknown_other_codes_do_not_count_for_stacking(api):
    owner = CustomerFactory()
    coupon = personal(owner)

    assert reason(api, check(coupon, owner, other_codes=["SHOPOWNCODE"])) == ""


def test_validate_writes_nothing_for_an_unknown_customer(api):
    coupon = shared("WELCOME5")

    assert validate(api, check(coupon, "brand-new"))["valid"] is True
    assert not Customer.objects.filter(external_id="brand-new").exists()
    assert CouponRedemption.objects.count() == 0


@pytest.mark.parametrize(("values", "amount", "discount"), [
    ({"kind": "percentage", "value": Decimal(15)}, "33.33", "5.00"),  # 4.9995 half up
    ({"kind": "percentage", "value": Decimal("12.5")}, "0.20", "0.03"),  # 0.025 half up
    ({"kind": "percentage", "value": Decimal(50), "max_discount": Decimal(20)}, "100.00",
     "20.00"),
    ({"kind": "percentage", "value": Decimal(100)}, "7.35", "7.35"),
    ({"kind": "fixed", "value": Decimal(10)}, "25.00", "10.00"),
    ({"kind": "fixed", "value": Decimal(10)}, "6.50", "6.50"),  # never above the order
    ({"kind": "fixed", "value": Decimal(10)}, "0.00", "0.00"),
])
def test_discount(api, values, amount, discount):
    owner = CustomerFactory()
    coupon = personal(owner, **values)

    assert validate(api, check(coupon, owner, amount=amount))["discount"] == discount


@pytest.mark.parametrize(("field", "value"), [
    ("order_amount", "-1.00"), ("order_amount", "1.005"), ("order_amount", "abc"),
    ("code", ""), ("customer_external_id", ""), ("currency", "US"), ("other_codes", "X"),
])
def test_bad_input_is_a_400_naming_the_field(api, field, value):
    body = {**check("ANYCODE123"), field: value}

    response = api.post(VALIDATE, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in {error["field"] for error in response.json()["errors"]}


def test_unknown_field_is_a_400(api):
    response = api.post(VALIDATE, {**check("ANYCODE123"), "discount": "5"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "discount"


def test_calls_without_a_storefront_key_are_401():
    response = APIClient().post(VALIDATE, check("ANYCODE123"), format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- redeem ---------------------------------------------------------------------------------

def test_redeem_records_the_redemption_and_uses_the_code(api):
    owner = CustomerFactory()
    coupon = personal(owner, kind="fixed", value=Decimal(10))

    response = api.post(REDEEM, redeem_body(coupon, owner, order="o-1", amount="40.00"),
                        format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["order_external_id"], body["customer_external_id"]) == ("o-1",
                                                                         owner.external_id)
    assert (body["order_amount"], body["discount"]) == ("40.00", "10.00")
    assert body["coupon"]["kind"] == "fixed"
    redemption = CouponRedemption.objects.get()
    assert (redemption.pk, redemption.customer_id, redemption.discount) == (
        body["redemption_id"], owner.pk, Decimal("10.00"))
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redemptions) == ("redeemed", 1)
    assert coupon_definitions_with_stats().get().discount_spent == Decimal("10.00")


def test_the_same_redeem_repeated_returns_the_same_answer(api):
    owner = CustomerFactory()
    coupon = personal(owner)
    first = api.post(REDEEM, redeem_body(coupon, owner, order="o-1"), format="json")

    again = api.post(REDEEM, redeem_body(coupon, owner, order="o-1"), format="json")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert CouponRedemption.objects.count() == 1


def test_a_used_code_on_another_order_is_409_already_used(api):
    owner = CustomerFactory()
    coupon = personal(owner)
    api.post(REDEEM, redeem_body(coupon, owner, order="o-1"), format="json")

    response = api.post(REDEEM, redeem_body(coupon, owner, order="o-2"), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "already_used"
    assert CouponRedemption.objects.count() == 1
    assert reason(api, check(coupon, owner)) == "already_used"


def test_redeem_of_an_unknown_code_is_404(api):
    response = api.post(REDEEM, redeem_body("NOSUCHCODE"), format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_refused_redeem_writes_nothing(api):
    coupon = shared("SPRING10", min_order_amount=Decimal(50))

    response = api.post(REDEEM, redeem_body(coupon, "newcomer", amount="10.00"), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "minimum_not_met"
    assert not Customer.objects.filter(external_id="newcomer").exists()
    assert CouponRedemption.objects.count() == 0
    assert Coupon.objects.get().redemptions == 0


def test_redeem_creates_an_unknown_customer(api):
    coupon = shared("SPRING10")

    response = api.post(REDEEM, redeem_body(coupon, "newcomer"), format="json")

    assert response.status_code == 200
    assert CouponRedemption.objects.get().customer == Customer.objects.get(
        external_id="newcomer")


def test_shared_code_is_used_up_after_its_limit(api):
    coupon = shared("TWICE", shared_limit=2)
    for n in range(2):
        assert api.post(REDEEM, redeem_body(coupon, f"c{n}", order=f"o{n}"),
                        format="json").status_code == 200

    response = api.post(REDEEM, redeem_body(coupon, "c9", order="o9"), format="json")

    assert response.json()["code"] == "budget_exhausted"
    assert Coupon.objects.get().status == "redeemed"


def test_shared_code_used_by_the_customer_already_is_per_customer_limit(api):
    coupon = shared("ONCEEACH")
    api.post(REDEEM, redeem_body(coupon, "ann", order="o1"), format="json")

    response = api.post(REDEEM, redeem_body(coupon, "ann", order="o2"), format="json")

    assert (response.status_code, response.json()["code"]) == (409, "per_customer_limit")
    assert reason(api, check(coupon, "bob")) == ""


def test_discount_budget_refuses_what_would_exceed_it(api):
    coupon = shared("BUDGET", kind="fixed", value=Decimal(30),
                    max_discount_total=Decimal(50))
    assert api.post(REDEEM, redeem_body(coupon, "ann"), format="json").status_code == 200

    response = api.post(REDEEM, redeem_body(coupon, "bob", order="o2"), format="json")

    assert (response.status_code, response.json()["code"]) == (409, "budget_exhausted")
    assert CouponDefinition.objects.get().discount_total == Decimal(30)


def test_a_budget_set_later_counts_the_discount_already_granted(api, settings):
    from campaigns.services.coupons import coupon_definition_save

    coupon = shared("LATER", kind="fixed", value=Decimal(30))
    api.post(REDEEM, redeem_body(coupon, "ann"), format="json")
    coupon_definition_save(coupon.definition, max_discount_total=Decimal(50))

    response = api.post(REDEEM, redeem_body(coupon, "bob", order="o2"), format="json")

    assert (response.status_code, response.json()["code"]) == (409, "budget_exhausted")


def test_second_coupon_on_an_order_with_a_non_stackable_one_is_not_stackable(api):
    owner = CustomerFactory()
    lone, stackable = personal(owner), personal(owner, stackable=True)
    api.post(REDEEM, redeem_body(lone, owner, order="o-1"), format="json")

    response = api.post(REDEEM, redeem_body(stackable, owner, order="o-1"), format="json")

    assert (response.status_code, response.json()["code"]) == (409, "not_stackable")
    assert CouponRedemption.objects.count() == 1


def test_two_stackable_coupons_on_one_order_are_both_redeemed(api):
    owner = CustomerFactory()
    first, second = personal(owner, stackable=True), personal(owner, stackable=True)

    for coupon in (first, second):
        assert api.post(REDEEM, redeem_body(coupon, owner, order="o-1"),
                        format="json").status_code == 200
    assert CouponRedemption.objects.filter(order_external_id="o-1").count() == 2


# --- guessing -------------------------------------------------------------------------------

@pytest.mark.redis
@override_settings(COUPON_GUESS_LIMIT=3, COUPON_GUESS_WINDOW=600)
def test_too_many_unknown_codes_from_one_key_are_429_until_the_window_ends(api, storefront):
    guessing_is_throttled(api, storefront)


@override_settings(COUPON_GUESS_LIMIT=3, COUPON_GUESS_WINDOW=600)
def test_guessing_is_throttled_in_the_embedded_setup_too(api, storefront, settings):
    settings.REDIS_URL = ""  # the default cache (per-process memory) counts instead

    guessing_is_throttled(api, storefront)


def guessing_is_throttled(api, storefront):
    from customers.services.storefronts import storefront_key_create

    owner = CustomerFactory()
    coupon = personal(owner)
    for n in range(2):
        assert reason(api, check(f"GUESS{n}AAAAA")) == "not_found"
    assert api.post(REDEEM, redeem_body("GUESS2AAAAA"), format="json").status_code == 404

    refused = [api.post(VALIDATE, check(coupon, owner), format="json"),
               api.post(REDEEM, redeem_body(coupon, owner), format="json")]

    for response in refused:
        assert response.status_code == 429
        assert response.json()["code"] == "throttled"
        assert 0 < int(response["Retry-After"]) <= 600
    other = APIClient()
    _key, raw_key = storefront_key_create(storefront=storefront)
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert other.post(VALIDATE, check(coupon, owner), format="json").json()["valid"] is True


@override_settings(COUPON_GUESS_LIMIT=2)
def test_known_codes_do_not_count_as_guesses(api):
    owner = CustomerFactory()
    coupon = personal(owner)

    for _n in range(5):
        assert validate(api, check(coupon, owner))["valid"] is True


# --- the answers match the documented shapes ------------------------------------------------

def test_validate_answers_have_the_documented_shape(api):
    from campaigns.api.coupon_serializers import ValidateOutputSerializer

    owner = CustomerFactory()
    coupon = personal(owner)
    for body in (validate(api, check(coupon, owner)), validate(api, check("NOSUCHCODE"))):
        shaped = ValidateOutputSerializer(data=body)
        assert shaped.is_valid(), shaped.errors
        assert set(body) == set(ValidateOutputSerializer().fields)


def test_redeem_answers_have_the_documented_shape(api):
    from campaigns.api.coupon_serializers import CouponInfoOutputSerializer, RedeemOutputSerializer

    owner = CustomerFactory()
    coupon = personal(owner)
    body = api.post(REDEEM, redeem_body(coupon, owner), format="json").json()

    shaped = RedeemOutputSerializer(data=body)
    assert shaped.is_valid(), shaped.errors
    assert set(body) == set(RedeemOutputSerializer().fields)
    assert set(body["coupon"]) == set(CouponInfoOutputSerializer().fields)
