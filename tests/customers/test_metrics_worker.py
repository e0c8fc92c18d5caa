"""A real Celery worker runs the metrics tasks through the configured broker (Redis when
CELERY_BROKER_URL points at it, as in CI; kombu's filesystem transport otherwise)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import CustomerMetrics, MetricsRun
from customers.tasks import metrics_recompute_task, metrics_refresh_customers_task
from tests.customers.factories import CustomerFactory, OrderFactory, StorefrontFactory

TIMEOUT = 60  # seconds; a task here takes well under one


@pytest.fixture
def shop(transactional_db):
    storefront = StorefrontFactory()
    now = timezone.now()
    buyer = CustomerFactory(external_id="buyer")
    OrderFactory(customer=buyer, storefront=storefront, amount=Decimal("40.00"),
                 placed_at=now - dt.timedelta(days=3))
    OrderFactory(customer=buyer, storefront=storefront, amount=Decimal("60.00"),
                 placed_at=now - dt.timedelta(days=1))
    prospect = CustomerFactory(external_id="prospect")
    return storefront, buyer, prospect


def test_worker_runs_the_full_recompute(worker, shop):
    _storefront, buyer, prospect = shop

    run_id = metrics_recompute_task.delay().get(timeout=TIMEOUT)

    assert MetricsRun.objects.get(pk=run_id).customers == 2
    metrics = {m.customer_id: m for m in CustomerMetrics.objects.all()}
    assert (metrics[buyer.pk].order_count, metrics[buyer.pk].ltv) == (2, Decimal("100.00"))
    assert metrics[buyer.pk].lifecycle_stage == "active"
    assert metrics[prospect.pk].lifecycle_stage == "prospect"


def test_worker_refreshes_one_customer_after_its_order(worker, shop):
    storefront, _buyer, prospect = shop
    metrics_recompute_task.delay().get(timeout=TIMEOUT)
    OrderFactory(customer=prospect, storefront=storefront, amount=Decimal("25.50"))

    metrics_refresh_customers_task.delay([prospect.pk]).get(timeout=TIMEOUT)

    metrics = CustomerMetrics.objects.get(customer=prospect)
    assert (metrics.order_count, metrics.ltv, metrics.lifecycle_stage) == (
        1, Decimal("25.50"), "new")
