"""The dispatcher against the database: what gets sent, what is skipped and why, deferrals,
exactly-once under repeats and crashes, and bulk writes."""

import datetime as dt
import threading
import time

import pytest
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Delivery, Suppression
from campaigns.services import controls
from campaigns.services.dispatch import (
    LEASE,
    deliveries_dispatch,
    deliveries_due,
    deliveries_reclaim,
)
from tests.campaigns.factories import (
    CampaignFactory,
    CouponDefinitionFactory,
    DeliveryFactory,
    MessageTemplateFactory,
)
from tests.customers.factories import CustomerFactory

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 14, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("delivery_settings")


def queued(**fields) -> Delivery:
    fields.setdefault("due_at", NOW - dt.timedelta(minutes=1))
    fields.setdefault("created_at", NOW - dt.timedelta(minutes=1))
    return DeliveryFactory(**fields)


def state(delivery: Delivery) -> tuple[str, str]:
    delivery.refresh_from_db()
    return delivery.status, delivery.reason


# --- sending ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_due_delivery_is_sent_and_recorded_as_rendered():
    customer = CustomerFactory(name="Ann <b>", email="Ann@Example.com", email_consent=True)
    delivery = queued(customer=customer, template=MessageTemplateFactory(
        subject="Hi {{ customer.name }}", body="<p>Hello {{ customer.name }}</p>"))

    result = deliveries_dispatch(now=NOW)

    assert (result.claimed, result.sent) == (1, 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.address, delivery.sent_at, delivery.attempts) == (
        "sent", "ann@example.com", NOW, 1)
    assert delivery.subject == "Hi Ann <b>"
    assert delivery.body.startswith("<p>Hello Ann &lt;b&gt;</p>")
    assert delivery.lease_until is None
    [email] = mail.outbox
    assert (email.to, email.subject) == (["ann@example.com"], "Hi Ann <b>")


@pytest.mark.django_db
def test_a_delivery_not_yet_due_waits():
    queued(due_at=NOW + dt.timedelta(minutes=5))

    assert deliveries_dispatch(now=NOW).claimed == 0
    assert not deliveries_due(NOW)
    assert deliveries_due(NOW + dt.timedelta(minutes=5))


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Campaign.Status.PAUSED, Campaign.Status.ARCHIVED])
def test_deliveries_of_a_campaign_that_is_not_active_are_not_claimed(status):
    delivery = queued(campaign=CampaignFactory(status=status))

    assert deliveries_dispatch(now=NOW).claimed == 0
    assert not deliveries_due(NOW)
    assert state(delivery) == ("queued", "")


@pytest.mark.django_db
def test_the_coupon_of_the_journey_is_in_the_message():
    definition = CouponDefinitionFactory(code_prefix="WELCOME")
    customer = CustomerFactory(email_consent=True)
    coupon = definition.coupons.create(code="WELCOME7KQ4DMX2PB", customer=customer,
                                       issued_at=NOW, expires_at=NOW + dt.timedelta(days=7))
    delivery = queued(customer=customer, coupon=coupon, template=MessageTemplateFactory(
        body="{{ coupon.code }} {{ coupon.discount }} {{ coupon.expires_at|date:'Y-m-d' }}"))

    deliveries_dispatch(now=NOW)

    delivery.refresh_from_db()
    assert delivery.body.startswith("WELCOME-7KQ4D-MX2PB 15% off 2026-01-21")


# --- skips and deferrals, recorded -----------------------------------------------------------

@pytest.mark.django_db
def test_each_skip_is_recorded_with_its_reason():
    no_consent = queued(customer=CustomerFactory(email_consent=False))
    no_address = queued(customer=CustomerFactory(email="", email_consent=True))
    suppressed = queued(customer=CustomerFactory(email="gone@example.com", email_consent=True))
    Suppression.objects.create(channel="email", address="gone@example.com",
                               reason=Suppression.Reason.BOUNCED)

    result = deliveries_dispatch(now=NOW)

    assert (result.claimed, result.skipped, result.sent) == (3, 3, 0)
    assert [state(d) for d in (no_consent, no_address, suppressed)] == [
        ("skipped", "no_consent"), ("skipped", "no_address"), ("skipped", "suppressed")]
    assert mail.outbox == []


