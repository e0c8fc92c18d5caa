"""Exactly once when things go wrong: a worker killed in the middle of a batch leaves
nothing half written, and the batch done again by another worker issues each coupon and
queues each message once."""

import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns.models import Coupon, Delivery, Journey, JourneyStep
from campaigns.tasks import advance_task
from config.celery import app
from tests.campaigns.factories import (
    CouponDefinitionFactory,
    MessageTemplateFactory,
    chain,
    edge,
    node,
)
from tests.campaigns.test_triggers import _segment
from tests.conftest import wait_for
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CUSTOMERS = 50


def _campaign(publish):
    definition = CouponDefinitionFactory()
    graph = chain(node("start", "scheduled", segment=_segment().pk, at="2020-01-01T00:00:00Z"),
                  node("c", "issue_coupon", definition=definition.pk),
                  node("m", "send_message", channel="email",
                       template=MessageTemplateFactory().pk),
                  node("end", "exit"), ports={"c": "issued"})
    graph["edges"].append(edge("c", "end", "not_issued"))
    return publish(graph, at=timezone.now())


def _hanging_worker(marker, at: str = "executed") -> subprocess.Popen:
    database = connection.settings_dict
    env = {**os.environ, "HANG_MARKER": str(marker), "HANG_AT": at,
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
                           f"{database['PORT']}/{database['NAME']}",
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    return subprocess.Popen([sys.executable, "-m", "tests.campaigns.hanging_worker"],
                            env=env, cwd=settings.BASE_DIR)


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(transactional_db,
                                                                     publish, tmp_path):
    from campaigns.services.triggers import triggers_consume

    CustomerFactory.create_batch(CUSTOMERS, city="Paris")
    campaign = _campaign(publish)
    app.control.purge()
    assert triggers_consume() == CUSTOMERS
    marker = tmp_path / "hanging"
    hanging = _hanging_worker(marker)
    try:
        advance_task.delay()
        wait_for(marker.exists, timeout=60)  # effects written, not committed
        hanging.send_signal(signal.SIGKILL)
        hanging.wait(timeout=30)
    finally:
        hanging.kill()

    # Nothing of the killed batch committed: its journeys are still due at the coupon node.
    wait_for(lambda: Journey.objects.filter(campaign=campaign, node="c").count() == CUSTOMERS)
    assert not Coupon.objects.exists()
    assert not Delivery.objects.exists()

    # Another worker takes the batch again (the same task, as a redelivery would run it).
    from campaigns.services.runner import journeys_advance

    while journeys_advance().claimed:
        pass
    assert Coupon.objects.count() == CUSTOMERS
    assert Delivery.objects.count() == CUSTOMERS
    assert JourneyStep.objects.count() == 3 * CUSTOMERS
    assert set(Journey.objects.values_list("status", flat=True)) == {"completed"}
    assert Coupon.objects.values("customer").distinct().count() == CUSTOMERS


def test_the_same_task_delivered_twice_does_the_work_once(worker, publish):
    from campaigns.services.triggers import triggers_consume

    CustomerFactory.create_batch(CUSTOMERS, city="Paris")
    _campaign(publish)
    triggers_consume()

    # Entering already queued the runner's own tasks; these two race them.
    first = advance_task.apply_async(task_id="batch-1")
    second = advance_task.apply_async(task_id="batch-1")
    first.get(timeout=60)
    second.get(timeout=60)

    wait_for(lambda: not Journey.objects.filter(status="active").exists())
    assert Coupon.objects.count() == CUSTOMERS
    assert Delivery.objects.count() == CUSTOMERS
    assert JourneyStep.objects.count() == 3 * CUSTOMERS
