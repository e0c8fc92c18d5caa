"""Triggers: who starts a journey, and when, for each trigger type."""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import Journey
from campaigns.services.triggers import LATE, triggers_consume
from customers.models import LifecycleChange
from segments.models import Segment, SegmentChange
from segments.rules import condition
from segments.services.changelog import change_log_settled
from segments.services.evaluation import segment_evaluate, segment_evaluate_customers
from tests.campaigns.conftest import T0, run
from tests.campaigns.factories import chain, node
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
END = node("end", "exit")


def entered(campaign) -> set[int]:
    return set(Journey.objects.filter(campaign=campaign).values_list("customer_id", flat=True))


def _segment(city="Paris"):
    segment = Segment.objects.create(name=f"in {city}", rule=condition("city", "==", city))
    segment_evaluate(segment.pk, now=T0 - HOUR)
    return segment


def test_entering_a_segment_starts_journeys_only_for_entries_after_publishing(publish):
    old = CustomerFactory(city="Paris")
    segment = _segment()
    campaign = publish(chain(node("start", "segment_entered", segment=segment.pk), END))
    new = CustomerFactory(city="Paris")

    segment_evaluate_customers(segment.pk, [new.pk], now=T0 + HOUR)
    run(T0 + HOUR)

    assert entered(campaign) == {new.pk}
    assert old.pk not in entered(campaign)


def test_leaving_a_segment_starts_a_journey(publish):
    leaver = CustomerFactory(city="Paris")
    segment = _segment()
    campaign = publish(chain(node("start", "segment_exited", segment=segment.pk), END))

    leaver.city = "Lyon"
    leaver.save()
    segment_evaluate(segment.pk, now=T0 + HOUR)
    run(T0 + HOUR)

    assert entered(campaign) == {leaver.pk}
    assert Journey.objects.get().entry_key == "once"


def test_the_change_log_is_read_up_to_its_settled_end_once(publish):
    segment = _segment()
    campaign = publish(chain(node("start", "segment_entered", segment=segment.pk), END),
                       entry="every_time")
    customers = CustomerFactory.create_batch(3, city="Paris")
    segment_evaluate(segment.pk, now=T0 + HOUR)

    assert change_log_settled(segment.pk) == SegmentChange.objects.latest("id").id
    run(T0 + HOUR)
    run(T0 + 2 * HOUR)

    assert sorted(Journey.objects.filter(campaign=campaign).values_list(
        "customer_id", flat=True)) == sorted(c.pk for c in customers)


def test_a_lifecycle_change_starts_a_journey(publish):
    dormant, active = CustomerFactory(), CustomerFactory()
    campaign = publish(chain(node("start", "lifecycle_changed", to_stage="dormant",
                                  from_stage="active"), END))
    LifecycleChange.objects.create(customer=dormant, from_stage="active", to_stage="dormant",
                                   changed_at=T0 + HOUR)
    LifecycleChange.objects.create(customer=active, from_stage="new", to_stage="dormant",
                                   changed_at=T0 + HOUR)
    LifecycleChange.objects.create(customer=active, from_stage="active", to_stage="dormant",
                                   changed_at=T0 - HOUR)  # before the campaign

    run(T0 + 2 * HOUR)

    assert entered(campaign) == {dormant.pk}


def test_an_event_trigger_filters_by_properties(publish):
    campaign = publish(chain(node("start", "event", name="cart_add",
                                  properties={"sku": "TEA-01"}), END))
    tea, coffee = CustomerFactory(), CustomerFactory()
    EventFactory(customer=tea, name="cart_add", properties={"sku": "TEA-01"},
                 occurred_at=T0 + HOUR)
    EventFactory(customer=coffee, name="cart_add", properties={"sku": "COF-02"},
                 occurred_at=T0 + HOUR)

    run(T0 + 2 * HOUR)

    assert entered(campaign) == {tea.pk}


