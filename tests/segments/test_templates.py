"""Every shipped template parses, compiles and evaluates (on PostgreSQL and SQLite) to the
members a hand-checked shop says it should; parameters are checked and named."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from customers.models import CustomerMetrics, LifecycleChange, LifecycleStage, OrderStatus
from segments.library import TEMPLATES, TemplateError, describe_templates, template_rule
from segments.models import Segment, SegmentMembership
from segments.rules import parse
from segments.services.evaluation import segment_evaluate
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

REQUIRED = {
    "rfm_important_value", "rfm_important_development", "rfm_important_retention",
    "rfm_important_winback", "rfm_general_value", "rfm_general_development",
    "rfm_general_retention", "rfm_general_winback",
    "stage_prospect", "stage_new", "stage_active", "stage_dormant", "stage_churned",
    "birthday_today", "birthday_this_week", "birthday_this_month",
    "dormant_30", "dormant_60", "dormant_90", "high_value_top_percent", "high_ltv",
    "first_order_no_repeat", "cart_abandoners", "repeat_buyers", "churn_risk",
    "unpaid_orders", "first_order_anniversary", "email_reachable", "recently_churned",
}

# Who each template selects in the shop below at NOW (templates not listed: nobody).
EXPECTED = {
    "rfm_important_value": {"champ"},
    "rfm_important_retention": {"lapsed"},
    "rfm_general_development": {"once"},
    "rfm_general_winback": {"churned"},
    "stage_prospect": {"prospect"},
    "stage_new": {"once"},
    "stage_active": {"champ"},
    "stage_dormant": {"lapsed"},
    "stage_churned": {"churned"},
    "recently_churned": {"churned"},
    "birthday_today": {"prospect"},
    "birthday_this_week": {"prospect", "soon"},
    "birthday_this_month": {"prospect", "soon"},
    "birthday_in_days": {"soon"},
    "first_order_anniversary": {"champ"},
    "high_value_top_percent": {"champ"},
    "high_ltv": {"champ"},
    "recent_big_spenders": {"champ"},
    "repeat_buyers": {"champ", "lapsed", "churned"},
    "dormant_30": {"lapsed", "once", "churned"},
    "dormant_60": {"lapsed", "churned"},
    "dormant_90": {"lapsed", "churned"},
    "churn_risk": {"lapsed"},
    "first_order_no_repeat": {"once"},
    "cart_abandoners": {"cart"},
    "unpaid_orders": {"unpaid"},
    "browsing_not_buying": {"cart"},
    "new_signups_without_order": {"prospect"},
    "email_reachable": {"prospect"},
    "city": {"lapsed"},
}


def _customer(external_id, **fields):
    return CustomerFactory(external_id=external_id, signup_at=NOW - 400 * DAY, **fields)


def _metrics(customer, *, stage, orders=0, ltv="0", last=None, first=None, rfm=None):
    CustomerMetrics.objects.create(
        customer=customer, lifecycle_stage=stage, order_count=orders, ltv=Decimal(ltv),
        monetary=Decimal(ltv), last_order_at=last and NOW - last * DAY,
        first_order_at=first and NOW - first * DAY, rfm_class=rfm, computed_at=NOW)


@pytest.fixture
def shop(db):
    """A shop small enough to check by eye; see EXPECTED."""
    champ = _customer("champ")
    _metrics(champ, stage=LifecycleStage.ACTIVE, orders=5, ltv="3000", last=10, first=365,
             rfm="important_value")
    OrderFactory(customer=champ, amount=Decimal("600.00"), placed_at=NOW - 10 * DAY)
    lapsed = _customer("lapsed", city="Shanghai")
    _metrics(lapsed, stage=LifecycleStage.DORMANT, orders=3, ltv="600", last=100, first=300,
             rfm="important_retention")
    once = _customer("once")
    _metrics(once, stage=LifecycleStage.NEW, orders=1, ltv="50", last=40, first=40,
             rfm="general_development")
    prospect = _customer("prospect", birthday=dt.date(1990, 11, 22), email_consent=True)
    prospect.signup_at = NOW - 3 * DAY
    prospect.save()
    _metrics(prospect, stage=LifecycleStage.PROSPECT)
    _customer("soon", birthday=dt.date(1985, 11, 25))
    churned = _customer("churned")
    _metrics(churned, stage=LifecycleStage.CHURNED, orders=2, ltv="80", last=200, first=260,
             rfm="general_winback")
    LifecycleChange.objects.create(customer=churned, from_stage=LifecycleStage.DORMANT,
                                   to_stage=LifecycleStage.CHURNED, changed_at=NOW - 2 * DAY)
    cart = _customer("cart")
    EventFactory(customer=cart, name="cart_add", occurred_at=NOW - 30 * dt.timedelta(hours=1))
    for days_ago in (1, 2, 3):
        EventFactory(customer=cart, name="visit", occurred_at=NOW - days_ago * DAY)
    unpaid = _customer("unpaid")
    OrderFactory(customer=unpaid, status=OrderStatus.PENDING,
                 placed_at=NOW - 5 * dt.timedelta(hours=1))


def test_the_templates_operators_expect_are_all_there():
    assert len(TEMPLATES) >= 20
    assert set(TEMPLATES) >= REQUIRED


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_each_template_evaluates_to_the_hand_checked_members(shop, key):
    template = TEMPLATES[key]
    segment = Segment.objects.create(name=key, rule=template.rule(template.example_params()))

    segment_evaluate(segment.pk, now=NOW)

    members = set(SegmentMembership.objects.filter(segment=segment)
                  .values_list("customer__external_id", flat=True))
    assert members == EXPECTED.get(key, set())


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_each_template_is_named_and_described_in_both_languages(key):
    template = TEMPLATES[key]
    with translation.override("zh-hans"):
        chinese = (str(template.name), str(template.description))
    with translation.override("en"):
        english = (str(template.name), str(template.description))

    assert all(english)
    assert all(chinese)
    assert chinese[0] != english[0]
    assert chinese[1] != english[1]
    for param in template.params:
        with translation.override("zh-hans"):
            chinese_label = str(param.label)
        with translation.override("en"):
            assert chinese_label != str(param.label), param.name


def test_each_template_rule_parses_with_its_defaults_and_every_param_schema_is_complete():
    for described in describe_templates():
        parse(described["rule"])
        for name, schema in described["params"]["properties"].items():
            assert schema["type"] in {"integer", "number", "string"}, name
            assert schema["title"], name


def test_params_override_the_defaults():
    assert template_rule("repeat_buyers", {"min_orders": 3}) == {
        ">=": [{"var": "order_count"}, 3]}
    assert template_rule("birthday_in_days", {"days": 0}) == {
        "birthday_today": [{"var": "birthday"}]}


@pytest.mark.parametrize(("key", "params", "problems"), [
    ("nope", {}, [("template", "unknown template 'nope'")]),
    ("dormant_30", {"days": 1.5}, [("params.days", "expected an integer")]),
    ("dormant_30", {"days": True}, [("params.days", "expected an integer")]),
    ("dormant_30", {"days": 40_000}, [("params.days", "must be at most 36500")]),
    ("high_value_top_percent", {"percent": 0}, [("params.percent", "must be at least 0.01")]),
    ("city", {"city": "  "}, [("params.city", "expected 1 to 200 characters")]),
    ("city", {}, [("params.city", "required")]),
    ("email_reachable", {"days": 3},
     [("params.days", "unknown parameter (this template takes: none)")]),
])
def test_bad_params_are_named(key, params, problems):
    with pytest.raises(TemplateError) as caught:
        template_rule(key, params)

    assert caught.value.problems == problems
