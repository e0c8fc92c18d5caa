"""The journey runner: entry rules, holdouts, every node type's way through, goals, versions,
pause/archive, failures, and exactly-once effects when work is repeated."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import CharField, F, Value
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.flows.logic import bucket, bucket_sql, split_port
from campaigns.models import Coupon, Delivery, Journey, JourneyStep
from campaigns.services.campaigns import campaign_archive, campaign_pause, campaign_resume
from campaigns.services.coupons import codes_issued
from campaigns.services.entry import in_holdout, journeys_enter
from campaigns.services.runner import journeys_advance
from customers.models import Customer
from tests.campaigns.conftest import T0, run
from tests.campaigns.factories import (
    CouponDefinitionFactory,
    MessageTemplateFactory,
    chain,
    edge,
    node,
)
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
CART = node("start", "event", name="cart_add")


def cart_add(customer, at):
    return EventFactory(customer=customer, name="cart_add", occurred_at=at)


def journeys(campaign, **filters):
    return Journey.objects.filter(campaign=campaign, **filters)


# --- entry rules and holdout -------------------------------------------------------------------

def test_once_ever_admits_a_customer_one_time(publish):
    campaign = publish(chain(CART, node("end", "exit")), entry="once")
    shopper = CustomerFactory()

    cart_add(shopper, T0 + HOUR)
    assert run(T0 + 2 * HOUR) == 1
    cart_add(shopper, T0 + 3 * HOUR)
    assert run(T0 + 4 * HOUR) == 0

    assert journeys(campaign).get().status == Journey.Status.COMPLETED


def test_every_time_starts_a_journey_per_occurrence(publish):
    campaign = publish(chain(CART, node("end", "exit")), entry="every_time")
    shopper = CustomerFactory()

    cart_add(shopper, T0 + HOUR)
    cart_add(shopper, T0 + 2 * HOUR)
    run(T0 + 3 * HOUR)
    run(T0 + 3 * HOUR)  # read again: nothing new

    assert journeys(campaign).count() == 2


def test_again_after_waits_the_days_and_never_while_one_is_under_way(publish):
    graph = chain(CART, node("w", "wait", days=2), node("end", "exit"))
    campaign = publish(graph, entry="again_after", reentry_days=5)
    shopper = CustomerFactory()

    cart_add(shopper, T0 + HOUR)
    run(T0 + HOUR)
    cart_add(shopper, T0 + 2 * HOUR)  # under way: refused
    run(T0 + 2 * HOUR)
    assert journeys(campaign).count() == 1

    cart_add(shopper, T0 + dt.timedelta(days=3))  # finished, but within 5 days: refused
    run(T0 + dt.timedelta(days=3))
    assert journeys(campaign).count() == 1

    later = T0 + dt.timedelta(days=5, hours=2)
    cart_add(shopper, later)
    run(later)
    assert journeys(campaign).count() == 2


def test_holdout_customers_enter_but_are_left_alone(publish):
    coupon = CouponDefinitionFactory()
    graph = chain(CART, node("c", "issue_coupon", definition=coupon.pk), node("end", "exit"),
                  ports={"c": "issued"})
    graph["edges"].append(edge("c", "end", "not_issued"))
    campaign = publish(graph, holdout_percent=Decimal("30"), entry="every_time")
    shoppers = CustomerFactory.create_batch(200)
    for shopper in shoppers:
        cart_add(shopper, T0 + HOUR)

    run(T0 + 2 * HOUR)

    held = set(journeys(campaign, status="holdout").values_list("customer_id", flat=True))
    assert held == {s.pk for s in shoppers if in_holdout(campaign, s.pk)}
    assert 30 <= len(held) <= 90  # 30% of 200, loosely
    assert set(Coupon.objects.values_list("customer_id", flat=True)) == \
        {s.pk for s in shoppers} - held


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.integers(1, 10**12), min_size=1, max_size=30, unique=True),
       salt=st.integers(0, 2**32 - 1))
def test_the_sql_bucket_agrees_with_the_python_one(keys, salt):
    values = ", ".join(f"({key})" for key in keys)
    source = (f"(VALUES {values}) AS v (c)" if connection.vendor == "postgresql"
              else f"(SELECT column1 AS c FROM (VALUES {values}))")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT c, {bucket_sql('c', salt)} FROM {source}", [])
        in_sql = dict(cursor.fetchall())

    assert in_sql == {key: bucket(key, salt) for key in keys}


def test_a_split_after_a_holdout_keeps_its_shares():
    from campaigns.flows.logic import SplitConfig, salt_of
    from campaigns.services.entry import holdout_salt

    config = SplitConfig(branches=[{"port": "A", "percent": 50}, {"port": "B", "percent": 50}])
    treated = [c for c in range(1, 20_001) if bucket(c, holdout_salt(7)) >= 1000]
    # Journey ids follow customer ids when a broadcast enters them in order.
    a_side = [c for c in treated if split_port(config, c + 500, "ab") == "A"]
    nested = [c for c in a_side if split_port(config, c + 500, "ab2") == "A"]

    assert 0.88 <= len(treated) / 20_000 <= 0.92
    assert 0.48 <= len(a_side) / len(treated) <= 0.52
    assert 0.48 <= len(nested) / len(a_side) <= 0.52
    assert salt_of("ab") != salt_of("ab2")


def test_split_branches_follow_their_percentages_and_never_change():
    from campaigns.flows.logic import SplitConfig

    config = SplitConfig(branches=[{"port": "A", "percent": 20}, {"port": "B", "percent": 80}])
    taken = [split_port(config, journey_id, "ab") for journey_id in range(1, 10_001)]

    assert 1800 <= taken.count("A") <= 2200
    assert taken == [split_port(config, journey_id, "ab") for journey_id in range(1, 10_001)]


# --- waits ---------------------------------------------------------------------------------------

def test_a_wait_holds_the_journey_until_its_time(publish):
    campaign = publish(chain(CART, node("w", "wait", hours=3), node("end", "exit")))
    cart_add(CustomerFactory(), T0 + HOUR)

    run(T0 + HOUR)
    journey = journeys(campaign).get()
    assert (journey.node, journey.status, journey.due_at) == ("w", "active", T0 + 4 * HOUR)

    run(T0 + 4 * HOUR - dt.timedelta(seconds=1))
    assert journeys(campaign).get().node == "w"
    run(T0 + 4 * HOUR)
    assert journeys(campaign).get().status == "completed"


def test_wait_until_a_time_of_day_in_the_customers_time_zone(publish):
    graph = chain(CART, node("w", "wait_until", time="10:00", weekdays=[0, 1, 2, 3, 4]),
                  node("end", "exit"))
    campaign = publish(graph)
    tokyo = CustomerFactory(time_zone="Asia/Tokyo")  # UTC+9
    saturday_noon_tokyo = dt.datetime(2026, 6, 6, 3, 0, tzinfo=dt.UTC)
    cart_add(tokyo, saturday_noon_tokyo)

    run(saturday_noon_tokyo)

    # Monday 8 June 10:00 in Tokyo is 01:00 UTC.
    assert journeys(campaign).get().due_at == dt.datetime(2026, 6, 8, 1, 0, tzinfo=dt.UTC)


def test_wait_until_on_a_daylight_saving_day_keeps_the_wall_clock(publish):
    graph = chain(CART, node("w", "wait_until", time="09:00"), node("end", "exit"))
    campaign = publish(graph, at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    paris = CustomerFactory(time_zone="Europe/Paris")
    # Clocks go forward on 29 March 2026: 09:00 in Paris is 07:00 UTC from then on.
    before = dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC)
    cart_add(paris, before)

    run(before)

    assert journeys(campaign).get().due_at == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)


def test_wait_for_a_birthday_three_days_before_and_29_february_on_28(publish):
    graph = chain(CART, node("w", "wait_for_date", field="birthday", offset_days=-3,
                             time="09:00"),
                  node("end", "exit"), ports={"w": "next"})
    graph["nodes"].append(node("none", "exit"))
    graph["edges"].append(edge("w", "none", "missing"))
    campaign = publish(graph, entry="every_time")
    leap = CustomerFactory(birthday=dt.date(2000, 2, 29), time_zone="UTC")
    nobody = CustomerFactory(birthday=None)
    moment = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)
    cart_add(leap, moment)
    cart_add(nobody, moment)

    run(moment)

    # 2027 is not a leap year: the birthday is 28 February, three days before is the 25th.
    assert journeys(campaign, customer=leap).get().due_at == dt.datetime(
        2027, 2, 25, 9, 0, tzinfo=dt.UTC)
    missing = journeys(campaign, customer=nobody).get()
    assert missing.status == "completed"
    assert JourneyStep.objects.get(journey=missing, node="w").port == "missing"


def _wait_for_order_graph():
    graph = chain(CART, node("w", "wait_for_event", kind="order", timeout={"days": 3}),
                  node("thanks", "add_tag", tag="bought"), node("end", "exit"),
                  ports={"w": "happened"})
    graph["nodes"] += [node("remind", "add_tag", tag="reminded"), node("end2", "exit")]
    graph["edges"] += [edge("w", "remind", "timeout"), edge("remind", "end2")]
    return graph


def test_wait_for_an_order_leaves_through_happened_when_the_customer_orders(publish):
    from campaigns.services.runner import journeys_wake

    campaign = publish(_wait_for_order_graph())
    shopper = CustomerFactory()
    cart_add(shopper, T0 + HOUR)
    run(T0 + HOUR)
    assert journeys(campaign).get().due_at == T0 + HOUR + dt.timedelta(days=3)

    OrderFactory(customer=shopper, placed_at=T0 + 5 * HOUR)
    assert journeys_wake([shopper.pk], now=T0 + 5 * HOUR) == 1
    run(T0 + 5 * HOUR)

    assert Customer.objects.get(pk=shopper.pk).tags == ["bought"]


def test_wait_for_an_order_times_out_without_one(publish):
    publish(_wait_for_order_graph())
    shopper = CustomerFactory()
    cart_add(shopper, T0 + HOUR)
    run(T0 + HOUR)

    run(T0 + HOUR + dt.timedelta(days=3))

    assert Customer.objects.get(pk=shopper.pk).tags == ["reminded"]


# --- logic and actions  --------------------------------------------------------------------------

def test_a_condition_sends_each_customer_down_yes_or_no(publish):
    from segments.rules import condition

    graph = chain(CART, node("c", "condition", rule=condition("city", "==", "Paris")),
                  node("yes", "add_tag", tag="parisian"), node("end", "exit"),
                  ports={"c": "yes"})
    graph["nodes"].append(node("no", "exit"))
    graph["edges"].append(edge("c", "no", "no"))
    publish(graph)
    paris, lyon = CustomerFactory(city="Paris"), CustomerFactory(city="Lyon")
    cart_add(paris, T0 + HOUR)
    cart_add(lyon, T0 + HOUR)

    run(T0 + HOUR)

    assert Customer.objects.get(pk=paris.pk).tags == ["parisian"]
    assert Customer.objects.get(pk=lyon.pk).tags == []


def test_a_condition_reads_the_predicted_value(publish):
    """"Only those whose predicted value is above the coupon's cost": a value-model field."""
    from customers.models import CustomerPrediction
    from segments.rules import condition

    graph = chain(CART, node("c", "condition", rule=condition("predicted_clv", ">=", 15)),
                  node("yes", "add_tag", tag="worth_it"), node("end", "exit"),
                  ports={"c": "yes"})
    graph["nodes"].append(node("no", "exit"))
    graph["edges"].append(edge("c", "no", "no"))
    publish(graph)
    valuable, cheap, unscored = CustomerFactory(), CustomerFactory(), CustomerFactory()
    for customer, clv in [(valuable, "15.00"), (cheap, "14.99")]:
        CustomerPrediction.objects.create(customer=customer, predicted_clv=clv,
                                          value_coefficient=50, computed_at=T0)
    for customer in (valuable, cheap, unscored):
        cart_add(customer, T0 + HOUR)

    run(T0 + HOUR)

    tags = dict(Customer.objects.filter(pk__in=[valuable.pk, cheap.pk, unscored.pk])
                .values_list("pk", "tags"))
    assert tags == {valuable.pk: ["worth_it"], cheap.pk: [], unscored.pk: []}


def test_tags_and_attributes_change_set_based(publish):
    graph = chain(CART, node("add", "add_tag", tag="vip"), node("drop", "remove_tag", tag="new"),
                  node("attr", "set_attribute", key="tier", value="gold"), node("end", "exit"))
    publish(graph)
    shopper = CustomerFactory(tags=["new", "other"], attributes={"size": "M"})
    cart_add(shopper, T0 + HOUR)

    run(T0 + HOUR)

    shopper.refresh_from_db()
    assert sorted(shopper.tags) == ["other", "vip"]
    assert shopper.attributes == {"size": "M", "tier": "gold"}


def _coupon_graph(definition, template=None):
    nodes = [CART, node("c", "issue_coupon", definition=definition.pk)]
    if template:
        nodes.append(node("m", "send_message", channel="email", template=template.pk))
    nodes.append(node("end", "exit"))
    graph = chain(*nodes, ports={"c": "issued"})
    graph["nodes"].append(node("none", "exit"))
    graph["edges"].append(edge("c", "none", "not_issued"))
    return graph


def test_a_coupon_budget_stops_issuing_and_says_why(publish):
    definition = CouponDefinitionFactory(max_codes=3)
    campaign = publish(_coupon_graph(definition), entry="every_time")
    for shopper in CustomerFactory.create_batch(5):
        cart_add(shopper, T0 + HOUR)

    run(T0 + HOUR)

    assert Coupon.objects.filter(definition=definition).count() == 3
    definition.refresh_from_db()
    assert codes_issued(definition) == 3
    refused = JourneyStep.objects.filter(journey__campaign=campaign, node="c",
                                         port="not_issued")
    assert [step.note for step in refused] == ["budget", "budget"]


def test_one_coupon_per_customer_by_default(publish):
    definition = CouponDefinitionFactory()
    publish(_coupon_graph(definition), entry="every_time")
    shopper = CustomerFactory()
    cart_add(shopper, T0 + HOUR)
    cart_add(shopper, T0 + 2 * HOUR)

    run(T0 + 2 * HOUR)

    assert Coupon.objects.filter(customer=shopper).count() == 1
    assert JourneyStep.objects.filter(node="c", port="not_issued").get().note == "limit"


def test_a_message_mentions_the_coupon_its_journey_was_given(publish):
    definition = CouponDefinitionFactory(valid_days=7)
    template = MessageTemplateFactory()
    campaign = publish(_coupon_graph(definition, template))
    shopper = CustomerFactory()
    cart_add(shopper, T0 + HOUR)

    run(T0 + HOUR)

    coupon = Coupon.objects.get()
    assert coupon.expires_at == T0 + HOUR + dt.timedelta(days=7)
    delivery = Delivery.objects.get()
    assert (delivery.campaign, delivery.customer, delivery.coupon, delivery.node,
            delivery.status) == (campaign, shopper, coupon, "m", "queued")


# --- exactly once  -------------------------------------------------------------------------------

def test_a_batch_run_again_from_its_start_writes_nothing_twice(publish):
    definition = CouponDefinitionFactory()
    campaign = publish(_coupon_graph(definition, MessageTemplateFactory()), entry="every_time")
    for shopper in CustomerFactory.create_batch(20):
        cart_add(shopper, T0 + HOUR)
    run(T0 + HOUR)
    coupons = dict(Coupon.objects.values_list("journey_id", "code"))

    # As if every batch's commit had been lost and its task ran again.
    journeys(campaign).update(node="c", step=1, status="active", due_at=T0 + HOUR,
                              finished_at=None)
    run(T0 + 2 * HOUR)

    assert dict(Coupon.objects.values_list("journey_id", "code")) == coupons
    assert Delivery.objects.count() == 20
    assert JourneyStep.objects.count() == 60
    definition.refresh_from_db()
    assert codes_issued(definition) == 20


def test_a_node_that_fails_fails_only_its_journeys(publish, monkeypatch):
    graph = chain(CART, node("ab", "split", branches=[{"port": "A", "percent": 50},
                                                      {"port": "B", "percent": 50}]),
                  node("tag", "add_tag", tag="a"), node("end", "exit"), ports={"ab": "A"})
    graph["nodes"] += [node("w", "wait", hours=1), node("end2", "exit")]
    graph["edges"] += [edge("ab", "w", "B"), edge("w", "end2")]
    campaign = publish(graph, entry="every_time")
    for shopper in CustomerFactory.create_batch(20):
        cart_add(shopper, T0 + HOUR)

    def broken(*args, **kwargs):
        raise ValueError("the tag service is down")

    monkeypatch.setattr("campaigns.services.profile.customers_tag", broken)
    run(T0 + HOUR)

    failed = journeys(campaign, status="failed")
    waiting = journeys(campaign, status="active", node="w")
    assert failed.count() + waiting.count() == 20
    assert failed.count() > 0
    assert waiting.count() > 0
    assert JourneyStep.objects.filter(journey__in=failed, node="tag").first().note == \
        "ValueError: the tag service is down"


# --- goals, versions, pause and archive  ---------------------------------------------------------

def test_an_order_within_the_goal_window_ends_the_journey_as_a_conversion(publish):
    graph = chain(CART, node("w", "wait", days=2), node("tag", "add_tag", tag="nudged"),
                  node("end", "exit"))
    campaign = publish(graph, goal={"kind": "order"}, goal_days=7)
    shopper = CustomerFactory()
    cart_add(shopper, T0 + HOUR)
    run(T0 + HOUR)
    OrderFactory(customer=shopper, placed_at=T0 + 5 * HOUR)

    run(T0 + dt.timedelta(days=2, hours=1))

    journey = journeys(campaign).get()
    assert (journey.status, journey.converted_at) == ("converted", T0 + 5 * HOUR)
    assert Customer.objects.get(pk=shopper.pk).tags == []


def test_journeys_finish_the_version_they_started_on(publish):
    from campaigns.services.campaigns import campaign_publish, campaign_save

    campaign = publish(chain(CART, node("w", "wait", hours=5), node("v1", "add_tag", tag="v1"),
                             node("end", "exit")), entry="every_time")
    first, second = CustomerFactory(), CustomerFactory()
    cart_add(first, T0 + HOUR)
    run(T0 + HOUR)

    campaign_save(campaign, draft_graph=chain(CART, node("w", "wait", hours=5),
                                              node("v2", "add_tag", tag="v2"),
                                              node("end", "exit")))
    campaign_publish(campaign, now=T0 + 2 * HOUR)
    cart_add(second, T0 + 3 * HOUR)
    run(T0 + 3 * HOUR)
    run(T0 + dt.timedelta(hours=10))

    assert Customer.objects.get(pk=first.pk).tags == ["v1"]
    assert Customer.objects.get(pk=second.pk).tags == ["v2"]


def test_a_paused_campaign_holds_its_journeys_and_resumes_them(publish):
    campaign = publish(chain(CART, node("w", "wait", hours=1), node("end", "exit")))
    cart_add(CustomerFactory(), T0 + HOUR)
    run(T0 + HOUR)

    campaign_pause(campaign)
    run(T0 + 3 * HOUR)
    held = journeys(campaign).get()
    assert (held.status, held.node) == ("paused", "w")

    campaign_resume(campaign, now=T0 + 4 * HOUR)
    run(T0 + 4 * HOUR)
    assert journeys(campaign).get().status == "completed"


def test_events_while_paused_start_nothing_after_resuming(publish):
    campaign = publish(chain(CART, node("end", "exit")), entry="every_time")
    campaign_pause(campaign)
    cart_add(CustomerFactory(), T0 + HOUR)

    campaign_resume(campaign, now=T0 + 2 * HOUR)
    run(T0 + 2 * HOUR)

    assert not journeys(campaign).exists()


def test_archiving_ends_the_journeys_under_way(publish):
    campaign = publish(chain(CART, node("w", "wait", hours=1), node("end", "exit")))
    cart_add(CustomerFactory(), T0 + HOUR)
    run(T0 + HOUR)

    campaign_archive(campaign, now=T0 + 2 * HOUR)
    run(T0 + 3 * HOUR)

    assert journeys(campaign).get().status == "exited"


def test_entering_twice_with_the_same_key_starts_one_journey(publish):
    campaign = publish(chain(CART, node("end", "exit")), entry="every_time")
    shopper = CustomerFactory()
    source = Customer.objects.filter(pk=shopper.pk).annotate(
        customer_id=F("pk"), entry_key=Value("manual:1", CharField())).values(
        "customer_id", "entry_key")

    assert journeys_enter(campaign=campaign, source=source, now=T0) == 1
    assert journeys_enter(campaign=campaign, source=source, now=T0) == 0
    assert journeys_advance(now=T0).claimed == 1