def test_an_event_that_arrives_long_after_it_happened_starts_nothing(publish):
    campaign = publish(chain(node("start", "event", name="cart_add"), END))
    shopper = CustomerFactory()
    EventFactory(customer=shopper, name="cart_add", occurred_at=T0 + HOUR)

    run(T0 + HOUR + LATE + HOUR)

    assert entered(campaign) == set()


def test_events_of_just_these_customers_start_journeys_at_once(publish):
    campaign = publish(chain(node("start", "event", name="signup"), END))
    one, other = CustomerFactory(), CustomerFactory()
    EventFactory(customer=one, name="signup", occurred_at=T0 + HOUR)
    EventFactory(customer=other, name="signup", occurred_at=T0 + HOUR)

    assert triggers_consume(now=T0 + HOUR, customers=[one.pk]) == 1

    assert entered(campaign) == {one.pk}


def test_an_order_trigger_counts_paid_orders_net_of_refunds(publish):
    campaign = publish(chain(node("start", "order_placed", min_amount="100"), END),
                       entry="every_time")
    big, refunded, pending = CustomerFactory(), CustomerFactory(), CustomerFactory()
    OrderFactory(customer=big, amount=Decimal("150"), placed_at=T0 + HOUR)
    OrderFactory(customer=refunded, amount=Decimal("150"), refunded_amount=Decimal("60"),
                 placed_at=T0 + HOUR)
    OrderFactory(customer=pending, amount=Decimal("500"), status="pending",
                 placed_at=T0 + HOUR)

    run(T0 + 2 * HOUR)

    assert entered(campaign) == {big.pk}
    assert Journey.objects.get().entry_key.startswith("order:")


def test_a_one_off_broadcast_starts_the_segment_once_at_its_time(publish):
    members = CustomerFactory.create_batch(3, city="Paris")
    segment = _segment()
    at = T0 + 3 * HOUR
    campaign = publish(chain(node("start", "scheduled", segment=segment.pk,
                                  at=at.isoformat()), END), entry="every_time")

    run(at - dt.timedelta(seconds=1))
    assert entered(campaign) == set()
    run(at)
    run(at + HOUR)

    assert entered(campaign) == {m.pk for m in members}
    assert Journey.objects.filter(campaign=campaign).count() == 3


def test_a_daily_schedule_in_each_customers_time_zone(publish):
    tokyo = CustomerFactory(city="Paris", time_zone="Asia/Tokyo")  # UTC+9
    paris = CustomerFactory(city="Paris", time_zone="Europe/Paris")  # UTC+2 in June
    segment = _segment()
    campaign = publish(chain(node("start", "scheduled", segment=segment.pk, time="09:00",
                                  local_time=True), END), entry="every_time")

    run(dt.datetime(2026, 6, 2, 0, 30, tzinfo=dt.UTC))  # 09:30 in Tokyo, 02:30 in Paris
    assert entered(campaign) == {tokyo.pk}
    run(dt.datetime(2026, 6, 2, 7, 0, tzinfo=dt.UTC))  # 09:00 in Paris
    assert entered(campaign) == {tokyo.pk, paris.pk}
    run(dt.datetime(2026, 6, 2, 8, 0, tzinfo=dt.UTC))  # nothing new the same day
    assert Journey.objects.filter(campaign=campaign).count() == 2

    run(dt.datetime(2026, 6, 3, 0, 30, tzinfo=dt.UTC))  # next day in Tokyo
    assert Journey.objects.filter(campaign=campaign, customer=tokyo).count() == 2


def test_a_schedule_does_not_make_up_for_a_time_before_it_was_published(publish):
    CustomerFactory(city="Paris")
    segment = _segment()
    # Published at 10:00 UTC; today's 09:00 UTC has passed and is not made up.
    campaign = publish(chain(node("start", "scheduled", segment=segment.pk, time="09:00"),
                             END), at=dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC))

    run(dt.datetime(2026, 6, 1, 11, 0, tzinfo=dt.UTC))
    assert entered(campaign) == set()
    run(dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.UTC))
    assert len(entered(campaign)) == 1



