"""Golden cases: every registered operator on small fixtures, member sets checked by hand.

Each case runs plain and negated ({"!": rule}); the negation must be the exact complement within
its fixture. The compiled SQL and the plain-Python reference (tests/segments/reference.py) must
both give the hand-checked set. A registered operator without a golden case fails
test_every_operator_has_golden_cases.
"""

import dataclasses
import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from customers.models import (
    Customer,
    CustomerActivity,
    CustomerMetrics,
    CustomerPrediction,
    Event,
    LifecycleChange,
    Order,
)
from segments.models import Segment, SegmentMembership
from segments.rules import (
    OPERATORS,
    Context,
    compile_node,
    condition,
    conditions,
    operators,
    parse,
)
from tests.customers.factories import StorefrontFactory
from tests.segments import reference

NOW = dt.datetime(2026, 3, 10, 10, 30, tzinfo=dt.UTC)
DAY, HOUR, US = dt.timedelta(days=1), dt.timedelta(hours=1), dt.timedelta(microseconds=1)


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# --- fixtures --------------------------------------------------------------------------------
# Each fixture writes a handful of customers; a case's expected members are external ids.

def _customer(external_id: str, last_seen_at=None, **values) -> Customer:
    customer = Customer.objects.create(external_id=external_id, **values)
    if last_seen_at is not None:
        CustomerActivity.objects.create(customer=customer, last_seen_at=last_seen_at)
    return customer


def _metrics(customer: Customer, **values) -> None:
    defaults = {"order_count": 0, "frequency": 0, "monetary": Decimal(0), "ltv": Decimal(0),
                "lifecycle_stage": "prospect", "computed_at": NOW}
    CustomerMetrics.objects.create(customer=customer, **{**defaults, **values})


def _profile() -> None:
    _customer("ann", email="Ann@Example.com", phone="+86-21-100", name="Ann_Lee",
              city="Shanghai", acquisition_channel="wechat", time_zone="Asia/Shanghai",
              gender="female", birthday=dt.date(1990, 5, 20), signup_at=NOW - 10 * DAY,
              last_seen_at=NOW - DAY + US, email_consent=True, tags=["vip", "tea"],
              attributes={"level": 3, "plan": "gold", "beta": True, "score": 4.5,
                          "code": "50%_off", "ratio": 0.1})
    _customer("bob", email="bob@test.org", name="Bob 100%", city="shanghai",
              time_zone="Pacific/Kiritimati", gender="male", birthday=dt.date(2000, 2, 29),
              signup_at=NOW - 30 * DAY - US, last_seen_at=NOW - 3 * DAY, sms_consent=True,
              tags=["tea"], attributes={"level": "3", "plan": "Gold", "beta": False,
                                        "score": 10, "code": "50_off", "ratio": 0.3})
    _customer("cai", email="cai@example.COM", phone="+86 21 200", name="蔡 Cai", city="上海",
              acquisition_channel="wechat", attributes={"level": 10, "plan": None,
                                                         "score": -1.25})
    _customer("dan", time_zone="America/Adak", gender="other", birthday=dt.date(1985, 12, 31),
              signup_at=NOW + HOUR, last_seen_at=NOW - 10 * DAY, email_consent=True,
              sms_consent=True, tags=["VIP"],
              attributes={"level": [3], "plan": {"name": "gold"}, "beta": "true",
                          "score": "4.5"})
    _customer("eve", email="eve@sub.example.com", phone="+1 555", name="eve", city="Beijing",
              acquisition_channel="ads", time_zone="Not/AZone", gender="female",
              birthday=dt.date(1990, 5, 21), signup_at=NOW - 10 * DAY + US,
              last_seen_at=NOW - 10 * DAY - US, email_consent=True,
              tags=["vip", "Tea", "coffee"])


def _value() -> None:
    ann, bob, cai = _customer("ann"), _customer("bob"), _customer("cai")
    _customer("dan")  # no metrics at all
    eve, fay = _customer("eve"), _customer("fay")
    _metrics(ann, order_count=4, first_order_at=NOW - 400 * DAY, last_order_at=NOW - 5 * DAY,
             frequency=4, monetary=Decimal("500.00"), ltv=Decimal("800.00"),
             aov=Decimal("200.00"), r_score=5, f_score=4, m_score=5,
             rfm_class="important_value", lifecycle_stage="active")
    _metrics(bob, order_count=2, first_order_at=NOW - 200 * DAY,
             last_order_at=NOW - 100 * DAY, frequency=2, monetary=Decimal("500.00"),
             ltv=Decimal("500.00"), aov=Decimal("250.00"), r_score=2, f_score=3, m_score=5,
             rfm_class="important_winback", lifecycle_stage="dormant")
    _metrics(cai, order_count=1, first_order_at=NOW - 10 * DAY, last_order_at=NOW - 10 * DAY,
             frequency=1, monetary=Decimal("120.50"), ltv=Decimal("120.50"), r_score=4,
             f_score=1, m_score=2, rfm_class="general_development", lifecycle_stage="new")
    _metrics(eve)  # a prospect: zeros, no scores, no class
    _metrics(fay, order_count=1, first_order_at=NOW - 365 * DAY,
             last_order_at=NOW - 365 * DAY, frequency=1, monetary=Decimal("80.00"),
             ltv=Decimal("80.00"), aov=Decimal("80.00"), r_score=1, f_score=1, m_score=1,
             rfm_class="general_winback", lifecycle_stage="churned")
    # Value-model predictions: eve (a prospect) has only a coefficient; dan has no row.
    _prediction(ann, predicted_clv=Decimal("90.00"), churn_probability=0.05,
                value_coefficient=88.5, predicted_clv_percentile=100)
    _prediction(bob, predicted_clv=Decimal("12.40"), churn_probability=0.7,
                value_coefficient=40, predicted_clv_percentile=75)
    _prediction(cai, predicted_clv=Decimal("30.00"), churn_probability=0.3,
                value_coefficient=40, predicted_clv_percentile=75.5)
    _prediction(fay, predicted_clv=Decimal("0.00"), churn_probability=0.95,
                value_coefficient=5, predicted_clv_percentile=25)
    CustomerPrediction.objects.create(customer=eve, value_coefficient=12, computed_at=NOW)