@pytest.mark.django_db
def test_frequency_cap_counts_sent_messages_of_other_campaigns(delivery_settings):
    delivery_settings.cap_messages, delivery_settings.cap_days = 1, 7
    delivery_settings.save()
    customer = CustomerFactory(email_consent=True, sms_consent=True, phone="+1 555 0100")
    DeliveryFactory(customer=customer, channel="sms", status="sent",
                    sent_at=NOW - dt.timedelta(days=3), due_at=NOW - dt.timedelta(days=3),
                    created_at=NOW - dt.timedelta(days=3))
    delivery = queued(customer=customer)

    deliveries_dispatch(now=NOW)

    assert state(delivery) == ("skipped", "frequency_cap")


@pytest.mark.django_db
def test_test_sends_and_webhooks_do_not_count_against_the_cap(delivery_settings):
    delivery_settings.cap_messages = 1
    delivery_settings.save()
    customer = CustomerFactory(email_consent=True)
    for fields in ({"test": True, "campaign": None}, {"channel": "webhook", "template": None}):
        DeliveryFactory(customer=customer, status="sent", sent_at=NOW - dt.timedelta(hours=1),
                        due_at=NOW - dt.timedelta(hours=1), **fields)
    delivery = queued(customer=customer)

    deliveries_dispatch(now=NOW)

    assert state(delivery) == ("sent", "")


@pytest.mark.django_db
def test_priority_skips_the_lower_campaign_of_the_same_customer_in_one_batch():
    customer = CustomerFactory(email_consent=True)
    low = queued(customer=customer, campaign=CampaignFactory(status="active", priority=1))
    high = queued(customer=customer, campaign=CampaignFactory(status="active", priority=9))

    deliveries_dispatch(now=NOW)

    assert (state(low), state(high)) == (("skipped", "priority"), ("sent", ""))


@pytest.mark.django_db
def test_quiet_hours_defer_the_delivery_which_stays_queued(delivery_settings):
    delivery_settings.quiet_start, delivery_settings.quiet_end = dt.time(21), dt.time(9)
    delivery_settings.quiet_channels = ["email"]
    delivery_settings.save()
    late = dt.datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    delivery = queued(due_at=late)

    result = deliveries_dispatch(now=late)

    assert (result.claimed, result.deferred) == (1, 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason, delivery.attempts) == ("queued", "quiet_hours", 0)
    assert delivery.due_at == dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    morning = dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert deliveries_dispatch(now=morning).sent == 1
    assert state(delivery) == ("sent", "")