def _crash_on_chunk(monkeypatch, number: int, also=None) -> None:
    """journeys_enter raises on its `number`th call (a worker lost mid-entry); `also` runs on
    each call before that one, inside its chunk's transaction."""
    from campaigns.services import triggers

    calls = []
    enter = triggers.journeys_enter

    def crashing(**kwargs):
        calls.append(1)
        if len(calls) == number:
            raise RuntimeError("worker lost")
        if also:
            also()
        return enter(**kwargs)

    monkeypatch.setattr(triggers, "journeys_enter", crashing)


def _broadcast(publish):
    segment = _segment()
    return publish(chain(node("start", "scheduled", segment=segment.pk, at=T0.isoformat()),
                         END))


def test_a_large_audience_enters_in_chunks_each_committed_on_its_own(publish, monkeypatch):
    monkeypatch.setattr("campaigns.services.triggers.ENTRY_CHUNK", 2)
    members = CustomerFactory.create_batch(5, city="Paris")
    campaign = _broadcast(publish)
    _crash_on_chunk(monkeypatch, 2)

    with pytest.raises(RuntimeError):
        triggers_consume(now=T0 + HOUR)
    assert entered(campaign) == {m.pk for m in members[:2]}  # the first chunk committed

    monkeypatch.undo()
    monkeypatch.setattr("campaigns.services.triggers.ENTRY_CHUNK", 2)
    assert triggers_consume(now=T0 + HOUR) == 3  # the rest, chunk after chunk
    assert sorted(Journey.objects.filter(campaign=campaign).values_list(
        "customer_id", flat=True)) == sorted(m.pk for m in members)
    assert triggers_consume(now=T0 + 2 * HOUR) == 0  # the occurrence is done


def test_a_campaign_paused_between_chunks_enters_the_rest_when_resumed(publish, monkeypatch):
    from campaigns.services.campaigns import campaign_pause, campaign_resume

    monkeypatch.setattr("campaigns.services.triggers.ENTRY_CHUNK", 2)
    members = CustomerFactory.create_batch(3, city="Paris")
    campaign = _broadcast(publish)
    _crash_on_chunk(monkeypatch, 99, also=lambda: campaign_pause(campaign))

    assert triggers_consume(now=T0 + HOUR) == 2
    assert triggers_consume(now=T0 + HOUR) == 0
    campaign_resume(campaign, now=T0 + 2 * HOUR)
    assert triggers_consume(now=T0 + 2 * HOUR) == 1

    assert entered(campaign) == {m.pk for m in members}


def test_a_new_occurrence_starts_its_audience_from_the_first_member(publish, monkeypatch):
    monkeypatch.setattr("campaigns.services.triggers.ENTRY_CHUNK", 2)
    members = CustomerFactory.create_batch(3, city="Paris")
    segment = _segment()
    campaign = publish(chain(node("start", "scheduled", segment=segment.pk, time="09:00"),
                             END), entry="every_time", at=dt.datetime(2026, 6, 1, 8, 0,
                                                                      tzinfo=dt.UTC))
    _crash_on_chunk(monkeypatch, 2)
    with pytest.raises(RuntimeError):  # the first day's occurrence half done
        triggers_consume(now=dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC))
    monkeypatch.undo()
    monkeypatch.setattr("campaigns.services.triggers.ENTRY_CHUNK", 2)

    # Missed ones are not made up: the second day's starts from its first member.
    assert triggers_consume(now=dt.datetime(2026, 6, 2, 9, 30, tzinfo=dt.UTC)) == 3
    day_two = Journey.objects.filter(campaign=campaign, entry_key__contains="06-02")
    assert sorted(day_two.values_list("customer_id", flat=True)) == sorted(
        m.pk for m in members)
