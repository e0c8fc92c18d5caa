"""An erased customer is in no segment: evaluations (full and customer-scoped) take them out
and log the exit like any other, the preview does not count them and explain says they do
not match, whatever their kept orders and metrics say. Customers who were not erased stay."""

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import CustomerMetrics, LifecycleStage, RfmClass
from customers.services.erasure import customer_erase
from segments.models import Segment, SegmentChange, SegmentEvaluation, SegmentMembership
from segments.rules import condition
from segments.selectors import segment_preview
from segments.services.evaluation import (
    customers_evaluate,
    segment_evaluate,
    segment_evaluate_customers,
)
from segments.services.explain import segment_explain
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

# Two paid orders in the last 30 days: kept by the erasure (no personal data in them).
BUYERS = condition("orders", "orders_within", {"within_days": 30, "min_count": 2})


def _shopper(external_id: str, *, city: str = "Shanghai"):
    """A Shanghai customer with two paid orders this month and the metrics of a champion."""
    customer = CustomerFactory(external_id=external_id, name=external_id.title(), city=city)
    for days_ago in (3, 10):
        OrderFactory(customer=customer, amount=Decimal("250.00"), placed_at=NOW - days_ago * DAY)
    last = NOW - 3 * DAY
    CustomerMetrics.objects.create(
        customer=customer, order_count=2, frequency=2, monetary=Decimal("500"),
        ltv=Decimal("500"), aov=Decimal("250"), first_order_at=NOW - 10 * DAY,
        last_order_at=last, r_score=5, f_score=5, m_score=5,
        rfm_class=RfmClass.IMPORTANT_VALUE, lifecycle_stage=LifecycleStage.ACTIVE,
        computed_at=NOW)
    return customer


@pytest.fixture
def ann():
    return _shopper("ann")


@pytest.fixture
def bob():
    return _shopper("bob")


def _erase(customer) -> None:
    assert customer_erase(customer_id=customer.pk, requested_by="dpo@example.com") is not None


def _member_ids(segment) -> set[int]:
    return set(SegmentMembership.objects.filter(segment=segment)
               .values_list("customer_id", flat=True))


def _changes(segment) -> list[tuple[int, str]]:
    return list(SegmentChange.objects.filter(segment=segment).order_by("id")
                .values_list("customer_id", "kind"))


def _size(segment) -> int:
    segment.refresh_from_db()
    return segment.size


def _evaluated(rule, name="Buyers") -> Segment:
    segment = Segment.objects.create(name=name, rule=rule)
    segment_evaluate(segment.pk, now=NOW)
    return segment


def test_a_full_evaluation_takes_an_erased_customer_out_and_logs_the_exit(ann, bob):
    segment = _evaluated(BUYERS)
    assert _member_ids(segment) == {ann.pk, bob.pk}
    assert _size(segment) == 2

    _erase(ann)
    outcome = segment_evaluate(segment.pk, now=NOW + DAY)

    assert (outcome.entered, outcome.exited, outcome.size) == (0, 1, 1)
    assert _member_ids(segment) == {bob.pk}
    assert _changes(segment) == [(ann.pk, "entered"), (bob.pk, "entered"), (ann.pk, "exited")]
    assert SegmentChange.objects.get(segment=segment, kind="exited").at == NOW + DAY
    assert _size(segment) == 1
    assert list(SegmentEvaluation.objects.filter(segment=segment).order_by("id")
                .values_list("size", "entered", "exited")) == [(2, 2, 0), (1, 0, 1)]
    # A later evaluation finds nothing more to do: the erased customer does not come back.
    again = segment_evaluate(segment.pk, now=NOW + 2 * DAY)
    assert (again.entered, again.exited, again.size) == (0, 0, 1)