@pytest.mark.django_db
def test_a_template_that_fails_for_a_customer_records_render_error():
    delivery = queued(template=MessageTemplateFactory(body="{% url 'no-such-page' %}"))

    result = deliveries_dispatch(now=NOW)

    assert (result.sent, result.failed) == (0, 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == ("failed", "render_error")
    assert "NoReverseMatch" in delivery.error
    assert mail.outbox == []


# --- exactly once ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_dispatching_twice_sends_once():
    queued()

    first, second = deliveries_dispatch(now=NOW), deliveries_dispatch(now=NOW)

    assert (first.sent, second.claimed) == (1, 0)
    assert len(mail.outbox) == 1


class Crash(BaseException):
    """The worker process dies (not an error the dispatcher could catch)."""


@pytest.fixture
def crashing_backend(settings):
    settings.CAMPAIGNS_EMAIL_BACKEND = f"{__name__}.CrashAfterSendingBackend"


from django.core.mail.backends.locmem import EmailBackend as LocmemBackend  # noqa: E402


class CrashAfterSendingBackend(LocmemBackend):
    def send_messages(self, messages):
        super().send_messages(messages)
        raise Crash


@pytest.mark.django_db
def test_a_worker_killed_mid_send_is_reclaimed_after_its_lease_and_sent_with_the_same_key(
        crashing_backend, settings):
    delivery = queued()
    with pytest.raises(Crash):
        deliveries_dispatch(now=NOW)
    assert state(delivery) == ("sending", "")
    assert deliveries_reclaim(NOW + LEASE - dt.timedelta(seconds=1)) == 0

    settings.CAMPAIGNS_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = NOW + LEASE + dt.timedelta(seconds=1)
    assert deliveries_reclaim(later) == 1
    assert deliveries_dispatch(now=later).sent == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    keys = [(m.extra_headers["X-Retentio-Delivery"], m.extra_headers["Message-ID"])
            for m in mail.outbox]
    assert keys == [(str(delivery.pk), f"<delivery.{delivery.pk}@127.0.0.1>")] * 2


@pytest.mark.django_db
def test_a_delivery_reclaimed_too_often_fails_instead_of_looping(settings):
    delivery = queued(attempts=settings.CAMPAIGNS_MAX_ATTEMPTS)

    result = deliveries_dispatch(now=NOW)

    assert (result.failed, state(delivery)) == (1, ("failed", "too_many_attempts"))
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_late_result_never_overwrites_a_delivery_claimed_again():
    from campaigns.services.dispatch import _finish

    delivery = queued(status="sending", attempts=2)

    _finish([{"id": delivery.pk, "claimed": 1, "status": "failed", "reason": "send_error",
              "error": "late", "sent_at": None, "due_at": NOW, "attempts": 1, "subject": "",
              "body": ""}])

    assert state(delivery) == ("sending", "")


@pytest.mark.postgres  # SQLite's bulk update (campaigns/services/bulk.py) is a row at a time
@pytest.mark.django_db
def test_a_batch_uses_the_same_number_of_queries_for_5_and_50_deliveries():
    template, campaign = MessageTemplateFactory(), CampaignFactory(status="active")

    def queries(n):
        for _ in range(n):
            queued(template=template, campaign=campaign)
        with CaptureQueriesContext(connection) as captured:
            assert deliveries_dispatch(now=NOW).sent == n
        return len(captured)

    assert queries(5) == queries(50)


@pytest.mark.django_db
def test_full_is_true_when_the_batch_was_filled():
    queued(), queued()

    assert deliveries_dispatch(now=NOW, limit=2).full
    assert not deliveries_dispatch(now=NOW, limit=2).full


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_both_pass_a_customers_cap(delivery_settings, monkeypatch):
    """The first dispatcher holds its claim open; the second claims the customer's other
    delivery, waits on the customer's lock, and then sees the first one's message."""
    delivery_settings.cap_messages = 1
    delivery_settings.save()
    customer = CustomerFactory(email_consent=True)
    first, second = queued(customer=customer), queued(customer=customer)
    load = controls.screen_inputs
    slow = threading.Event()

    def held_open(*args, **kwargs):
        inputs = load(*args, **kwargs)
        if not slow.is_set():
            slow.set()
            time.sleep(0.5)
        return inputs

    monkeypatch.setattr(controls, "screen_inputs", held_open)
    results = []

    def run():
        try:
            results.append(deliveries_dispatch(now=NOW, limit=1))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run)]
    threads[0].start()
    assert slow.wait(5)
    threads.append(threading.Thread(target=run))
    threads[1].start()
    for thread in threads:
        thread.join(10)

    assert sorted(state(d) for d in (first, second)) == [("sent", ""),
                                                         ("skipped", "frequency_cap")]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_dry_run_screens_messages_that_are_not_deliveries_without_writing(delivery_settings):
    delivery_settings.cap_messages = 1
    delivery_settings.save()
    capped = CustomerFactory(email_consent=True)
    sent = DeliveryFactory(customer=capped, status="sent", sent_at=NOW - dt.timedelta(days=1),
                           due_at=NOW - dt.timedelta(days=1))
    fresh = CustomerFactory(email_consent=True)
    candidates = [controls.Candidate(key=f"dry-{c.pk}", customer_id=c.pk, channel="email",
                                     campaign_id=sent.campaign_id) for c in (capped, fresh)]

    decisions = controls.candidates_screen(candidates, now=NOW)

    assert [(d.key, d.action, d.reason) for d in decisions] == [
        (f"dry-{capped.pk}", "skip", "frequency_cap"), (f"dry-{fresh.pk}", "send", "")]
    assert list(Delivery.objects.values_list("pk", "status")) == [(sent.pk, "sent")]