def _prediction(customer: Customer, **values) -> None:
    CustomerPrediction.objects.create(customer=customer, computed_at=NOW,
                                      expected_purchases=1, p_alive=1 - values[
                                          "churn_probability"], **values)


def _calendar() -> None:
    kiri = _customer("kiri", time_zone="Pacific/Kiritimati", birthday=dt.date(1990, 3, 10))
    adak = _customer("adak", time_zone="America/Adak", birthday=dt.date(1991, 3, 10))
    _customer("blank", time_zone="", birthday=dt.date(1992, 3, 10))
    _customer("odd", time_zone="Not/AZone", birthday=dt.date(1993, 3, 11))
    leap = _customer("leap", time_zone="Asia/Shanghai", birthday=dt.date(2000, 2, 29))
    feb28 = _customer("feb28", time_zone="UTC", birthday=dt.date(1999, 2, 28))
    mar1 = _customer("mar1", time_zone="UTC", birthday=dt.date(1998, 3, 1))
    _customer("dec31", time_zone="Asia/Shanghai", birthday=dt.date(1980, 12, 31))
    _customer("jan3", time_zone="UTC", birthday=dt.date(1981, 1, 3))
    _customer("ny", time_zone="America/New_York", birthday=dt.date(1970, 3, 8))
    _customer("nyfall", time_zone="America/New_York", birthday=dt.date(1971, 11, 1))
    _customer("none", time_zone="UTC")
    # First paid orders, for anniversaries (dates in the shop's zone).
    _metrics(kiri, first_order_at=at(2024, 3, 11, 5))  # Shanghai: 11 March 13:00
    _metrics(adak, first_order_at=at(2025, 3, 10, 23, 30))  # Shanghai: 11 March 07:30
    _metrics(leap, first_order_at=at(2024, 2, 29, 10))
    _metrics(feb28, first_order_at=at(2026, 3, 10, 1))  # the morning of NOW
    _metrics(mar1)  # a prospect: no first order
    late = _customer("late", time_zone="UTC")
    _metrics(late, first_order_at=at(2023, 2, 28, 16, 30))  # Shanghai: 1 March 00:30


def _order(customer: Customer, status: str, amount: str, placed_at: dt.datetime,
           refunded: str = "0") -> None:
    Order.objects.create(external_id=f"{customer.external_id}-{Order.objects.count()}",
                         customer=customer, storefront=StorefrontFactory(name="golden"),
                         amount=Decimal(amount), refunded_amount=Decimal(refunded),
                         currency="USD", status=status, placed_at=placed_at)


def _event(customer: Customer, name: str, occurred_at: dt.datetime, **properties) -> None:
    Event.objects.create(customer=customer, storefront=StorefrontFactory(name="golden"),
                         name=name, occurred_at=occurred_at, properties=properties)


def _stage(customer: Customer, to_stage: str, changed_at: dt.datetime,
           from_stage: str | None = "new") -> None:
    LifecycleChange.objects.create(customer=customer, from_stage=from_stage, to_stage=to_stage,
                                   changed_at=changed_at)


def _behaviour() -> None:
    buyer = _customer("buyer")
    _order(buyer, "paid", "100.00", NOW - DAY)
    _order(buyer, "paid", "50.00", NOW - 10 * DAY, refunded="20.00")
    _order(buyer, "paid", "25.00", NOW - 30 * DAY)
    _order(buyer, "paid", "1000.00", NOW - 30 * DAY - US)
    _order(buyer, "refunded", "500.00", NOW - 2 * DAY, refunded="500.00")
    _event(buyer, "visit", NOW - HOUR, page="home")
    _event(buyer, "visit", NOW - 2 * DAY, page="cart")
    _event(buyer, "login", NOW - 40 * DAY)
    _stage(buyer, "active", NOW - 5 * DAY)
    _metrics(buyer, order_count=4, first_order_at=NOW - 30 * DAY - US,
             last_order_at=NOW - DAY)

    cart = _customer("cart")
    _event(cart, "cart_add", NOW - 3 * HOUR)
    _event(cart, "cart_add", NOW - 2 * DAY)
    _event(cart, "cart_add", NOW - 10 * DAY)
    _order(cart, "cancelled", "10.00", NOW - 10 * DAY + HOUR)

    cartbuy = _customer("cartbuy")
    _event(cartbuy, "cart_add", NOW - 2 * DAY)
    _order(cartbuy, "paid", "0.70", NOW - 2 * DAY + 2 * HOUR)
    _order(cartbuy, "paid", "0.10", NOW - 3 * DAY)
    _metrics(cartbuy, order_count=2, first_order_at=NOW - 3 * DAY,
             last_order_at=NOW - 2 * DAY + 2 * HOUR)

    cartcancel = _customer("cartcancel")
    _event(cartcancel, "cart_add", NOW - 5 * DAY)
    _order(cartcancel, "cancelled", "15.00", NOW - 5 * DAY + HOUR)  # any order follows up

    unpaid = _customer("unpaid")
    _order(unpaid, "pending", "30.00", NOW - 3 * DAY)

    unpaidpaid = _customer("unpaidpaid")
    _order(unpaidpaid, "pending", "30.00", NOW - 3 * DAY)
    _order(unpaidpaid, "paid", "30.00", NOW - 3 * DAY + HOUR)

    eventful = _customer("eventful")
    _event(eventful, "view", NOW - DAY, sku="A1", qty=2, gift=True)
    _event(eventful, "view", NOW - 7 * DAY, sku="A1", qty="2", gift=1)
    _event(eventful, "view", NOW - 7 * DAY - US, sku="B2", qty=2.0, gift="true")

    onetime = _customer("onetime")
    _order(onetime, "paid", "40.00", NOW - 20 * DAY)
    _stage(onetime, "new", NOW - 20 * DAY)
    _metrics(onetime, order_count=1, first_order_at=NOW - 20 * DAY,
             last_order_at=NOW - 20 * DAY)

    late2nd = _customer("late2nd")
    _order(late2nd, "paid", "60.00", NOW - 60 * DAY)
    _order(late2nd, "pending", "5.00", NOW - 59 * DAY)
    _order(late2nd, "paid", "60.00", NOW - 20 * DAY)
    _event(late2nd, "visit", NOW - 30 * DAY)
    _stage(late2nd, "dormant", NOW - 7 * DAY)
    _metrics(late2nd, order_count=2, first_order_at=NOW - 60 * DAY,
             last_order_at=NOW - 20 * DAY)

    future = _customer("future")  # everything after NOW is not yet
    _order(future, "paid", "999.00", NOW + HOUR)
    _event(future, "visit", NOW + HOUR)
    _stage(future, "active", NOW + HOUR)

    quiet = _customer("quiet")
    _stage(quiet, "churned", NOW - 100 * DAY)
    _stage(quiet, "churned", NOW - DAY, from_stage=None)  # a first classification: no change


