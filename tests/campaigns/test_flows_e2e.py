"""Whole campaigns, end to end: triggers, the runner, coupons, the dispatcher, channels,
goals and results, as an operator draws them.

The clock-driven flows run the services with an explicit `now` (days pass in a line); the
last test runs the win-back through a real Celery worker, with storefront API calls, where
"three days later" is the journey's stored times moved back three days."""

import datetime as dt
from decimal import Decimal

import pytest
import sms
from django.core import mail
from django.utils import timezone

from campaigns.models import Coupon, Delivery, Journey
from campaigns.services.coupons import display_code
from campaigns.services.dispatch import deliveries_dispatch
from campaigns.services.results import campaign_results
from campaigns.tasks import sweep_task
from customers.models import LifecycleChange
from segments.models import Segment
from segments.services.evaluation import segment_evaluate
from tests.campaigns.conftest import run
from tests.campaigns.factories import (
    CouponDefinitionFactory,
    MessageTemplateFactory,
    edge,
    node,
)
from tests.conftest import wait_for
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def dispatch(now: dt.datetime) -> None:
    while deliveries_dispatch(now=now).claimed:
        pass


def advance(now: dt.datetime) -> None:
    run(now)
    dispatch(now)


def winback_graph(definition, email, reminder) -> dict:
    """Dormant -> 10:00 their time -> 15% coupon -> email -> wait 3 days for an order ->
    (none) SMS reminder."""
    nodes = [
        node("dormant", "lifecycle_changed", to_stage="dormant"),
        node("ten", "wait_until", time="10:00"),
        node("coupon", "issue_coupon", definition=definition.pk),
        node("mail", "send_message", channel="email", template=email.pk),
        node("order", "wait_for_event", kind="order", timeout={"days": 3}),
        node("remind", "send_message", channel="sms", template=reminder.pk),
        node("done", "exit"), node("bought", "exit"), node("none", "exit"),
    ]
    edges = [edge("dormant", "ten"), edge("ten", "coupon"),
             edge("coupon", "mail", "issued"), edge("coupon", "none", "not_issued"),
             edge("mail", "order"), edge("order", "remind", "timeout"),
             edge("order", "bought", "happened"), edge("remind", "done")]
    return {"nodes": nodes, "edges": edges}


def winback_parts():
    definition = CouponDefinitionFactory(name="Win-back 15%", value=Decimal("15"),
                                         valid_days=7, code_prefix="BACK")
    email = MessageTemplateFactory(
        channel="email", subject="We miss you, {{ customer.name }}",
        body="<p>{{ coupon.discount }} with <b>{{ coupon.code }}</b> until "
             "{{ coupon.expires_at|date:'j M' }}.</p>")
    reminder = MessageTemplateFactory(channel="sms",
                                      body="Last days for {{ coupon.code }}!")
    return definition, email, reminder


def became_dormant(customer, at):
    LifecycleChange.objects.create(customer=customer, from_stage="active", to_stage="dormant",
                                   changed_at=at)


def test_dormant_win_back_with_a_reminder_and_a_stop_on_order(publish, delivery_settings):
    t0 = dt.datetime(2026, 6, 1, 20, 0, tzinfo=dt.UTC)  # 04:00 next day in Shanghai
    definition, email, reminder = winback_parts()
    campaign = publish(winback_graph(definition, email, reminder), at=t0,
                       goal={"kind": "order"}, goal_days=7)
    buyer, silent = (CustomerFactory(name=name, time_zone="Asia/Shanghai", phone="+8613800000",
                                     email_consent=True, sms_consent=True)
                     for name in ("Bo", "Li"))
    became_dormant(buyer, t0 + dt.timedelta(minutes=5))
    became_dormant(silent, t0 + dt.timedelta(minutes=5))

    advance(t0 + dt.timedelta(minutes=10))
    assert not mail.outbox  # waiting for 10:00 in Shanghai (02:00 UTC)
    ten_shanghai = dt.datetime(2026, 6, 2, 2, 0, tzinfo=dt.UTC)
    advance(ten_shanghai)

    assert sorted(m.to[0] for m in mail.outbox) == sorted([buyer.email, silent.email])
    code = Coupon.objects.get(customer=buyer).code
    assert code.startswith("BACK")
    [to_buyer] = [m for m in mail.outbox if m.to == [buyer.email]]
    assert to_buyer.subject == "We miss you, Bo"
    assert to_buyer.body.startswith(
        f"15% off with {display_code(code, 'BACK')} until 9 Jun.\n\nUnsubscribe (")

    OrderFactory(customer=buyer, placed_at=ten_shanghai + DAY)  # the buyer comes back
    advance(ten_shanghai + 3 * DAY + dt.timedelta(minutes=1))

    assert [message.recipients for message in sms.outbox] == [[silent.phone]]
    assert Journey.objects.get(customer=buyer).status == "converted"
    assert Journey.objects.get(customer=silent).status == "completed"
    results = campaign_results(campaign, now=ten_shanghai + 4 * DAY)
    assert results.treated.conversions == 1


