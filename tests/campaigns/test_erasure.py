"""Erasing a customer (customers.services.erasure.customer_erase) stops what campaigns were
doing for them, in the same transaction: journeys under way exit, queued messages are skipped
("erased"), what was sent keeps no address or text, and no trigger starts a journey for them
again. Another customer's journeys and messages are left as they were."""

import datetime as dt

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db.models import CharField, F, Value
from django.utils import timezone

from campaigns.models import Delivery, Journey
from campaigns.services.campaigns import campaign_pause, campaign_resume
from campaigns.services.dispatch import deliveries_dispatch
from campaigns.services.entry import journeys_enter
from customers.models import Customer, LifecycleChange
from customers.services.erasure import customer_erase
from segments.models import Segment
from segments.rules import condition
from segments.services.evaluation import segment_evaluate
from tests.campaigns.builders import journey, version
from tests.campaigns.conftest import T0, run
from tests.campaigns.factories import (
    CampaignFactory,
    DeliveryFactory,
    MessageTemplateFactory,
    chain,
    node,
)
from tests.customers.factories import CustomerFactory, EventFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("delivery_settings")]

HOUR = dt.timedelta(hours=1)
END = node("end", "exit")
GRAPH = chain(node("start", "event", name="signup"), node("w", "wait", hours=24), END)


def _erase(customer) -> None:
    assert customer_erase(customer_id=customer.pk, requested_by="dpo@example.com") is not None


def _customer(name: str) -> Customer:
    return CustomerFactory(name=name, email=f"{name.lower()}@example.com", email_consent=True,
                           sms_consent=True, phone="+1 555 0100", city="Paris")


def _delivery(customer, status: str, **fields) -> Delivery:
    """A message to `customer`; a sent one with what went out."""
    if status != Delivery.Status.QUEUED:
        fields.setdefault("address", customer.email)
        fields.setdefault("subject", f"A gift for you, {customer.name}")
        fields.setdefault("body", f"<p>Dear {customer.name}, your code: GIFT-42</p>")
    if status == Delivery.Status.SENT:
        fields.setdefault("sent_at", T0)
    return DeliveryFactory(customer=customer, status=status, due_at=T0, created_at=T0,
                           **fields)


def _state(row) -> tuple:
    row.refresh_from_db()
    if isinstance(row, Journey):
        return row.status, row.due_at, row.finished_at
    return row.status, row.reason, row.address, row.subject, row.body


def test_erasing_exits_journeys_under_way_and_leaves_finished_ones_alone():
    ann, bob = _customer("Ann"), _customer("Bob")
    walks = version(CampaignFactory(), GRAPH, at=T0)
    others = version(CampaignFactory(), GRAPH, at=T0)
    due = T0 + 24 * HOUR
    active = journey(walks, ann, entered_at=T0, status=Journey.Status.ACTIVE, node="w",
                     due_at=due)
    paused = journey(others, ann, entered_at=T0, status=Journey.Status.PAUSED, node="w",
                     due_at=due)
    completed = journey(walks, ann, entered_at=T0 - 48 * HOUR)
    bobs = journey(walks, bob, entered_at=T0, status=Journey.Status.ACTIVE, node="w",
                   due_at=due)

    before = timezone.now()
    _erase(ann)
    after = timezone.now()

    for walk in (active, paused):
        status, due_at, finished_at = _state(walk)
        assert (status, due_at) == (Journey.Status.EXITED, None)
        assert before <= finished_at <= after
    assert _state(completed) == (Journey.Status.COMPLETED, None, T0 - 48 * HOUR)
    assert _state(bobs) == (Journey.Status.ACTIVE, due, None)


def test_erasing_skips_queued_messages_and_empties_those_that_went_out():
    ann, bob = _customer("Ann"), _customer("Bob")
    queued = _delivery(ann, Delivery.Status.QUEUED)
    sent = _delivery(ann, Delivery.Status.SENT)
    failed = _delivery(ann, Delivery.Status.FAILED, reason="send_error")
    bobs_queued = _delivery(bob, Delivery.Status.QUEUED)
    bobs_sent = _delivery(bob, Delivery.Status.SENT)

    _erase(ann)

    assert _state(queued) == (Delivery.Status.SKIPPED, "erased", "", "", "")
    # What went out still counts (status, time): only the personal part is gone.
    assert _state(sent) == (Delivery.Status.SENT, "", "", "", "")
    assert sent.sent_at == T0
    assert _state(failed) == (Delivery.Status.FAILED, "send_error", "", "", "")
    assert _state(bobs_queued) == (Delivery.Status.QUEUED, "", "", "", "")
    assert _state(bobs_sent) == (Delivery.Status.SENT, "", "bob@example.com",
                                 "A gift for you, Bob",
                                 "<p>Dear Bob, your code: GIFT-42</p>")