def _membership() -> None:
    m1, m2, m3 = _customer("m1"), _customer("m2"), _customer("m3")
    _customer("m4")
    stored = {"Inner": [m1, m2], "Other": [m3], "Empty": []}
    for name, customers in stored.items():
        segment = Segment.objects.create(name=name, rule=condition("city", "==", name))
        SegmentMembership.objects.bulk_create(
            SegmentMembership(segment=segment, customer=customer, entered_at=NOW)
            for customer in customers)


def _coupons() -> None:
    from campaigns.models import Coupon, CouponDefinition

    on = CouponDefinition.objects.create(name="on", kind="fixed", value=5)
    off = CouponDefinition.objects.create(name="off", kind="fixed", value=5, is_active=False)
    held = [("tomorrow", on, "active", NOW + DAY - US), ("soon", on, "active", NOW + 2 * DAY),
            ("edge", on, "active", NOW + 3 * DAY), ("later", on, "active", NOW + 30 * DAY),
            ("now", on, "active", NOW), ("past", on, "active", NOW - HOUR),
            ("used", on, "redeemed", NOW + DAY), ("off", off, "active", NOW + DAY),
            ("never", on, "active", None)]
    for external_id, definition, status, expires_at in held:
        Coupon.objects.create(definition=definition, code=f"CODE{external_id.upper()}",
                              customer=_customer(external_id), status=status,
                              issued_at=NOW - 10 * DAY, expires_at=expires_at)
    Coupon.objects.create(definition=on, code="SHARED", issued_at=NOW - DAY,
                          expires_at=NOW + DAY)  # a shared code belongs to no one
    _customer("none")


FIXTURES = {"profile": _profile, "value": _value, "calendar": _calendar,
            "behaviour": _behaviour, "membership": _membership, "coupons": _coupons}


# --- cases -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    fixture: str
    rule: dict
    members: frozenset[str]
    now: dt.datetime = NOW
    zone: str = "UTC"  # the shop's time zone


def case(fixture, field, operator, value=None, members=(), **options) -> Case:
    return Case(fixture, condition(field, operator, value), frozenset(members), **options)


def profile(*args, **kwargs) -> Case:
    return case("profile", *args, **kwargs)


def metric(*args, **kwargs) -> Case:
    return case("value", *args, **kwargs)


def cal(*args, **kwargs) -> Case:
    return case("calendar", *args, **kwargs)


def behaviour(*args, **kwargs) -> Case:
    return case("behaviour", *args, **kwargs)


def member(*args, **kwargs) -> Case:
    return case("membership", *args, **kwargs)