def test_birthday_coupon_at_nine_in_each_customers_own_time(publish, delivery_settings):
    today = dt.date(2026, 6, 2)
    tokyo = CustomerFactory(time_zone="Asia/Tokyo", birthday=dt.date(1990, 6, 2),
                            email_consent=True)
    lima = CustomerFactory(time_zone="America/Lima", birthday=dt.date(1985, 6, 2),
                           email_consent=True)
    CustomerFactory(time_zone="Asia/Tokyo", birthday=dt.date(1990, 6, 3), email_consent=True)
    birthdays = Segment.objects.create(name="Birthday today",
                                       rule={"birthday_today": [{"var": "birthday"}]})
    gift = CouponDefinitionFactory(name="Birthday gift", kind="fixed", value=Decimal("20"))
    wish = MessageTemplateFactory(channel="email", subject="Happy birthday!",
                                  body="<p>{{ coupon.code }}</p>")
    graph = {"nodes": [node("nine", "scheduled", segment=birthdays.pk, time="09:00",
                            local_time=True),
                       node("gift", "issue_coupon", definition=gift.pk),
                       node("wish", "send_message", channel="email", template=wish.pk),
                       node("end", "exit"), node("none", "exit")],
             "edges": [edge("nine", "gift"), edge("gift", "wish", "issued"),
                       edge("gift", "none", "not_issued"), edge("wish", "end")]}
    publish(graph, at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), entry="every_time")

    nine_tokyo = dt.datetime.combine(today, dt.time(0, 0), tzinfo=dt.UTC)  # 09:00 JST
    segment_evaluate(birthdays.pk, now=nine_tokyo)
    advance(nine_tokyo)
    assert [m.to for m in mail.outbox] == [[tokyo.email]]

    nine_lima = dt.datetime.combine(today, dt.time(14, 0), tzinfo=dt.UTC)  # 09:00 PET
    segment_evaluate(birthdays.pk, now=nine_lima)
    advance(nine_lima)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([tokyo.email, lima.email])
    assert Coupon.objects.filter(definition=gift).count() == 2


def test_an_ab_split_with_a_holdout(publish, delivery_settings):
    t0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    letters = {name: MessageTemplateFactory(channel="email", subject=f"Offer {name}",
                                            body="<p>hi</p>") for name in "AB"}
    audience = Segment.objects.create(name="Everyone", rule={"and": []})
    customers = CustomerFactory.create_batch(400, email_consent=True)
    segment_evaluate(audience.pk, now=t0)
    graph = {"nodes": [node("go", "scheduled", segment=audience.pk, at=t0.isoformat()),
                       node("ab", "split", branches=[{"port": "A", "percent": 50},
                                                     {"port": "B", "percent": 50}]),
                       node("a", "send_message", channel="email", template=letters["A"].pk),
                       node("b", "send_message", channel="email", template=letters["B"].pk),
                       node("end", "exit"), node("end2", "exit")],
             "edges": [edge("go", "ab"), edge("ab", "a", "A"), edge("ab", "b", "B"),
                       edge("a", "end"), edge("b", "end2")]}
    campaign = publish(graph, at=t0, holdout_percent=Decimal("20"), goal={"kind": "order"})

    advance(t0)
    held = Journey.objects.filter(campaign=campaign, status="holdout").count()
    sent = {name: sum(m.subject == f"Offer {name}" for m in mail.outbox) for name in "AB"}
    assert 60 <= held <= 100
    assert sent["A"] + sent["B"] + held == len(customers)
    assert abs(sent["A"] - sent["B"]) <= 60

    results = campaign_results(campaign, now=t0 + DAY)
    assert results.holdout.customers == held
    [split] = [n for n in results.nodes if n.id == "ab"]
    assert {branch.port: branch.group.customers for branch in split.branches} == sent


@pytest.mark.postgres
@pytest.mark.redis
def test_win_back_through_a_real_worker(worker, api, delivery_settings):
    from campaigns.models import Campaign
    from campaigns.services.campaigns import campaign_publish, campaign_save

    definition, email, reminder = winback_parts()
    graph = winback_graph(definition, email, reminder)
    graph["nodes"][1] = node("ten", "wait", minutes=1)  # no clock to wait for here
    campaign = campaign_save(Campaign(name="Win-back"), draft_graph=graph,
                             goal={"kind": "order"})
    campaign_publish(campaign)
    buyer = CustomerFactory(external_id="buyer", email_consent=True, sms_consent=True,
                            phone="+8613800001")
    silent = CustomerFactory(external_id="silent", email_consent=True, sms_consent=True,
                             phone="+8613800002")
    for customer in (buyer, silent):
        became_dormant(customer, timezone.now())
    sweep_task.delay()
    wait_for(lambda: Journey.objects.filter(campaign=campaign, node="ten").count() == 2)

    _time_passes(campaign, dt.timedelta(minutes=1))
    wait_for(lambda: Delivery.objects.filter(channel="email", status="sent").count() == 2)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([buyer.email, silent.email])

    response = api.post("/api/v1/orders/", {
        "external_id": "o-1", "customer": "buyer", "amount": "59.00", "status": "paid",
        "placed_at": timezone.now().isoformat()}, format="json")
    assert response.status_code == 201, response.content
    wait_for(lambda: Journey.objects.get(customer=buyer).status == "converted")

    _time_passes(campaign, dt.timedelta(days=3))
    wait_for(lambda: Delivery.objects.filter(channel="sms", status="sent").exists())
    assert [message.recipients for message in sms.outbox] == [[silent.phone]]


def _time_passes(campaign, delta: dt.timedelta) -> None:
    """As if `delta` had passed: the waiting journeys' times move back, and the sweep looks."""
    for journey in Journey.objects.filter(campaign=campaign, status="active"):
        Journey.objects.filter(pk=journey.pk).update(
            entered_at=journey.entered_at - delta, arrived_at=journey.arrived_at - delta,
            due_at=timezone.now())
    sweep_task.delay()
