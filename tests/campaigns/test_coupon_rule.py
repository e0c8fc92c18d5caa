"""The segment rule campaigns registers: "holds a coupon expiring within D days" (its golden
cases live with the others in tests/segments/test_operators_golden.py)."""

import datetime as dt

import pytest

from campaigns.models import Coupon
from segments.models import Segment
from segments.rules import condition
from segments.services.evaluation import segment_evaluate
from segments.services.explain import segment_explain
from tests.campaigns.coupons import personal
from tests.customers.factories import CustomerFactory
from tests.segments.operators import staff_user, token_client

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 10, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
RULE = condition("coupons", "coupon_expiring_within", 3)


def holder(external_id: str, expires_at: dt.datetime):
    customer = CustomerFactory(external_id=external_id)
    coupon = personal(customer)
    Coupon.objects.filter(pk=coupon.pk).update(expires_at=expires_at)
    return customer


def test_a_segment_on_the_rule_holds_the_customers_with_a_code_expiring_soon():
    holder("soon", NOW + 2 * DAY)
    holder("later", NOW + 10 * DAY)
    CustomerFactory(external_id="none")
    segment = Segment.objects.create(name="Expiring", rule=RULE)

    segment_evaluate(segment.pk, now=NOW)

    assert set(segment.memberships.values_list("customer__external_id", flat=True)) == {"soon"}


def test_explain_shows_the_codes_expiring_in_the_window():
    customer = holder("soon", NOW + 2 * DAY)
    segment = Segment.objects.create(name="Expiring", rule=RULE)

    explanation = segment_explain(segment=segment, customer=customer, now=NOW)

    assert explanation["matches"] is True
    assert explanation["tree"]["customer_value"] == {"coupons": 1,
                                                     "first_expires_at": NOW + 2 * DAY}


def test_the_rule_builder_lists_the_field_and_its_operator():
    body = token_client(staff_user()).get("/api/v1/segment-fields/").json()

    field = next(each for each in body["fields"] if each["name"] == "coupons")
    assert [op["name"] for op in field["operators"]] == ["coupon_expiring_within"]
    assert field["operators"][0]["value_schema"]["minimum"] == 1


def test_a_rule_with_zero_days_is_refused_naming_the_value():
    response = token_client(staff_user()).post(
        "/api/v1/segments/", {"name": "Bad", "rule": condition(
            "coupons", "coupon_expiring_within", 0)}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("rule")
