"""GET /api/v1/segments/{id}/explain/{external_id}/: which conditions a customer meets, with
the customer's values and every group's verdict, on a fixture checked by hand."""

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import CustomerMetrics, LifecycleChange, LifecycleStage
from segments.models import Segment
from segments.rules import condition
from segments.services.evaluation import segment_evaluate
from segments.services.explain import segment_explain
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory
from tests.segments.operators import staff_user, token_client

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

RULE = {"and": [
    condition("city", "==", "Shanghai"),
    {"or": [condition("ltv", ">", 1000), condition("recency_days", ">=", 90)]},
    {"!": condition("tags", "has_tag", "blocked")},
    condition("events", "did_event", {"name": "visit", "min_count": 2, "within_days": 7}),
]}


def _metrics(customer, *, ltv, last_order_days_ago):
    last = NOW - last_order_days_ago * DAY
    CustomerMetrics.objects.create(customer=customer, ltv=Decimal(ltv), monetary=Decimal(ltv),
                                   order_count=2, last_order_at=last, first_order_at=last,
                                   lifecycle_stage=LifecycleStage.DORMANT, computed_at=NOW)


@pytest.fixture
def amy():
    """Shanghai, LTV 800, last order 120 days ago, two visits this week: in the segment."""
    amy = CustomerFactory(external_id="amy", name="Amy", city="Shanghai", tags=["vip"])
    _metrics(amy, ltv="800.00", last_order_days_ago=120)
    for days_ago in (1, 3, 10):
        EventFactory(customer=amy, name="visit", occurred_at=NOW - days_ago * DAY)
    return amy


@pytest.fixture
def bob():
    """Beijing, LTV 5000, bought 5 days ago, tagged blocked, no visits: not in it."""
    bob = CustomerFactory(external_id="bob", city="Beijing", tags=["blocked"])
    _metrics(bob, ltv="5000.00", last_order_days_ago=5)
    return bob


@pytest.fixture
def segment():
    return Segment.objects.create(name="Shanghai regulars", rule=RULE)


def _flatten(node):
    """{path: node} of every node of an explanation tree."""
    nodes = {node["path"]: node}
    for child in node.get("children", []):
        nodes.update(_flatten(child))
    return nodes


def test_a_member_meets_every_branch_it_needs(segment, amy):
    explanation = segment_explain(segment=segment, customer=amy, now=NOW)

    nodes = _flatten(explanation["tree"])
    verdicts = {path: (node["matches"], node.get("customer_value")) for path, node
                in nodes.items() if node["type"] == "condition"}
    assert verdicts == {
        "and[0].==": (True, "Shanghai"),
        "and[1].or[0].>": (False, Decimal("800.00")),
        "and[1].or[1].>=": (True, 120),
        "and[2].!.has_tag": (False, ["vip"]),
        "and[3].did_event": (True, {"events": 2, "last_at": NOW - DAY}),
    }
    assert (nodes["and[1].or"]["matches"], nodes["and[2].!"]["matches"]) == (True, True)
    assert explanation["matches"] is True
    assert nodes["and"]["type"] == "and"


def test_a_non_member_sees_each_condition_that_fails(segment, bob):
    explanation = segment_explain(segment=segment, customer=bob, now=NOW)

    nodes = _flatten(explanation["tree"])
    failing = sorted(path for path, node in nodes.items() if not node["matches"])
    assert failing == ["and", "and[0].==", "and[1].or[1].>=", "and[2].!", "and[3].did_event"]
    assert nodes["and[0].=="]["customer_value"] == "Beijing"
    assert nodes["and[1].or[1].>="]["customer_value"] == 5
    assert nodes["and[2].!.has_tag"]["matches"] is True
    assert nodes["and[3].did_event"]["customer_value"] == {"events": 0, "last_at": None}
    assert explanation["matches"] is False


