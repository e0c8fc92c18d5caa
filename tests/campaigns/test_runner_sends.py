"""The runner sends what its batch queued: claimed, screened and written as the dispatcher's
claim would write them in the runner's own transaction, then rendered, sent and recorded by
the runner once that transaction has committed. Exactly once as with the dispatcher, also
when the runner dies between its commit and its sends.

These tests run the runner outside any transaction of the test's (transactional_db), as a
worker runs it: inside a caller's transaction it leaves its messages to the dispatcher."""

import datetime as dt
import signal

import psycopg
import pytest
from django.core import mail
from django.db import connection, transaction

from campaigns.models import Coupon, Delivery, DeliverySettings, Journey
from campaigns.services.dispatch import LEASE, LOCK_NAMESPACE, deliveries_dispatch
from campaigns.services.dispatch import deliveries_reclaim as reclaim
from campaigns.services.runner import journeys_advance
from campaigns.services.triggers import triggers_consume
from campaigns.tasks import advance_task
from config.celery import app
from tests.campaigns.factories import (
    CouponDefinitionFactory,
    DeliveryFactory,
    MessageTemplateFactory,
    chain,
    edge,
    node,
)
from tests.campaigns.test_triggers import _segment
from tests.campaigns.test_worker_crash import _hanging_worker
from tests.conftest import wait_for
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def controls(transactional_db):
    """No cap and no quiet hours unless a test sets them."""
    return DeliverySettings.objects.create(pk=1, cap_messages=0, quiet_channels=[])


def _gift_campaign(publish, **fields):
    """Everyone in Paris: a coupon, then an email showing its code."""
    graph = chain(node("start", "scheduled", segment=_segment().pk, at="2020-01-01T00:00:00Z"),
                  node("c", "issue_coupon", definition=CouponDefinitionFactory().pk),
                  node("m", "send_message", channel="email", template=MessageTemplateFactory(
                      subject="For {{ customer.name }}", body="<p>{{ coupon.code }}</p>").pk),
                  node("end", "exit"), ports={"c": "issued"})
    graph["edges"].append(edge("c", "end", "not_issued"))
    return publish(graph, at=NOW - dt.timedelta(hours=1), **fields)


def _paris(count: int, **fields):
    return CustomerFactory.create_batch(count, city="Paris", email_consent=True, **fields)


def _another_connection() -> psycopg.Connection:
    """A second session on the test database, as another worker would hold."""
    database = connection.settings_dict
    return psycopg.connect(host=database["HOST"], port=database["PORT"], user=database["USER"],
                           dbname=database["NAME"])


def _advance_all(now=NOW) -> int:
    sent = 0
    while (advanced := journeys_advance(now=now)).claimed:
        sent += advanced.sent
    return sent


def test_the_runner_sends_what_its_batch_queued_right_after_its_commit(controls, publish):
    customers = _paris(3)
    _gift_campaign(publish)
    assert triggers_consume(now=NOW) == 3

    assert _advance_all() == 3

    deliveries = list(Delivery.objects.order_by("customer_id"))
    assert [(d.customer_id, d.status, d.attempts, d.sent_at, d.lease_until) for d in deliveries] \
        == [(c.pk, "sent", 1, NOW, None) for c in customers]
    codes = dict(Coupon.objects.values_list("customer_id", "code"))
    for delivery, customer in zip(deliveries, customers, strict=True):
        assert (delivery.address, delivery.subject) == (customer.email.lower(),
                                                        f"For {customer.name}")
        assert codes[customer.pk][-5:] in delivery.body
    assert sorted(m.extra_headers["X-Retentio-Delivery"] for m in mail.outbox) == sorted(
        str(d.pk) for d in deliveries)
    assert deliveries_dispatch(now=NOW).claimed == 0  # nothing left for a second claim


def test_the_delivery_controls_decide_as_the_runner_claims(controls, publish):
    sent, no_consent, capped = _paris(3)
    no_consent.email_consent = False
    no_consent.save()
    controls.cap_messages, controls.cap_days = 1, 7
    controls.save()
    DeliveryFactory(customer=capped, status="sent", sent_at=NOW - dt.timedelta(days=1),
                    due_at=NOW - dt.timedelta(days=1))
    campaign = _gift_campaign(publish)
    triggers_consume(now=NOW)

    assert _advance_all() == 1

    assert dict(Delivery.objects.filter(campaign=campaign).values_list(
        "customer_id", "reason")) == {sent.pk: "", no_consent.pk: "no_consent",
                                      capped.pk: "frequency_cap"}
    assert Delivery.objects.get(customer=sent, campaign=campaign).status == "sent"
    assert [m.to for m in mail.outbox] == [[sent.email.lower()]]