PROFILE_CASES = [
    # Text: == and in are exact; != and not_in include blanks.
    profile("city", "==", "Shanghai", {"ann"}),
    profile("city", "!=", "Shanghai", {"bob", "cai", "dan", "eve"}),
    profile("city", "in", ["Shanghai", "上海"], {"ann", "cai"}),
    profile("city", "not_in", ["Shanghai", "上海"], {"bob", "dan", "eve"}),
    profile("city", "is_null", None, {"dan"}),
    profile("city", "is_not_null", None, {"ann", "bob", "cai", "eve"}),
    profile("external_id", "==", "eve", {"eve"}),
    profile("time_zone", "==", "", {"cai"}),
    profile("time_zone", "is_null", None, {"cai"}),
    profile("acquisition_channel", "in", ["wechat"], {"ann", "cai"}),
    # Text matching folds A-Z only; % and _ are literal.
    profile("email", "contains", "example.com", {"ann", "cai", "eve"}),
    profile("email", "ends_with", ".COM", {"ann", "cai", "eve"}),
    profile("email", "starts_with", "ANN", {"ann"}),
    profile("name", "contains", "_", {"ann"}),
    profile("name", "ends_with", "%", {"bob"}),
    profile("name", "contains", "蔡", {"cai"}),
    profile("name", "contains", "cai", {"cai"}),
    profile("phone", "starts_with", "+86", {"ann", "cai"}),
    profile("time_zone", "starts_with", "america/", {"dan"}),
    # Enum: "" is the unknown gender, which is what is_null finds.
    profile("gender", "==", "female", {"ann", "eve"}),
    profile("gender", "!=", "female", {"bob", "cai", "dan"}),
    profile("gender", "in", ["male", "other"], {"bob", "dan"}),
    profile("gender", "not_in", ["male", "other"], {"ann", "cai", "eve"}),
    profile("gender", "is_null", None, {"cai"}),
    profile("gender", "is_not_null", None, {"ann", "bob", "dan", "eve"}),
    profile("gender", "==", "", {"cai"}),
    # Consent
    profile("email_consent", "==", True, {"ann", "dan", "eve"}),
    profile("email_consent", "==", False, {"bob", "cai"}),
    profile("sms_consent", "==", True, {"bob", "dan"}),
    # Tags are case-sensitive.
    profile("tags", "has_tag", "vip", {"ann", "eve"}),
    profile("tags", "has_tag", "Tea", {"eve"}),
    profile("tags", "has_any_tag", ["coffee", "tea"], {"ann", "bob", "eve"}),
    profile("tags", "has_all_tags", ["vip", "tea"], {"ann"}),
    profile("tags", "has_all_tags", ["vip"], {"ann", "eve"}),
    # Dates
    profile("birthday", "<", "1990-05-21", {"ann", "dan"}),
    profile("birthday", "<=", "1990-05-21", {"ann", "dan", "eve"}),
    profile("birthday", ">", "1990-05-20", {"bob", "eve"}),
    profile("birthday", ">=", "2000-02-29", {"bob"}),
    profile("birthday", "between", ["1990-01-01", "1990-12-31"], {"ann", "eve"}),
    profile("birthday", "is_null", None, {"cai"}),
    profile("birthday", "is_not_null", None, {"ann", "bob", "dan", "eve"}),
    # Whole days since a moment: 10, 30, none, -1 (the future), 9 ...
    profile("days_since_signup", "==", 10, {"ann"}),
    profile("days_since_signup", "!=", 10, {"bob", "cai", "dan", "eve"}),
    profile("days_since_signup", "<", 10, {"dan", "eve"}),
    profile("days_since_signup", "<=", 10, {"ann", "dan", "eve"}),
    profile("days_since_signup", ">", 9, {"ann", "bob"}),
    profile("days_since_signup", ">=", 30, {"bob"}),
    profile("days_since_signup", "between", [9, 10], {"ann", "eve"}),
    profile("days_since_signup", "is_null", None, {"cai"}),
    profile("days_since_signup", "is_not_null", None, {"ann", "bob", "dan", "eve"}),
    # ... and 0, 3, none, 10, 10.
    profile("days_since_last_seen", "==", 0, {"ann"}),
    profile("days_since_last_seen", ">=", 10, {"dan", "eve"}),
    profile("days_since_last_seen", "<=", 3, {"ann", "bob"}),
    # Attributes compare only with values of their own JSON type.
    profile("attributes.level", "==", 3, {"ann"}),
    profile("attributes.level", "==", "3", {"bob"}),
    profile("attributes.level", "!=", 3, {"bob", "cai", "dan", "eve"}),
    profile("attributes.level", ">", 2, {"ann", "cai"}),
    profile("attributes.level", ">=", 3.0, {"ann", "cai"}),
    profile("attributes.level", "<", 10, {"ann"}),
    profile("attributes.level", "<=", 10, {"ann", "cai"}),
    profile("attributes.level", "between", [3, 9], {"ann"}),
    profile("attributes.level", "in", [3, "3"], {"ann", "bob"}),
    profile("attributes.level", "not_in", [3, "3"], {"cai", "dan", "eve"}),
    profile("attributes.level", "is_null", None, {"eve"}),
    profile("attributes.level", "is_not_null", None, {"ann", "bob", "cai", "dan"}),
    profile("attributes.plan", "==", "gold", {"ann"}),
    profile("attributes.plan", "contains", "GOLD", {"ann", "bob"}),
    profile("attributes.plan", "starts_with", "g", {"ann", "bob"}),
    profile("attributes.plan", "ends_with", "LD", {"ann", "bob"}),
    profile("attributes.plan", "is_null", None, {"cai", "eve"}),  # JSON null or missing
    profile("attributes.plan", ">", "G", {"ann", "bob"}),
    profile("attributes.plan", "<", "a", {"bob"}),  # by code point: "G" < "a"
    profile("attributes.plan", "between", ["Gold", "gold"], {"ann", "bob"}),
    profile("attributes.beta", "==", True, {"ann"}),
    profile("attributes.beta", "==", False, {"bob"}),
    profile("attributes.beta", "!=", True, {"bob", "cai", "dan", "eve"}),
    profile("attributes.beta", "==", "true", {"dan"}),
    profile("attributes.beta", "in", [True, False], {"ann", "bob"}),
    profile("attributes.beta", ">", False, {"ann"}),
    profile("attributes.score", "==", 4.5, {"ann"}),
    profile("attributes.score", "==", 10.0, {"bob"}),
    profile("attributes.score", ">", 4.4, {"ann", "bob"}),
    profile("attributes.score", "<", 0, {"cai"}),
    profile("attributes.score", "between", [-1.25, 4.5], {"ann", "cai"}),
    profile("attributes.score", "in", [10, -1.25], {"bob", "cai"}),
    # Numbers as written: 0.1 is not Decimal(0.1) = 0.1000000000000000055...
    profile("attributes.ratio", "==", 0.1, {"ann"}),
    profile("attributes.ratio", ">=", 0.1, {"ann", "bob"}),
    profile("attributes.ratio", "in", [0.3], {"bob"}),
    profile("attributes.code", "contains", "%_", {"ann"}),
    profile("attributes.code", "starts_with", "50_", {"bob"}),
    profile("attributes.nothing", "==", 1, set()),
]

