"""Full and customer-scoped evaluation: members, the change log, size history, idempotence."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command

from customers.models import CustomerMetrics, LifecycleStage
from segments.models import Segment, SegmentChange, SegmentEvaluation, SegmentMembership
from segments.rules import condition
from segments.services import evaluation
from segments.services.evaluation import (
    segment_evaluate,
    segment_evaluate_customers,
    segments_evaluate_all,
    segments_in_order,
)
from tests.customers.factories import CustomerFactory

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _metrics(customer, monetary, last_order_days_ago=None):
    last = None if last_order_days_ago is None else NOW - dt.timedelta(days=last_order_days_ago)
    return CustomerMetrics.objects.create(
        customer=customer, monetary=Decimal(monetary), ltv=Decimal(monetary),
        order_count=1 if last else 0, last_order_at=last, first_order_at=last,
        lifecycle_stage=LifecycleStage.NEW if last else LifecycleStage.PROSPECT,
        computed_at=NOW)


def _members(segment):
    return set(SegmentMembership.objects.filter(segment=segment)
               .values_list("customer__external_id", flat=True))


def _changes(segment):
    return sorted(SegmentChange.objects.filter(segment=segment)
                  .values_list("customer__external_id", "kind"))


@pytest.mark.django_db
def test_full_evaluation_records_who_entered_and_left_and_is_idempotent():
    shanghai = CustomerFactory(external_id="sh", city="Shanghai")
    beijing = CustomerFactory(external_id="bj", city="Beijing")
    segment = Segment.objects.create(name="Shanghai", rule=condition("city", "==", "Shanghai"))

    first = segment_evaluate(segment.pk, now=NOW)
    assert (first.entered, first.exited, first.size) == (1, 0, 1)
    assert _members(segment) == {"sh"}

    again = segment_evaluate(segment.pk, now=NOW)
    assert (again.entered, again.exited, again.size) == (0, 0, 1)

    shanghai.city, beijing.city = "Beijing", "Shanghai"
    shanghai.save()
    beijing.save()
    moved = segment_evaluate(segment.pk, now=NOW)
    assert (moved.entered, moved.exited, moved.size) == (1, 1, 1)
    assert _members(segment) == {"bj"}
    assert _changes(segment) == [("bj", "entered"), ("sh", "entered"), ("sh", "exited")]
    assert list(SegmentEvaluation.objects.filter(segment=segment)
                .order_by("id").values_list("size", "entered", "exited")) == [
        (1, 1, 0), (1, 0, 0), (1, 1, 1)]
    segment.refresh_from_db()
    assert segment.size == 1
    assert segment.last_evaluated_at == NOW


@pytest.mark.django_db
def test_customer_scoped_evaluation_touches_only_those_customers():
    a = CustomerFactory(external_id="a")
    b = CustomerFactory(external_id="b")
    _metrics(a, "50", last_order_days_ago=100)
    _metrics(b, "50", last_order_days_ago=100)
    segment = Segment.objects.create(
        name="Dormant 90", rule=condition("recency_days", ">=", 90))
    segment_evaluate(segment.pk, now=NOW)
    assert _members(segment) == {"a", "b"}

    CustomerMetrics.objects.filter(customer__in=[a, b]).update(
        last_order_at=NOW - dt.timedelta(days=1))
    outcome = segment_evaluate_customers(segment.pk, [a.pk], now=NOW)
    assert (outcome.entered, outcome.exited, outcome.size) == (0, 1, 1)
    assert _members(segment) == {"b"}  # b was not in scope, so it stays until its own turn
    assert segment_evaluate_customers(segment.pk, [a.pk], now=NOW).exited == 0


@pytest.mark.django_db
def test_segments_referring_to_others_are_evaluated_after_them():
    CustomerFactory(external_id="vip", city="Shanghai", tags=["vip"])
    CustomerFactory(external_id="plain", city="Shanghai")
    inner = Segment.objects.create(name="VIP", rule=condition("tags", "has_tag", "vip"))
    outer = Segment.objects.create(name="Shanghai VIP", rule={"and": [
        condition("segment", "in_segment", inner.pk), condition("city", "==", "Shanghai")]})
    segments_evaluate_all(now=NOW)
    assert _members(outer) == {"vip"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_full_evaluation_keeps_references_first_and_uses_threads(settings):
    """Outside a transaction two segments are evaluated at a time, each on a connection of
    its own; a chain of references still runs in order, so every level sees the one below."""
    settings.SEGMENTS_EVALUATION_CONCURRENCY = 2
    CustomerFactory(external_id="vip", city="Shanghai", tags=["vip"])
    CustomerFactory(external_id="plain", city="Shanghai")
    CustomerFactory(external_id="far", city="Beijing", tags=["vip"])
    vip = Segment.objects.create(name="VIP", rule=condition("tags", "has_tag", "vip"))
    shanghai_vip = Segment.objects.create(name="Shanghai VIP", rule={"and": [
        condition("segment", "in_segment", vip.pk), condition("city", "==", "Shanghai")]})
    not_shanghai_vip = Segment.objects.create(
        name="Not a Shanghai VIP", rule=condition("segment", "not_in_segment", shanghai_vip.pk))
    independent = [Segment.objects.create(name=f"City {city}", rule=condition("city", "==", city))
                   for city in ("Shanghai", "Beijing", "Shenzhen")]
    threads = set()
    original = evaluation.segment_evaluate

    def recording(segment_id, *, now=None):
        threads.add(threading.get_ident())
        return original(segment_id, now=now)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation, "segment_evaluate", recording)
        outcomes = segments_evaluate_all(now=NOW)

    assert len(threads) == 2
    assert threading.get_ident() not in threads
    assert [o.segment_id for o in outcomes] == [
        s.pk for s in segments_in_order(list(Segment.objects.all()))]
    assert _members(vip) == {"vip", "far"}
    assert _members(shanghai_vip) == {"vip"}
    assert _members(not_shanghai_vip) == {"plain", "far"}
    assert [_members(s) for s in independent] == [{"vip", "plain"}, {"far"}, set()]


@pytest.mark.django_db
def test_full_evaluation_inside_a_transaction_stays_on_its_connection(settings):
    settings.SEGMENTS_EVALUATION_CONCURRENCY = 2
    CustomerFactory(external_id="sh", city="Shanghai")  # uncommitted: other connections
    segments = [Segment.objects.create(name=f"S{i}", rule=condition("city", "==", "Shanghai"))
                for i in range(3)]

    outcomes = segments_evaluate_all(now=NOW)

    assert [o.size for o in outcomes] == [1, 1, 1]
    assert all(_members(s) == {"sh"} for s in segments)


NO_INLINE_ROWS = {"evaluations-TOTAL_FORMS": "0", "evaluations-INITIAL_FORMS": "0"}


@pytest.mark.django_db
def test_admin_rejects_a_bad_rule_and_saves_a_good_one(admin_client):
    response = admin_client.post("/admin/segments/segment/add/", {
        "name": "Broken", "rule": '{"==": [{"var": "ciyt"}, "Shanghai"]}',
        "is_active": "on", **NO_INLINE_ROWS})
    assert response.status_code == 200
    assert "unknown field &quot;ciyt&quot;" in response.content.decode()
    assert not Segment.objects.filter(name="Broken").exists()

    response = admin_client.post("/admin/segments/segment/add/", {
        "name": "Shanghai", "rule": '{"==": [{"var": "city"}, "Shanghai"]}',
        "is_active": "on", **NO_INLINE_ROWS})
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="Shanghai")
    assert segment.created_by is not None
    assert admin_client.get("/admin/segments/segmentchange/").status_code == 200


@pytest.mark.django_db
def test_demo_segments_are_created_once_and_evaluated():
    CustomerFactory(external_id="a")
    call_command("seed_demo_segments")
    names = set(Segment.objects.values_list("name", flat=True))
    assert "Birthday this month" in names
    assert len(names) == 6
    assert all(s.last_evaluated_at for s in Segment.objects.all())

    call_command("seed_demo_segments")
    assert Segment.objects.count() == 6