def test_a_message_queued_before_the_erasure_is_never_sent():
    ann, bob = _customer("Ann"), _customer("Bob")
    _delivery(ann, Delivery.Status.QUEUED)
    _delivery(bob, Delivery.Status.QUEUED)

    _erase(ann)
    result = deliveries_dispatch(now=T0 + HOUR)

    assert (result.claimed, result.sent) == (1, 1)
    assert [email.to for email in mail.outbox] == [["bob@example.com"]]


def test_a_paused_campaign_resumed_after_the_erasure_does_not_go_on_for_them(publish):
    campaign = publish(GRAPH)
    ann, bob = _customer("Ann"), _customer("Bob")
    for customer in (ann, bob):
        EventFactory(customer=customer, name="signup", occurred_at=T0 + HOUR)
    run(T0 + HOUR)
    campaign_pause(campaign)

    _erase(ann)
    campaign_resume(campaign, now=T0 + 2 * HOUR)
    run(T0 + 30 * HOUR)  # past the wait

    statuses = dict(Journey.objects.filter(campaign=campaign)
                    .values_list("customer_id", "status"))
    assert statuses == {ann.pk: Journey.Status.EXITED, bob.pk: Journey.Status.COMPLETED}


def test_journeys_enter_starts_no_journey_for_an_erased_customer(publish):
    campaign = publish(GRAPH)
    ann, bob = _customer("Ann"), _customer("Bob")
    _erase(ann)

    source = (Customer.objects.filter(pk__in=[ann.pk, bob.pk])
              .values(customer_id=F("pk"), entry_key=Value("manual", CharField())))
    started = journeys_enter(campaign=campaign, source=source, now=T0 + HOUR)

    assert started == 1
    assert list(Journey.objects.filter(campaign=campaign)
                .values_list("customer_id", flat=True)) == [bob.pk]


def test_a_lifecycle_change_kept_from_before_the_erasure_starts_no_journey(publish):
    campaign = publish(chain(node("start", "lifecycle_changed", to_stage="dormant"), END))
    ann, bob = _customer("Ann"), _customer("Bob")
    for customer in (ann, bob):
        LifecycleChange.objects.create(customer=customer, from_stage="active",
                                       to_stage="dormant", changed_at=T0 + HOUR)
    _erase(ann)

    run(T0 + 2 * HOUR)

    assert set(Journey.objects.filter(campaign=campaign)
               .values_list("customer_id", flat=True)) == {bob.pk}


def test_a_broadcast_skips_an_erased_member_the_segment_still_lists(publish):
    """The segments catch up after the erasure commits; a broadcast read before that must
    not reach the erased customer."""
    ann, bob = _customer("Ann"), _customer("Bob")
    segment = Segment.objects.create(name="Paris", rule=condition("city", "==", "Paris"))
    segment_evaluate(segment.pk, now=T0 - HOUR)
    campaign = publish(chain(node("start", "scheduled", segment=segment.pk,
                                  at=(T0 + HOUR).isoformat()), END))

    _erase(ann)  # still a stored member: no evaluation ran since
    run(T0 + HOUR)

    assert set(Journey.objects.filter(campaign=campaign)
               .values_list("customer_id", flat=True)) == {bob.pk}


def test_leaving_a_segment_because_of_the_erasure_starts_no_exit_journey(publish):
    ann, bob = _customer("Ann"), _customer("Bob")
    segment = Segment.objects.create(name="Paris", rule=condition("city", "==", "Paris"))
    segment_evaluate(segment.pk, now=T0 - HOUR)
    campaign = publish(chain(node("start", "segment_exited", segment=segment.pk), END))
    run(T0)

    _erase(ann)
    bob.city = "Lyon"
    bob.save()
    segment_evaluate(segment.pk, now=T0 + HOUR)  # both leave: one erased, one moved
    run(T0 + HOUR)

    assert set(Journey.objects.filter(campaign=campaign)
               .values_list("customer_id", flat=True)) == {bob.pk}


class ErasingBackend(EmailBackend):
    """An email provider that is slow enough for the erasure to land mid-send: the customer
    is erased (and commits) while their message is on its way."""

    def send_messages(self, messages):
        for message in messages:
            customer = Customer.objects.get(email__iexact=message.to[0])
            _erase(customer)
        return super().send_messages(messages)


def test_a_message_on_its_way_during_the_erasure_keeps_no_text(settings):
    settings.CAMPAIGNS_EMAIL_BACKEND = f"{__name__}.ErasingBackend"
    ann = _customer("Ann")
    delivery = _delivery(ann, Delivery.Status.QUEUED, template=MessageTemplateFactory(
        subject="For {{ customer.name }}", body="<p>Dear {{ customer.name }}</p>"))

    deliveries_dispatch(now=T0 + HOUR)

    assert len(mail.outbox) == 1  # it went out: that cannot be taken back
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    # But once the erasure is done, nothing personal stays on the row.
    assert (delivery.address, delivery.subject, delivery.body) == ("", "", "")
