"""The dispatcher through a real Celery worker: queued deliveries are sent by dispatch_task
(one task per batch, chained while batches are full), and a repeated task sends nothing
twice."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import connections, transaction

from campaigns.models import Delivery
from campaigns.tasks import dispatch_on_commit, dispatch_task, sweep_task
from config.celery import app
from tests.campaigns.factories import CampaignFactory, DeliveryFactory, MessageTemplateFactory

TIMEOUT = 30


def _close_worker_connections(**_kwargs) -> None:
    connections.close_all()  # lets the test database be flushed after the worker's queries


@pytest.fixture
def worker(transactional_db, delivery_settings):
    app.control.purge()
    task_postrun.connect(_close_worker_connections)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        task_postrun.disconnect(_close_worker_connections)


def _wait_for(predicate, timeout=TIMEOUT) -> None:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _queue(n: int) -> list[Delivery]:
    template, campaign = MessageTemplateFactory(), CampaignFactory(status="active")
    return [DeliveryFactory(template=template, campaign=campaign) for _ in range(n)]


def test_queued_deliveries_are_sent_by_the_dispatch_task_in_chained_batches(worker,
                                                                             monkeypatch):
    from campaigns.services import dispatch

    # Batches of 4 (the task calls deliveries_dispatch() with its default limit): 10
    # deliveries take a chain of tasks, each queueing the next while its batch was full.
    monkeypatch.setattr(dispatch.deliveries_dispatch, "__kwdefaults__",
                        {"now": None, "limit": 4, "ids": None})
    deliveries = _queue(10)

    with transaction.atomic():
        dispatch_on_commit()  # what queueing deliveries does

    _wait_for(lambda: Delivery.objects.filter(status="sent").count() == 10)
    assert sorted(int(m.extra_headers["X-Retentio-Delivery"]) for m in mail.outbox) == \
        sorted(d.pk for d in deliveries)


def test_a_dispatch_task_run_twice_sends_each_message_once(worker):
    _queue(3)

    first = dispatch_task.delay().get(timeout=TIMEOUT)
    second = dispatch_task.delay().get(timeout=TIMEOUT)

    assert (first, second) == (3, 0)
    assert len(mail.outbox) == 3


def test_the_sweep_starts_the_dispatcher_when_deliveries_are_due(worker):
    _queue(2)

    assert sweep_task.delay().get(timeout=TIMEOUT)["reclaimed"] == 0

    _wait_for(lambda: Delivery.objects.filter(status="sent").count() == 2)
    assert len(mail.outbox) == 2