def test_the_verdict_agrees_with_a_full_evaluation(segment, amy, bob):
    segment_evaluate(segment.pk, now=NOW)

    for customer, expected in [(amy, True), (bob, False)]:
        explanation = segment_explain(segment=segment, customer=customer, now=NOW)
        assert (explanation["matches"], explanation["is_member"]) == (expected, expected)
    assert segment_explain(segment=segment, customer=amy, now=NOW)["member_since"] == NOW


def test_a_customer_without_metrics_has_no_values_and_negations_match():
    newcomer = CustomerFactory(external_id="new")
    segment = Segment.objects.create(name="Not big", rule={"and": [
        condition("ltv", ">", 1000), {"!": condition("ltv", ">", 1000)},
        condition("recency_days", "is_null")]})

    nodes = _flatten(segment_explain(segment=segment, customer=newcomer, now=NOW)["tree"])

    assert (nodes["and[0].>"]["matches"], nodes["and[0].>"]["customer_value"]) == (False, None)
    assert nodes["and[1].!"]["matches"] is True
    assert (nodes["and[2].=="]["matches"], nodes["and[2].=="]["customer_value"]) == (True, None)


def test_behaviour_conditions_show_the_facts_they_count(amy):
    vip = Segment.objects.create(name="VIP", rule=condition("tags", "has_tag", "vip"))
    segment_evaluate(vip.pk, now=NOW)
    OrderFactory(customer=amy, amount=Decimal("300.00"), refunded_amount=Decimal("50.00"),
                 placed_at=NOW - 2 * DAY)
    LifecycleChange.objects.create(customer=amy, from_stage=LifecycleStage.ACTIVE,
                                   to_stage=LifecycleStage.DORMANT, changed_at=NOW - 3 * DAY)
    segment = Segment.objects.create(name="Mixed", rule={"and": [
        condition("orders", "orders_within", {"within_days": 30, "min_amount": 200}),
        condition("segment", "in_segment", vip.pk),
        condition("lifecycle_stage", "stage_changed_to",
                  {"stage": "dormant", "within_days": 7}),
        condition("ltv", "top_percent", 50),
    ]})

    nodes = _flatten(segment_explain(segment=segment, customer=amy, now=NOW)["tree"])

    assert nodes["and[0].orders_within"]["customer_value"] == {
        "paid_orders": 1, "spent": Decimal("250.00")}
    assert nodes["and[1].in_segment"]["customer_value"] == {"segment": "VIP",
                                                           "is_member": True}
    assert nodes["and[2].stage_changed_to"]["customer_value"] == {
        "stage": "dormant", "last_changed_to_at": NOW - 3 * DAY}
    assert nodes["and[3].top_percent"]["customer_value"] == {
        "value": Decimal("800.00"), "top_percent_from": Decimal("800.00")}
    assert [node["matches"] for path, node in sorted(nodes.items()) if path != "and"] == [
        True, True, True, True]


# --- through the API ------------------------------------------------------------------------

def test_the_api_explains_with_labels_values_and_verdicts(segment, amy):
    operator = token_client(staff_user())

    response = operator.get(f"/api/v1/segments/{segment.pk}/explain/amy/")

    body = response.json()
    assert response.status_code == 200
    assert body["segment"] == {"id": segment.pk, "name": "Shanghai regulars"}
    assert body["customer"] == {"external_id": "amy", "name": "Amy"}
    assert body["is_member"] is False  # not evaluated yet; the rule says yes right now
    city = body["tree"]["children"][0]
    assert city == {"type": "condition", "path": "and[0].==", "matches": True,
                    "field": "city", "field_label": "City", "operator": "==",
                    "operator_label": "is", "value": "Shanghai",
                    "customer_value": "Shanghai"}
    event = body["tree"]["children"][3]
    assert event["value"] == {"name": "visit", "min_count": 2, "within_days": 7,
                              "properties": {}}


def test_explaining_an_unknown_customer_is_404_naming_it(segment):
    response = token_client(staff_user()).get(f"/api/v1/segments/{segment.pk}/explain/zoe/")

    assert response.status_code == 404
    assert response.json()["message"] == "No customer with external id 'zoe'."