VALUE_CASES = [
    # dan has no metrics row: no value for any metric.
    metric("monetary", "==", 500, {"ann", "bob"}),
    metric("monetary", "!=", 500, {"cai", "dan", "eve", "fay"}),
    metric("monetary", ">", 100, {"ann", "bob", "cai"}),
    metric("monetary", "<", 100, {"eve", "fay"}),
    metric("monetary", "<=", 0, {"eve"}),
    metric("monetary", ">=", 120.5, {"ann", "bob", "cai"}),
    metric("monetary", "between", [80, 120.5], {"cai", "fay"}),
    metric("monetary", "is_null", None, {"dan"}),
    metric("monetary", "is_not_null", None, {"ann", "bob", "cai", "eve", "fay"}),
    metric("aov", "is_null", None, {"cai", "dan", "eve"}),
    metric("aov", ">", 100, {"ann", "bob"}),
    metric("aov", "!=", 80, {"ann", "bob", "cai", "dan", "eve"}),
    metric("ltv", ">", 499.99, {"ann", "bob"}),
    metric("frequency", "==", 1, {"cai", "fay"}),
    metric("frequency", ">=", 2, {"ann", "bob"}),
    metric("order_count", "<", 1, {"eve"}),
    metric("r_score", "==", 5, {"ann"}),
    metric("r_score", "<=", 2, {"bob", "fay"}),
    metric("r_score", "is_null", None, {"dan", "eve"}),
    metric("m_score", ">=", 5, {"ann", "bob"}),
    metric("f_score", "between", [1, 3], {"bob", "cai", "fay"}),
    metric("rfm_class", "==", "important_value", {"ann"}),
    metric("rfm_class", "!=", "important_value", {"bob", "cai", "dan", "eve", "fay"}),
    metric("rfm_class", "in", ["important_winback", "general_winback"], {"bob", "fay"}),
    metric("rfm_class", "not_in", ["important_winback", "general_winback"],
           {"ann", "cai", "dan", "eve"}),
    metric("rfm_class", "is_null", None, {"dan", "eve"}),
    metric("rfm_class", "is_not_null", None, {"ann", "bob", "cai", "fay"}),
    metric("lifecycle_stage", "==", "prospect", {"eve"}),
    metric("lifecycle_stage", "in", ["new", "active"], {"ann", "cai"}),
    metric("lifecycle_stage", "is_null", None, {"dan"}),
    # Recency: 5, 100, 10, none, none, 365 days.
    metric("recency_days", ">=", 90, {"bob", "fay"}),
    metric("recency_days", "<", 30, {"ann", "cai"}),
    metric("recency_days", "==", 365, {"fay"}),
    metric("recency_days", "!=", 365, {"ann", "bob", "cai", "dan", "eve"}),
    metric("recency_days", "between", [5, 10], {"ann", "cai"}),
    metric("recency_days", "is_null", None, {"dan", "eve"}),
    metric("days_since_first_order", ">", 364, {"ann", "fay"}),
    # Ranking: monetary 500, 500, 120.50, 0, 80 over 5 customers with metrics; ties all in,
    # zero never.
    metric("monetary", "top_percent", 20, {"ann", "bob"}),
    metric("monetary", "top_percent", 40, {"ann", "bob"}),
    metric("monetary", "top_percent", 50, {"ann", "bob", "cai"}),
    metric("monetary", "top_percent", 100, {"ann", "bob", "cai", "fay"}),
    # aov 200, 250, 80 over 3 customers who have one: rank ceil(3 * 34%) = 2, ceil(0.99) = 1.
    metric("aov", "top_percent", 34, {"ann", "bob"}),
    metric("aov", "top_percent", 33, {"bob"}),
    metric("aov", "top_percent", 33.4, {"ann", "bob"}),
    # frequency 4, 2, 1, 0, 1: rank 3 is a tie at 1.
    metric("frequency", "top_percent", 1, {"ann"}),
    metric("frequency", "top_percent", 60, {"ann", "bob", "cai", "fay"}),
    metric("ltv", "top_percent", 100, {"ann", "bob", "cai", "fay"}),
    metric("order_count", "top_percent", 40, {"ann", "bob"}),
    # Predictions: the top 50% of the 4 with a predicted CLV are ann (90) and cai (30);
    # fay's 0 never counts as "top".
    metric("predicted_clv", "top_percent", 50, {"ann", "cai"}),
    metric("predicted_clv", "top_percent", 100, {"ann", "bob", "cai"}),
    metric("churn_probability", ">=", 0.7, {"bob", "fay"}),
    metric("churn_probability", "is_null", None, {"dan", "eve"}),
    metric("value_coefficient", "between", [12, 40], {"bob", "cai", "eve"}),
    metric("predicted_clv_percentile", ">", 75, {"ann", "cai"}),
]

