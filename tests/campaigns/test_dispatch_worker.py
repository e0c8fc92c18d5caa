"""The dispatcher through a real Celery worker: queued deliveries are sent by dispatch_task
(one task per batch, chained while batches are full), and a repeated task sends nothing
twice."""

import pytest
from django.core import mail
from django.db import transaction

from campaigns.models import Delivery
from campaigns.tasks import dispatch_on_commit, dispatch_task, sweep_task
from tests.campaigns.factories import CampaignFactory, DeliveryFactory, MessageTemplateFactory
from tests.conftest import wait_for

TIMEOUT = 30


@pytest.fixture
def worker(worker, delivery_settings):
    """The suite's real worker (tests/conftest.py), with delivery settings in place."""
    return worker


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

    wait_for(lambda: Delivery.objects.filter(status="sent").count() == 10)
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

    wait_for(lambda: Delivery.objects.filter(status="sent").count() == 2)
    assert len(mail.outbox) == 2
