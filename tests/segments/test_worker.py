"""Event-driven membership through a real Celery worker: an order posted to the storefront
API moves its customer into a segment within seconds, with no scheduled run involved."""


from django.utils import timezone

from segments.models import Segment, SegmentChange, SegmentMembership
from segments.rules import condition
from segments.services.evaluation import segment_evaluate
from segments.tasks import evaluate_due_task, evaluate_segment_task
from tests.conftest import wait_for
from tests.customers.factories import CustomerFactory

TIMEOUT = 30


def test_an_order_moves_its_customer_into_a_segment(worker, api):
    customer = CustomerFactory(external_id="shopper")
    buyers = Segment.objects.create(name="Buyers", rule=condition("order_count", ">=", 1))
    segment_evaluate(buyers.pk)
    assert not SegmentMembership.objects.filter(segment=buyers).exists()

    response = api.post("/api/v1/orders/", {
        "external_id": "o-1", "customer": "shopper", "amount": "19.90", "currency": "USD",
        "status": "paid", "placed_at": "2026-11-20T10:00:00Z"}, format="json")
    assert response.status_code in (200, 201), response.content

    wait_for(lambda: SegmentMembership.objects.filter(segment=buyers,
                                                       customer=customer).exists())
    change = SegmentChange.objects.get(segment=buyers, customer=customer)
    assert change.kind == "entered"


def test_full_evaluation_task_runs_on_the_worker(worker):
    CustomerFactory(external_id="sh", city="Shanghai")
    segment = Segment.objects.create(name="Shanghai", rule=condition("city", "==", "Shanghai"))

    result = evaluate_segment_task.delay(segment.pk).get(timeout=TIMEOUT)

    assert result == {"entered": 1, "exited": 0, "size": 1, "skipped": False}


def test_beat_queues_only_the_segments_that_are_due(worker):
    CustomerFactory(external_id="sh", city="Shanghai")
    fresh = Segment.objects.create(name="Fresh", rule=condition("city", "==", "Shanghai"),
                                   last_evaluated_at=timezone.now())
    never = Segment.objects.create(name="Never", rule=condition("city", "==", "Shanghai"))

    assert evaluate_due_task.delay().get(timeout=TIMEOUT) == 1

    wait_for(lambda: Segment.objects.get(pk=never.pk).size == 1)
    assert Segment.objects.get(pk=fresh.pk).size == 0