SHANGHAI = "Asia/Shanghai"
CALENDAR_CASES = [
    # One birthday (10 March) in three zones. 9 March 10:30 UTC is 10 March 00:30 in
    # Kiritimati (+14) and 9 March 01:30 in Adak (-9, daylight time since 8 March).
    cal("birthday", "birthday_today", None, {"kiri"}, now=at(2026, 3, 9, 10, 30)),
    cal("birthday", "birthday_today", None, {"kiri", "blank"}, now=at(2026, 3, 10, 8, 30)),
    cal("birthday", "birthday_today", None, {"kiri", "adak", "blank"},
        now=at(2026, 3, 10, 9, 30)),
    cal("birthday", "birthday_today", None, {"adak", "blank"}),
    # Blank and unknown zones use the shop's: Shanghai is already on 11 March.
    cal("birthday", "birthday_today", None, {"adak", "odd"}, zone=SHANGHAI,
        now=at(2026, 3, 10, 16, 30)),
    cal("birthday", "birthday_within_days", 1, {"adak", "blank", "odd"}),
    cal("birthday", "birthday_within_days", 0, {"adak", "blank"}),
    # 29 February: on 28 February in other years, on the 29th in leap years.
    cal("birthday", "birthday_today", None, {"leap", "feb28"}, now=at(2027, 2, 28, 12)),
    cal("birthday", "birthday_today", None, {"feb28"}, now=at(2028, 2, 28, 12)),
    cal("birthday", "birthday_today", None, {"leap"}, now=at(2028, 2, 29, 12)),
    cal("birthday", "birthday_today", None, {"mar1"}, now=at(2027, 3, 1, 12)),
    cal("birthday", "birthday_within_days", 1, {"leap", "feb28"}, now=at(2027, 2, 27, 12)),
    cal("birthday", "birthday_within_days", 1, {"feb28"}, now=at(2028, 2, 27, 12)),
    cal("birthday", "birthday_within_days", 2, {"leap", "feb28"}, now=at(2028, 2, 27, 12)),
    # Across the year end: 30 December + 5 days reaches 4 January.
    cal("birthday", "birthday_within_days", 5, {"dec31", "jan3"}, now=at(2026, 12, 30, 12)),
    cal("birthday", "birthday_within_days", 3, {"dec31"}, now=at(2026, 12, 30, 12)),
    cal("birthday", "birthday_today", None, {"dec31"}, now=at(2026, 12, 31, 15)),
    cal("birthday", "birthday_today", None, set(), now=at(2026, 12, 31, 17)),  # Shanghai: 1 Jan
    # Daylight-saving days in New York: 8 March 2026 begins at 05:00 UTC (EST), 9 March at
    # 04:00 UTC (EDT); 1 November begins at 04:00 UTC (EDT) and ends at 05:00 UTC (EST).
    cal("birthday", "birthday_today", None, set(), now=at(2026, 3, 8, 4, 30)),
    cal("birthday", "birthday_today", None, {"ny"}, now=at(2026, 3, 8, 5, 30)),
    cal("birthday", "birthday_today", None, {"ny"}, now=at(2026, 3, 9, 3, 30)),
    cal("birthday", "birthday_within_days", 1, {"kiri", "blank"}, now=at(2026, 3, 9, 4, 30)),
    cal("birthday", "birthday_today", None, set(), now=at(2026, 11, 1, 3, 30)),
    cal("birthday", "birthday_today", None, {"nyfall"}, now=at(2026, 11, 1, 4, 30)),
    cal("birthday", "birthday_today", None, {"nyfall"}, now=at(2026, 11, 2, 4, 30)),
    cal("birthday", "birthday_today", None, set(), now=at(2026, 11, 2, 5, 30)),
    # The month in the customer's zone.
    cal("birthday", "birthday_this_month", None, {"kiri", "adak", "blank", "odd", "mar1", "ny"}),
    cal("birthday", "birthday_this_month", None, {"kiri", "leap", "feb28"},
        now=at(2026, 2, 28, 12)),
    cal("birthday", "birthday_this_month", None, set(), now=at(2026, 12, 31, 17)),
    cal("birthday", "birthday_this_month", None, {"dec31"},
        now=at(2026, 12, 31, 15)),
    # First-order anniversaries: the order's date in the shop's zone, the customer's today;
    # an order placed today (feb28's) has no anniversary yet.
    cal("first_order", "anniversary_today", None, {"kiri", "adak"}),
    cal("first_order", "anniversary_today", None, {"kiri"}, zone=SHANGHAI),
    cal("first_order", "anniversary_today", None, {"leap", "late"}, now=at(2027, 2, 28, 12)),
    cal("first_order", "anniversary_today", None, {"late"}, now=at(2028, 2, 28, 12)),
    # A shop ahead of UTC: late's first order fell on 1 March there, 28 February in UTC
    # (which the index holds), in a year without 29 February; its anniversary in a leap year.
    cal("first_order", "anniversary_today", None, {"late"}, zone=SHANGHAI,
        now=at(2024, 3, 1, 12)),
    cal("first_order", "anniversary_today", None, set(), zone=SHANGHAI,
        now=at(2024, 2, 29, 12)),
    cal("first_order", "anniversary_within_days", 1, {"kiri", "adak"}),
    cal("first_order", "anniversary_within_days", 365, {"kiri", "adak", "leap", "late"}),
    cal("first_order", "anniversary_within_days", 1, {"adak", "kiri"}, zone=SHANGHAI,
        now=at(2026, 3, 10, 15, 30)),
]