@pytest.mark.parametrize("rule", [
    pytest.param(condition("order_count", ">=", 2), id="paid-orders"),
    pytest.param(condition("rfm_class", "==", RfmClass.IMPORTANT_VALUE), id="rfm-class"),
    pytest.param(condition("lifecycle_stage", "==", LifecycleStage.ACTIVE), id="lifecycle"),
    pytest.param(condition("city", "==", "Shanghai"), id="city"),
    # The emptied profile would match a negated condition: still out.
    pytest.param({"!": condition("city", "==", "Beijing")}, id="not-city"),
    pytest.param(condition("recency_days", "<=", 30), id="recency"),
])
def test_an_erased_customer_matches_no_rule_in_a_full_evaluation(ann, bob, rule):
    segment = _evaluated(rule, name="Rule")
    assert _member_ids(segment) == {ann.pk, bob.pk}

    _erase(ann)
    segment_evaluate(segment.pk, now=NOW)

    assert _member_ids(segment) == {bob.pk}
    assert _size(segment) == 1


def test_a_customer_scoped_evaluation_takes_an_erased_customer_out(ann, bob):
    segment = _evaluated(BUYERS)

    _erase(ann)
    outcome = segment_evaluate_customers(segment.pk, [ann.pk, bob.pk], now=NOW + DAY)

    assert (outcome.entered, outcome.exited, outcome.size) == (0, 1, 1)
    assert _member_ids(segment) == {bob.pk}
    assert _changes(segment)[-1] == (ann.pk, "exited")
    assert _size(segment) == 1


def test_customers_evaluate_takes_an_erased_customer_out_of_every_active_segment(ann, bob):
    buyers = _evaluated(BUYERS)
    champions = _evaluated(condition("rfm_class", "==", RfmClass.IMPORTANT_VALUE),
                           name="Champions")

    _erase(ann)
    outcomes = customers_evaluate([ann.pk], now=NOW + DAY)

    assert sorted((o.segment_id, o.exited) for o in outcomes) == sorted(
        [(buyers.pk, 1), (champions.pk, 1)])
    for segment in (buyers, champions):
        assert _member_ids(segment) == {bob.pk}
        assert _changes(segment)[-1] == (ann.pk, "exited")
        assert _size(segment) == 1


def test_erasing_leaves_the_segments_once_the_erasure_commits(
        ann, bob, django_capture_on_commit_callbacks):
    """The erasure itself queues the re-evaluation of the customer (run here eagerly, on
    commit, as the worker would): no operator action is needed."""
    from config.celery import app

    segment = Segment.objects.create(name="Active", rule=condition(
        "lifecycle_stage", "==", LifecycleStage.ACTIVE))
    segment_evaluate(segment.pk)
    assert _member_ids(segment) == {ann.pk, bob.pk}

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _erase(ann)
    finally:
        app.conf.task_always_eager = False

    assert _member_ids(segment) == {bob.pk}
    assert _changes(segment)[-1] == (ann.pk, "exited")
    assert _size(segment) == 1


def test_the_preview_does_not_count_or_show_an_erased_customer(ann, bob):
    before = segment_preview(BUYERS, now=NOW)
    assert before.count == 2

    _erase(ann)
    after = segment_preview(BUYERS, now=NOW)

    assert after.count == 1
    assert [row["external_id"] for row in after.sample] == ["bob"]
    # A rule the emptied profile would match does not bring them back either.
    assert segment_preview({"!": condition("city", "==", "Beijing")}, now=NOW).count == 1


def test_explain_says_an_erased_customer_does_not_match(ann, bob):
    segment = _evaluated(BUYERS)

    _erase(ann)
    ann.refresh_from_db()
    erased = segment_explain(segment=segment, customer=ann, now=NOW)
    kept = segment_explain(segment=segment, customer=bob, now=NOW)

    assert erased["matches"] is False
    assert kept["matches"] is True
    segment_evaluate(segment.pk, now=NOW)
    assert segment_explain(segment=segment, customer=ann, now=NOW)["is_member"] is False
    assert segment_explain(segment=segment, customer=bob, now=NOW)["is_member"] is True


def test_nothing_changes_for_segments_when_no_one_was_erased(ann, bob):
    """The guard of the tests above: without an erasure the same steps keep both."""
    segment = _evaluated(BUYERS)

    assert (segment_evaluate(segment.pk, now=NOW + DAY).exited,
            segment_evaluate_customers(segment.pk, [ann.pk], now=NOW + DAY).exited) == (0, 0)
    assert _member_ids(segment) == {ann.pk, bob.pk}
    assert segment_preview(BUYERS, now=NOW).count == 2
    assert segment_explain(segment=segment, customer=ann, now=NOW)["matches"] is True