def test_quiet_hours_defer_what_the_runner_claims_to_the_dispatcher(controls, publish):
    _paris(1, time_zone="Asia/Shanghai")  # 20:00 there at NOW
    controls.quiet_start, controls.quiet_end = dt.time(19, 0), dt.time(9, 0)
    controls.quiet_channels = ["email"]
    controls.save()
    _gift_campaign(publish)
    triggers_consume(now=NOW)

    assert _advance_all() == 0

    delivery = Delivery.objects.get()
    morning = dt.datetime(2026, 6, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    assert (delivery.status, delivery.reason, delivery.due_at) == ("queued", "quiet_hours",
                                                                   morning)
    assert not mail.outbox
    assert deliveries_dispatch(now=morning).sent == 1


def test_a_customer_another_transaction_holds_is_left_to_the_dispatcher(controls, publish):
    held, free = _paris(2)
    _gift_campaign(publish)
    triggers_consume(now=NOW)
    with _another_connection() as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, held.pk])
        assert _advance_all() == 1
        other.rollback()

    assert dict(Delivery.objects.values_list("customer_id", "status")) == {
        held.pk: "queued", free.pk: "sent"}
    assert deliveries_dispatch(now=NOW).sent == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted([held.email.lower(),
                                                           free.email.lower()])


def test_inside_a_callers_transaction_the_dispatcher_sends(controls, publish):
    _paris(2)
    _gift_campaign(publish)
    triggers_consume(now=NOW)

    with transaction.atomic():
        assert journeys_advance(now=NOW).sent == 0
    assert set(Delivery.objects.values_list("status", flat=True)) == {"queued"}
    assert not mail.outbox
    assert deliveries_dispatch(now=NOW).sent == 2


def test_a_batch_done_again_sends_nothing_twice(controls, publish):
    _paris(3)
    campaign = _gift_campaign(publish)
    triggers_consume(now=NOW)
    _advance_all()
    # As if the batch's commit had been lost after all: every journey back at the coupon.
    Journey.objects.filter(campaign=campaign).update(node="c", step=1, status="active",
                                                     due_at=NOW, finished_at=None)

    assert _advance_all() == 0

    assert (Coupon.objects.count(), Delivery.objects.count(), len(mail.outbox)) == (3, 3, 3)
    assert set(Journey.objects.values_list("status", flat=True)) == {"completed"}


@pytest.mark.redis
def test_a_runner_killed_between_its_commit_and_its_sends_loses_and_doubles_nothing(
        controls, publish, tmp_path):
    customers = _paris(20)
    _gift_campaign(publish)
    app.control.purge()
    triggers_consume()
    marker = tmp_path / "hanging"
    hanging = _hanging_worker(marker, at="committed")
    try:
        advance_task.delay()
        wait_for(marker.exists, timeout=60)  # committed, nothing sent yet
        hanging.send_signal(signal.SIGKILL)
        hanging.wait(timeout=30)
    finally:
        hanging.kill()

    # The batch committed its deliveries claimed for the dead runner: nobody else sends
    # them until their lease runs out.
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sending"}
    assert deliveries_dispatch().claimed == 0
    later = dt.datetime.now(dt.UTC) + LEASE + dt.timedelta(seconds=1)
    assert reclaim(later) == len(customers)
    while deliveries_dispatch(now=later).claimed:
        pass

    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert sorted(m.extra_headers["X-Retentio-Delivery"] for m in mail.outbox) == sorted(
        str(pk) for pk in Delivery.objects.values_list("pk", flat=True))


def test_a_schedule_enters_while_runners_hold_the_campaign_row(controls, publish, monkeypatch):
    """The runners' foreign-key checks lock the campaign row (KEY SHARE) as they commit; the
    trigger's own lock on it must not skip the campaign then, or a chunked entry stops."""
    monkeypatch.setattr("campaigns.services.triggers.ENTRY_CHUNK", 2)
    _paris(3)
    campaign = _gift_campaign(publish)
    with _another_connection() as runner:
        runner.execute("SELECT 1 FROM campaigns_campaign WHERE id = %s FOR KEY SHARE",
                       [campaign.pk])
        assert triggers_consume(now=NOW) == 3
        runner.rollback()


def test_an_entry_does_not_wait_for_a_vacuum_to_refresh_statistics(controls, publish,
                                                                     monkeypatch):
    """A large entry refreshes the journeys' statistics after its commit, unless a vacuum
    (which analyzes too) holds the table: waiting for it held up the next chunk."""
    monkeypatch.setattr("campaigns.services.entry.RESAMPLE_AFTER", 1)
    _paris(2)
    _gift_campaign(publish)
    with _another_connection() as vacuum:
        vacuum.execute("LOCK TABLE campaigns_journey IN SHARE UPDATE EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        try:
            assert triggers_consume(now=NOW) == 2
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        vacuum.rollback()


def test_a_send_node_that_fails_after_writing_sends_nothing(controls, publish, monkeypatch):
    """The node's writes go with its savepoint; what it claimed for sending must go too."""
    from campaigns.services.dispatch import Outbox

    _paris(2)
    campaign = _gift_campaign(publish)
    triggers_consume(now=NOW)
    written = Outbox.inserted

    def fail_after_writing(self, returned):
        written(self, returned)
        raise RuntimeError("lost after the insert")

    monkeypatch.setattr(Outbox, "inserted", fail_after_writing)

    assert _advance_all() == 0

    assert not mail.outbox
    assert not Delivery.objects.exists()
    assert set(Journey.objects.filter(campaign=campaign).values_list("status", flat=True)) \
        == {"failed"}