VISIT = {"name": "visit"}
BEHAVIOUR_CASES = [
    # Events: ever means up to now, never later; "within D days" includes now - D days.
    behaviour("events", "did_event", VISIT, {"buyer", "late2nd"}),
    behaviour("events", "did_event", {**VISIT, "within_days": 1}, {"buyer"}),
    behaviour("events", "did_event", {**VISIT, "min_count": 2}, {"buyer"}),
    behaviour("events", "did_event", {**VISIT, "min_count": 2, "within_days": 2}, {"buyer"}),
    behaviour("events", "did_event", {**VISIT, "min_count": 2, "within_days": 1}, set()),
    behaviour("events", "did_event", {**VISIT, "properties": {"page": "cart"}}, {"buyer"}),
    # Properties compare typed: 2 and 2.0 are equal, "2" is not, nor is 1 true or "true".
    behaviour("events", "did_event", {"name": "view", "properties": {"qty": 2}, "min_count": 2},
              {"eventful"}),
    behaviour("events", "did_event", {"name": "view", "properties": {"qty": 2}, "min_count": 3},
              set()),
    behaviour("events", "did_event", {"name": "view", "properties": {"qty": "2"}},
              {"eventful"}),
    behaviour("events", "did_event",
              {"name": "view", "properties": {"gift": True}, "min_count": 2}, set()),
    behaviour("events", "did_event",
              {"name": "view", "properties": {"gift": "true"}, "within_days": 7}, set()),
    behaviour("events", "did_event",
              {"name": "view", "properties": {"gift": 1}, "within_days": 7}, {"eventful"}),
    behaviour("events", "did_event", {"name": "view", "properties": {"sku": "A1", "qty": 2}},
              {"eventful"}),
    behaviour("events", "did_event", {"name": "view", "within_days": 7, "min_count": 3}, set()),
    behaviour("events", "did_event", {"name": "view", "min_count": 3}, {"eventful"}),
    behaviour("events", "did_not_event", {**VISIT, "within_days": 1},
              {"cart", "cartbuy", "cartcancel", "unpaid", "unpaidpaid", "eventful", "onetime",
               "late2nd", "future", "quiet"}),
    behaviour("events", "did_not_event", {"name": "cart_add"},
              {"buyer", "unpaid", "unpaidpaid", "eventful", "onetime", "late2nd", "future",
               "quiet"}),
    # Paid orders within the window, net of refunds: buyer's last 30 days are 100 + 30 + 25.
    behaviour("orders", "orders_within", {"within_days": 30, "min_count": 3}, {"buyer"}),
    behaviour("orders", "orders_within", {"within_days": 30, "min_count": 4}, set()),
    behaviour("orders", "orders_within", {"within_days": 31, "min_count": 4}, {"buyer"}),
    behaviour("orders", "orders_within", {"within_days": 30, "min_amount": 155}, {"buyer"}),
    behaviour("orders", "orders_within", {"within_days": 30, "min_amount": 155.01}, set()),
    behaviour("orders", "orders_within", {"within_days": 7, "min_amount": 0.8},
              {"buyer", "cartbuy", "unpaidpaid"}),  # cartbuy: 0.70 + 0.10 is exactly 0.80
    behaviour("orders", "orders_within", {"within_days": 7, "min_count": 2, "min_amount": 0.5},
              {"cartbuy"}),
    behaviour("orders", "orders_within", {"within_days": 1, "min_count": 1}, {"buyer"}),
    behaviour("orders", "orders_within", {"within_days": 1, "min_amount": 0}, {"buyer"}),
    # First paid order (metrics) at least D days ago and no paid order in the D days after it.
    behaviour("first_order", "first_order_no_repeat", {"days": 14}, {"onetime", "late2nd"}),
    behaviour("first_order", "first_order_no_repeat", {"days": 20}, {"onetime", "late2nd"}),
    behaviour("first_order", "first_order_no_repeat", {"days": 39}, {"late2nd"}),
    behaviour("first_order", "first_order_no_repeat", {"days": 40}, set()),
    # Carts and pending orders left without a follow-up for H hours.
    behaviour("cart", "cart_abandoned", {"hours": 6}, {"cart"}),
    behaviour("cart", "cart_abandoned", {"hours": 1}, {"cart", "cartbuy"}),
    behaviour("cart", "cart_abandoned", {"hours": 6, "within_days": 1}, set()),
    behaviour("cart", "cart_abandoned", {"hours": 3, "within_days": 1}, {"cart"}),
    behaviour("orders", "unpaid_order", {"hours": 24}, {"unpaid"}),
    behaviour("orders", "unpaid_order", {"hours": 24, "within_days": 60}, {"unpaid", "late2nd"}),
    behaviour("orders", "unpaid_order", {"hours": 72}, {"unpaid"}),
    behaviour("orders", "unpaid_order", {"hours": 73}, set()),
    # Lifecycle stage changes, both ends of the window included.
    behaviour("lifecycle_stage", "stage_changed_to", {"stage": "active", "within_days": 5},
              {"buyer"}),
    behaviour("lifecycle_stage", "stage_changed_to", {"stage": "active", "within_days": 4},
              set()),
    behaviour("lifecycle_stage", "stage_changed_to", {"stage": "dormant", "within_days": 7},
              {"late2nd"}),
    behaviour("lifecycle_stage", "stage_changed_to", {"stage": "churned", "within_days": 365},
              {"quiet"}),
]

COUPON_CASES = [
    # Usable personal codes with now < expires_at <= now + D days.
    case("coupons", "coupons", "coupon_expiring_within", 1, {"tomorrow"}),
    case("coupons", "coupons", "coupon_expiring_within", 2, {"tomorrow", "soon"}),
    case("coupons", "coupons", "coupon_expiring_within", 3, {"tomorrow", "soon", "edge"}),
    case("coupons", "coupons", "coupon_expiring_within", 30,
         {"tomorrow", "soon", "edge", "later"}),
    case("coupons", "coupons", "coupon_expiring_within", 1, {"soon"},
         now=NOW + 2 * DAY - HOUR),
]

MEMBERSHIP_CASES = [
    member("segment", "in_segment", "@Inner", {"m1", "m2"}),
    member("segment", "not_in_segment", "@Inner", {"m3", "m4"}),
    member("segment", "in_segment", "@Empty", set()),
    member("segment", "not_in_segment", "@Empty", {"m1", "m2", "m3", "m4"}),
]

SHANGHAI_RULE = condition("city", "==", "Shanghai")
GROUP_CASES = [
    Case("profile", {"and": []}, frozenset({"ann", "bob", "cai", "dan", "eve"})),
    Case("profile", {"or": []}, frozenset()),
    Case("profile", {"or": [{"and": []}, SHANGHAI_RULE]},
         frozenset({"ann", "bob", "cai", "dan", "eve"})),
    Case("profile", {"and": [{"or": []}, SHANGHAI_RULE]}, frozenset()),
    Case("profile", {"!": {"and": []}}, frozenset()),
    Case("profile", {"!": [SHANGHAI_RULE]}, frozenset({"bob", "cai", "dan", "eve"})),
    Case("profile", {"and": [condition("tags", "has_tag", "vip"),
                             {"!": condition("gender", "==", "female")}]}, frozenset()),
    Case("profile", {"or": [condition("attributes.level", ">", 5),
                            condition("city", "==", "Beijing")]}, frozenset({"cai", "eve"})),
    Case("value", {"or": [condition("rfm_class", "==", "important_value"),
                          {"!": condition("monetary", ">", 100)}]},
         frozenset({"ann", "dan", "eve", "fay"})),
    Case("value", {"and": [condition("monetary", "top_percent", 50),
                           {"!": condition("lifecycle_stage", "==", "dormant")}]},
         frozenset({"ann", "cai"})),
]

# A condition on a missing value must be FALSE, never SQL NULL, at any depth of negation: the
# negated runs of these put "!=", "not_in" and "!" under a second "!".
TWO_VALUED_CASES = [
    Case("value", {"and": [condition("recency_days", "!=", 5), condition("frequency", "<", 1)]},
         frozenset({"eve"})),
    Case("value", {"and": [condition("rfm_class", "not_in", ["important_value"]),
                           condition("monetary", "top_percent", 50)]}, frozenset({"bob", "cai"})),
    Case("value", {"or": [condition("aov", "!=", 80), condition("r_score", "between", [1, 2])]},
         frozenset({"ann", "bob", "cai", "dan", "eve", "fay"})),
    Case("calendar", {"and": [condition("birthday", "birthday_this_month"),
                              {"!": condition("birthday", "birthday_today")}]},
         frozenset({"kiri", "odd", "mar1", "ny"})),
    Case("behaviour", {"and": [condition("first_order", "first_order_no_repeat", {"days": 14}),
                               condition("events", "did_not_event", {"name": "visit"})]},
         frozenset({"onetime"})),
    Case("profile", {"and": [condition("days_since_signup", "!=", 10),
                             condition("birthday", ">", "1980-01-01")]},
         frozenset({"bob", "dan", "eve"})),
]

CASES = (PROFILE_CASES + VALUE_CASES + CALENDAR_CASES + BEHAVIOUR_CASES + COUPON_CASES
         + MEMBERSHIP_CASES + GROUP_CASES + TWO_VALUED_CASES)


def _case_id(each: Case) -> str:
    text = repr(each.rule).replace(" ", "")
    return f"{each.fixture}:{text[:90]}@{each.now:%Y-%m-%dT%H:%M}Z/{each.zone}"


def resolve(rule, segment_ids: dict[str, int]):
    """The rule with "@Name" segment references replaced by ids."""
    if isinstance(rule, dict):
        return {key: resolve(item, segment_ids) for key, item in rule.items()}
    if isinstance(rule, list):
        return [resolve(item, segment_ids) for item in rule]
    if isinstance(rule, str) and rule.startswith("@"):
        return segment_ids[rule[1:]]
    return rule


def sql_members(rule, now: dt.datetime, zone: str) -> set[str]:
    context = Context(now=now, default_zone=zoneinfo.ZoneInfo(zone))
    return set(Customer.objects.filter(compile_node(parse(rule), context))
               .values_list("external_id", flat=True))


def reference_members(rule, now: dt.datetime, zone: str) -> set[str]:
    return reference.members_by_external_id(parse(rule), reference.World.load(now, zone))


# --- tests -----------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("negated", [False, True], ids=["plain", "negated"])
@pytest.mark.parametrize("golden", CASES, ids=[_case_id(each) for each in CASES])
def test_golden_case(golden: Case, negated: bool):
    FIXTURES[golden.fixture]()
    everyone = set(Customer.objects.values_list("external_id", flat=True))
    rule = resolve(golden.rule, dict(Segment.objects.values_list("name", "pk")))
    expected = set(golden.members)
    if negated:
        rule, expected = {"!": rule}, everyone - expected

    assert sql_members(rule, golden.now, golden.zone) == expected
    assert reference_members(rule, golden.now, golden.zone) == expected


def test_every_operator_has_golden_cases():
    covered = {each.operator.name for golden in CASES
               for each in conditions(parse(resolve(golden.rule, {"Inner": 1, "Empty": 2})))}
    assert set(OPERATORS) - covered == set()


def test_the_reference_knows_every_registered_field():
    assert reference.unknown_fields() == set()


TOP_PERCENT_CASES = [golden for golden in VALUE_CASES
                     if "top_percent" in repr(golden.rule)]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("margin", [2, 0.5], ids=["bound-holds-the-rank", "bound-too-high"])
@pytest.mark.parametrize("golden", TOP_PERCENT_CASES,
                         ids=[_case_id(each) for each in TOP_PERCENT_CASES])
def test_top_percent_read_above_a_sampled_bound_is_exact(golden: Case, margin, monkeypatch):
    """With every page sampled the bound is deterministic: a margin of 2 leaves at least the
    rank above it, 0.5 too few, so the cut-off falls back to ranking every row."""
    monkeypatch.setattr(operators, "RANK_SAMPLE_PERCENT", 100)
    monkeypatch.setattr(operators, "RANK_SAMPLE_MARGIN", margin)
    FIXTURES[golden.fixture]()

    assert sql_members(golden.rule, golden.now, golden.zone) == set(golden.members)
