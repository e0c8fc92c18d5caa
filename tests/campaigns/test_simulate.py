"""The dry run against hand counts: who would enter (trigger audiences, entry rules, holdout),
how many pass each node (conditions, splits, waits), coupons and their budget, and which
messages would be skipped and why. And that it writes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.flows import NODE_TYPES, GraphError
from campaigns.flows.logic import SplitConfig, split_port
from campaigns.models import (
    Campaign,
    Coupon,
    CouponDefinition,
    Delivery,
    DeliverySettings,
    Journey,
    JourneyStep,
    Suppression,
    TriggerCursor,
)
from campaigns.services import simulate as simulate_module
from campaigns.services.coupons import codes_issued
from campaigns.services.simulate import PASS_THROUGH, SIMULATORS, campaign_simulate
from customers.models import CustomerMetrics, LifecycleChange
from segments.models import Segment, SegmentChange, SegmentMembership
from tests.campaigns import builders as b
from tests.campaigns.factories import (
    CampaignFactory,
    CouponDefinitionFactory,
    MessageTemplateFactory,
    chain,
    edge,
    node,
)
from tests.customers.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def segment_of(*customers) -> Segment:
    segment = Segment.objects.create(name=f"seg-{Segment.objects.count()}",
                                     rule={"==": [{"var": "city"}, "X"]})
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=c, entered_at=NOW) for c in customers)
    return segment


def draft(trigger: dict, *steps: dict, ports: dict | None = None, extra_edges=(),
          **fields) -> Campaign:
    """A campaign whose draft is trigger -> steps... -> exit."""
    graph = chain(trigger, *steps, node("end", "exit"), ports=ports)
    graph["edges"] += list(extra_edges)
    return CampaignFactory(draft_graph=graph, **fields)


def entered_segment(segment: Segment) -> dict:
    return node("start", "segment_entered", segment=segment.pk)


def _node(simulation, node_id: str):
    return next(n for n in simulation.nodes if n.id == node_id)


def mail(node_id: str = "mail", channel: str = "email") -> dict:
    return node(node_id, "send_message", channel=channel,
                template=MessageTemplateFactory(channel=channel).pk)


# --- who would enter ----------------------------------------------------------------------

def test_a_segment_trigger_enters_its_members_now():
    members = [CustomerFactory() for _ in range(5)]
    CustomerFactory()  # not a member
    campaign = draft(entered_segment(segment_of(*members)))

    simulation = campaign_simulate(campaign, now=NOW)

    assert (simulation.eligible, simulation.entering, simulation.treated) == (5, 5, 5)
    assert _node(simulation, "start").ports == {"next": 5}
    assert _node(simulation, "end").entered == 5


def test_once_ever_keeps_out_customers_who_had_a_journey():
    members = [CustomerFactory() for _ in range(5)]
    campaign = draft(entered_segment(segment_of(*members)))
    v1 = b.version(campaign, campaign.draft_graph, at=NOW - 9 * DAY)
    b.journey(v1, members[0], entered_at=NOW - 9 * DAY)  # completed long ago
    b.journey(v1, members[1], entered_at=NOW - DAY, status=Journey.Status.HOLDOUT)

    simulation = campaign_simulate(campaign, now=NOW)

    assert (simulation.eligible, simulation.already_entered, simulation.entering) == (5, 2, 3)


def test_again_after_keeps_out_journeys_under_way_and_recent_ones():
    members = [CustomerFactory() for _ in range(4)]
    campaign = draft(entered_segment(segment_of(*members)), entry=Campaign.Entry.AGAIN_AFTER,
                     reentry_days=10)
    v1 = b.version(campaign, campaign.draft_graph, at=NOW - 30 * DAY)
    b.journey(v1, members[0], entered_at=NOW - 20 * DAY, status=Journey.Status.ACTIVE,
              node="end", due_at=NOW + DAY)  # still under way
    b.journey(v1, members[1], entered_at=NOW - 5 * DAY)  # too recent
    b.journey(v1, members[2], entered_at=NOW - 20 * DAY)  # long enough ago

    simulation = campaign_simulate(campaign, now=NOW)

    assert (simulation.already_entered, simulation.entering) == (2, 2)


def test_every_time_lets_everyone_in_again():
    members = [CustomerFactory() for _ in range(3)]
    campaign = draft(entered_segment(segment_of(*members)), entry=Campaign.Entry.EVERY_TIME)
    v1 = b.version(campaign, campaign.draft_graph, at=NOW - DAY)
    b.journey(v1, members[0], entered_at=NOW - DAY)

    assert campaign_simulate(campaign, now=NOW).entering == 3


def test_the_holdout_is_the_one_publishing_would_draw():
    members = [CustomerFactory() for _ in range(60)]
    segment = segment_of(*members)
    campaign = draft(node("start", "scheduled", segment=segment.pk, at=NOW.isoformat()),
                     holdout_percent=Decimal("30"))

    simulation = campaign_simulate(campaign, now=NOW)
    b.run(campaign, at=NOW)
    held = Journey.objects.filter(campaign=campaign, status=Journey.Status.HOLDOUT).count()

    assert 0 < simulation.holdout < 60
    assert (simulation.holdout, simulation.treated) == (held, 60 - held)


def test_the_holdout_is_drawn_by_the_entry_hash_for_every_customer_id():
    from campaigns.services.entry import in_holdout
    from campaigns.services.simulate import _holdouts

    campaign = CampaignFactory(holdout_percent=Decimal("12.34"))
    ids = set(range(1, 20_001))

    assert _holdouts(campaign, ids) == {pk for pk in ids if in_holdout(campaign, pk)}


def test_segment_exited_takes_those_who_left_in_the_last_30_days():
    left_recently, left_long_ago, entered = (CustomerFactory() for _ in range(3))
    segment = segment_of()
    for customer, kind, ago in [(left_recently, "exited", 29 * DAY),
                                (left_long_ago, "exited", 31 * DAY),
                                (entered, "entered", DAY)]:
        SegmentChange.objects.create(segment=segment, customer=customer, kind=kind,
                                     at=NOW - ago)
    campaign = draft(node("start", "segment_exited", segment=segment.pk))

    simulation = campaign_simulate(campaign, now=NOW)

    assert (simulation.entering, simulation.lookback_days) == (1, 30)


def test_lifecycle_trigger_takes_recent_changes_to_the_stage_from_the_stage():
    dormant_from_active, dormant_from_new, old, other = (CustomerFactory() for _ in range(4))
    for customer, before, after, ago in [(dormant_from_active, "active", "dormant", DAY),
                                         (dormant_from_new, "new", "dormant", DAY),
                                         (old, "active", "dormant", 40 * DAY),
                                         (other, "active", "churned", DAY)]:
        LifecycleChange.objects.create(customer=customer, from_stage=before, to_stage=after,
                                       changed_at=NOW - ago)
    campaign = draft(node("start", "lifecycle_changed", to_stage="dormant",
                          from_stage="active"))

    assert campaign_simulate(campaign, now=NOW).entering == 1


def test_event_trigger_takes_customers_who_did_it_lately_with_those_properties():
    twice, once, wrong_sku, long_ago = (CustomerFactory() for _ in range(4))
    for customer, sku, ago in [(twice, "TEA", DAY), (twice, "TEA", 2 * DAY), (once, "TEA", DAY),
                               (wrong_sku, "MUG", DAY), (long_ago, "TEA", 31 * DAY)]:
        EventFactory(customer=customer, name="cart_add", properties={"sku": sku},
                     occurred_at=NOW - ago)
    campaign = draft(node("start", "event", name="cart_add", properties={"sku": "TEA"}))

    simulation = campaign_simulate(campaign, now=NOW)

    assert (simulation.eligible, simulation.entering) == (2, 2)


def test_order_trigger_takes_recent_paid_orders_of_at_least_the_amount_net():
    big, refunded, small = (CustomerFactory() for _ in range(3))
    b.order(big, NOW - DAY, "120.00")
    b.order(refunded, NOW - DAY, "120.00", refunded="30.00")
    b.order(small, NOW - DAY, "50.00")
    campaign = draft(node("start", "order_placed", min_amount="100.00"))

    assert campaign_simulate(campaign, now=NOW).entering == 1


# --- logic and waits -----------------------------------------------------------------------

PARIS = {"==": [{"var": "city"}, "Paris"]}


@pytest.mark.parametrize(("scoped_max", "unscoped_share"), [(5_000, 3), (0, 1_000), (0, 0)],
                         ids=["runner's scoped query", "everyone, intersected", "the set in SQL"])
def test_a_condition_sends_matching_customers_through_yes(monkeypatch, scoped_max,
                                                          unscoped_share):
    monkeypatch.setattr(simulate_module, "SCOPED_MAX", scoped_max)
    monkeypatch.setattr(simulate_module, "UNSCOPED_SHARE", unscoped_share)
    members = [CustomerFactory(city="Paris") for _ in range(3)] + \
        [CustomerFactory(city="Rome") for _ in range(4)]
    CustomerFactory(city="Paris")  # not entering
    campaign = draft(entered_segment(segment_of(*members)), node("if", "condition", rule=PARIS),
                     ports={"if": "yes"}, extra_edges=[edge("if", "end", "no")])

    assert _node(campaign_simulate(campaign, now=NOW), "if").ports == {"yes": 3, "no": 4}


def test_a_split_draws_the_runners_shares_on_the_customer_id():
    members = [CustomerFactory() for _ in range(40)]
    branches = [{"port": "A", "percent": 30}, {"port": "B", "percent": 70}]
    campaign = draft(entered_segment(segment_of(*members)), node("ab", "split",
                                                                 branches=branches),
                     ports={"ab": "A"}, extra_edges=[edge("ab", "end", "B")])
    config = SplitConfig(branches=branches)
    expected_a = sum(1 for c in members if split_port(config, c.pk, "ab") == "A")

    simulation = campaign_simulate(campaign, now=NOW)
    ab = _node(simulation, "ab")

    assert ab.ports == {"A": expected_a, "B": 40 - expected_a}
    assert "stand" in ab.estimate


def test_waits_for_time_let_everyone_through():
    members = [CustomerFactory() for _ in range(3)]
    campaign = draft(entered_segment(segment_of(*members)), node("w", "wait", days=2),
                     node("u", "wait_until", time="10:00"))

    simulation = campaign_simulate(campaign, now=NOW)

    assert (_node(simulation, "w").ports, _node(simulation, "u").ports) == (
        {"next": 3}, {"next": 3})


def test_wait_for_a_birthday_sends_customers_without_one_through_missing():
    members = [CustomerFactory(birthday=dt.date(1990, 5, d)) for d in (1, 2)] + \
        [CustomerFactory(birthday=None) for _ in range(3)]
    campaign = draft(entered_segment(segment_of(*members)),
                     node("bd", "wait_for_date", field="birthday"),
                     extra_edges=[edge("bd", "end", "missing")], ports={"bd": "next"})

    assert _node(campaign_simulate(campaign, now=NOW), "bd").ports == {"next": 2, "missing": 3}


def test_wait_for_an_attribute_date_needs_a_readable_date():
    members = [CustomerFactory(attributes={"joined": "2020-04-01"}),
               CustomerFactory(attributes={"joined": "2021-01-31T08:00:00"}),
               CustomerFactory(attributes={"joined": "soon"}),
               CustomerFactory(attributes={"joined": 20200401}),
               CustomerFactory(attributes={})]
    campaign = draft(entered_segment(segment_of(*members)),
                     node("j", "wait_for_date", field="attributes.joined"),
                     extra_edges=[edge("j", "end", "missing")], ports={"j": "next"})

    assert _node(campaign_simulate(campaign, now=NOW), "j").ports == {"next": 2, "missing": 3}


def test_wait_for_an_event_estimates_from_the_timeout_before_now():
    within, before, never = (CustomerFactory() for _ in range(3))
    EventFactory(customer=within, name="cart_add", occurred_at=NOW - 2 * DAY)
    EventFactory(customer=before, name="cart_add", occurred_at=NOW - 4 * DAY)
    EventFactory(customer=never, name="visit", occurred_at=NOW - DAY)
    campaign = draft(entered_segment(segment_of(within, before, never)),
                     node("e", "wait_for_event", kind="event", name="cart_add",
                          timeout={"days": 3}),
                     extra_edges=[edge("e", "end", "timeout")], ports={"e": "happened"})

    waited = _node(campaign_simulate(campaign, now=NOW), "e")

    assert waited.ports == {"happened": 1, "timeout": 2}
    assert waited.estimate.startswith("Estimated")


def test_a_loop_through_a_wait_counts_each_customer_once_per_node():
    members = [CustomerFactory(city="Paris"), CustomerFactory(city="Rome")]
    graph = {"nodes": [entered_segment(segment_of(*members)), node("w", "wait", days=1),
                       node("if", "condition", rule=PARIS), node("end", "exit")],
             "edges": [edge("start", "w"), edge("w", "if"), edge("if", "end", "yes"),
                       edge("if", "w", "no")]}
    campaign = CampaignFactory(draft_graph=graph)

    simulation = campaign_simulate(campaign, now=NOW)

    assert {n.id: n.entered for n in simulation.nodes} == {"start": 2, "w": 2, "if": 2,
                                                            "end": 1}


def test_every_node_type_is_simulated_or_passed_through():
    assert set(NODE_TYPES) - {key for key, t in NODE_TYPES.items()
                              if t.category == "trigger"} == set(SIMULATORS) | PASS_THROUGH


# --- coupons ----------------------------------------------------------------------------------

def _coupon_campaign(customers, definition: CouponDefinition, *more: dict) -> Campaign:
    return draft(entered_segment(segment_of(*customers)),
                 node("gift", "issue_coupon", definition=definition.pk), *more,
                 ports={"gift": "issued"}, extra_edges=[edge("gift", "end", "not_issued")])


def test_coupons_stop_at_the_codes_left_in_the_budget():
    members = [CustomerFactory() for _ in range(5)]
    definition = CouponDefinitionFactory(kind="fixed", value=Decimal("10.00"), max_codes=3)
    Coupon.objects.create(definition=definition, code="EARLIER1", customer=CustomerFactory(),
                          issued_at=NOW)  # one code of the budget already out

    simulation = campaign_simulate(_coupon_campaign(members, definition), now=NOW)
    gift = _node(simulation, "gift")

    assert (gift.coupons, gift.not_issued_by_reason, gift.ports) == (
        2, {"budget": 3}, {"issued": 2, "not_issued": 3})
    assert (gift.discount_budget, simulation.discount_budget) == (Decimal("20.00"),
                                                                  Decimal("20.00"))


def test_a_percentage_budget_takes_each_customers_aov_capped_by_max_discount():
    # 15% capped at 20.00. Shop AOV = (300 + 200) / (3 + 1) orders = 125.00.
    # c1 AOV 100 -> 15.00; c2 AOV 200 -> 30 capped 20.00; c3 no metrics and c4 no AOV take
    # the shop's: 18.75 each. Total 72.50.
    c1, c2, c3, c4 = (CustomerFactory() for _ in range(4))
    for customer, aov, ltv, orders in [(c1, "100.00", "300.00", 3), (c2, "200.00", "200.00", 1),
                                       (c4, None, "0.00", 0)]:
        CustomerMetrics.objects.create(customer=customer, aov=aov, ltv=Decimal(ltv),
                                       order_count=orders, lifecycle_stage="active",
                                       computed_at=NOW)
    definition = CouponDefinitionFactory(value=Decimal("15"), max_discount=Decimal("20.00"))

    gift = _node(campaign_simulate(_coupon_campaign([c1, c2, c3, c4], definition), now=NOW),
                 "gift")

    assert (gift.coupons, gift.discount_budget) == (4, Decimal("72.50"))


def test_a_customer_holding_a_code_already_is_refused_by_the_limit():
    holder, other = CustomerFactory(), CustomerFactory()
    definition = CouponDefinitionFactory(per_customer_limit=1)
    Coupon.objects.create(definition=definition, code="HELD1", customer=holder, issued_at=NOW)

    gift = _node(campaign_simulate(_coupon_campaign([holder, other], definition), now=NOW),
                 "gift")

    assert (gift.coupons, gift.not_issued_by_reason) == (1, {"limit": 1})


def test_a_second_node_of_the_same_coupon_counts_the_codes_of_the_first():
    members = [CustomerFactory() for _ in range(3)]
    definition = CouponDefinitionFactory(per_customer_limit=1)
    campaign = _coupon_campaign(members, definition,
                                node("again", "issue_coupon", definition=definition.pk))
    campaign.draft_graph["edges"] = [e for e in campaign.draft_graph["edges"]
                                     if e["source"] != "again"] + [
        edge("again", "end", "issued"), edge("again", "end", "not_issued")]
    campaign.save()

    again = _node(campaign_simulate(campaign, now=NOW), "again")

    assert (again.coupons, again.not_issued_by_reason) == (0, {"limit": 3})


@pytest.mark.parametrize(("fields", "reason"), [
    ({"is_active": False}, "inactive"),
    ({"valid_until": NOW - DAY}, "expired"),
])
def test_a_closed_definition_issues_nothing(fields, reason):
    members = [CustomerFactory() for _ in range(2)]
    definition = CouponDefinitionFactory(**fields)

    gift = _node(campaign_simulate(_coupon_campaign(members, definition), now=NOW), "gift")

    assert (gift.coupons, gift.not_issued_by_reason) == (0, {reason: 2})


def test_the_total_discount_budget_bounds_the_estimate():
    members = [CustomerFactory() for _ in range(4)]
    definition = CouponDefinitionFactory(kind="fixed", value=Decimal("10.00"),
                                         max_discount_total=Decimal("25.00"))

    gift = _node(campaign_simulate(_coupon_campaign(members, definition), now=NOW), "gift")

    assert (gift.coupons, gift.discount_budget) == (4, Decimal("25.00"))
    assert "total discount budget" in gift.estimate


# --- messages -------------------------------------------------------------------------------

def _sent(customer, *, days_ago: float, channel: str = "email") -> None:
    at = NOW - dt.timedelta(days=days_ago)
    Delivery.objects.create(customer=customer, channel=channel, status=Delivery.Status.SENT,
                            due_at=at, created_at=at, sent_at=at)


def test_an_email_is_skipped_without_address_consent_or_when_suppressed():
    ok = CustomerFactory(email="ok@example.com", email_consent=True)
    no_address = CustomerFactory(email="", email_consent=True)
    no_consent = CustomerFactory(email="no@example.com", email_consent=False)
    suppressed = CustomerFactory(email="Gone@Example.com", email_consent=True)
    Suppression.objects.create(channel="email", address="gone@example.com",
                               reason="unsubscribed")
    Suppression.objects.create(channel="sms", address="ok@example.com", reason="bounced")
    campaign = draft(entered_segment(segment_of(ok, no_address, no_consent, suppressed)),
                     mail())

    simulation = campaign_simulate(campaign, now=NOW)

    assert (_node(simulation, "mail").messages, _node(simulation, "mail").skipped_by_reason) \
        == (1, {"no_address": 1, "no_consent": 1, "suppressed": 1})
    assert simulation.messages_by_channel == {"email": 1}
    assert _node(simulation, "mail").ports == {"next": 4}  # a skip does not stop the journey


def test_an_sms_needs_a_phone_and_sms_consent():
    ok = CustomerFactory(phone="+8613800000000", sms_consent=True)
    no_phone = CustomerFactory(phone="", sms_consent=True)
    email_only = CustomerFactory(phone="+8613800000001", sms_consent=False, email_consent=True)
    campaign = draft(entered_segment(segment_of(ok, no_phone, email_only)), mail("sms", "sms"))

    sms = _node(campaign_simulate(campaign, now=NOW), "sms")

    assert (sms.messages, sms.skipped_by_reason) == (1, {"no_address": 1, "no_consent": 1})


def test_the_frequency_cap_counts_recent_sends_and_the_dry_runs_own():
    # Cap: 3 messages per 7 days. busy had 3 (the 4th is skipped); two had 2, so the first
    # mail of this campaign is its 3rd and the second mail its 4th; stale's 3 are 8 days old.
    DeliverySettings.objects.create(pk=1, cap_messages=3, cap_days=7)
    busy, two, stale = (CustomerFactory(email_consent=True) for _ in range(3))
    for _ in range(3):
        _sent(busy, days_ago=1)
        _sent(stale, days_ago=8)
    _sent(two, days_ago=2)
    _sent(two, days_ago=6.9, channel="sms")
    campaign = draft(entered_segment(segment_of(busy, two, stale)), mail("m1"), mail("m2"))

    simulation = campaign_simulate(campaign, now=NOW)

    assert _node(simulation, "m1").skipped_by_reason == {"frequency_cap": 1}
    assert _node(simulation, "m2").skipped_by_reason == {"frequency_cap": 2}
    assert simulation.messages_by_channel == {"email": 3}


def test_a_channel_cap_applies_to_that_channel_only():
    DeliverySettings.objects.create(pk=1, cap_messages=0, channel_caps={"sms": [1, 7]})
    texted = CustomerFactory(phone="+86138", sms_consent=True, email_consent=True)
    _sent(texted, days_ago=3, channel="sms")
    campaign = draft(entered_segment(segment_of(texted)), mail("sms", "sms"), mail("mail"))

    simulation = campaign_simulate(campaign, now=NOW)

    assert _node(simulation, "sms").skipped_by_reason == {"frequency_cap": 1}
    assert _node(simulation, "mail").messages == 1


def test_a_campaign_of_higher_priority_messaging_today_wins():
    from tests.campaigns.factories import CampaignFactory

    rival = CampaignFactory(priority=10)
    taken, free = CustomerFactory(email_consent=True), CustomerFactory(email_consent=True)
    Delivery.objects.create(customer=taken, campaign=rival, channel="email",
                            status=Delivery.Status.SENT, due_at=NOW - dt.timedelta(hours=1),
                            created_at=NOW, sent_at=NOW - dt.timedelta(hours=1))
    campaign = draft(entered_segment(segment_of(taken, free)), mail())

    simulation = campaign_simulate(campaign, now=NOW)

    assert (_node(simulation, "mail").messages, simulation.skipped_by_reason) == (
        1, {"priority": 1})


def test_quiet_hours_skip_nothing():
    DeliverySettings.objects.create(pk=1, quiet_start="00:00", quiet_end="23:59",
                                    quiet_channels=["email"])
    customer = CustomerFactory(email_consent=True)
    campaign = draft(entered_segment(segment_of(customer)), mail())

    simulation = campaign_simulate(campaign, now=NOW)

    assert (_node(simulation, "mail").messages, simulation.skipped_by_reason) == (1, {})


# --- it writes nothing ------------------------------------------------------------------------

def test_a_dry_run_writes_nothing():
    members = [CustomerFactory(email_consent=True) for _ in range(6)]
    definition = CouponDefinitionFactory(max_codes=10)
    campaign = _coupon_campaign(members, definition, mail())
    tables = [Journey, JourneyStep, Coupon, Delivery, TriggerCursor, DeliverySettings]

    with CaptureQueriesContext(connection) as queries:
        simulation = campaign_simulate(campaign, now=NOW)

    assert simulation.coupons == 6
    assert [model.objects.count() for model in tables] == [0] * len(tables)
    assert codes_issued(definition) == 0
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


def test_a_draft_that_could_not_be_published_is_refused():
    campaign = CampaignFactory(draft_graph={"nodes": [node("w", "wait", days=1)],
                                            "edges": []})

    with pytest.raises(GraphError) as raised:
        campaign_simulate(campaign, now=NOW)

    assert "trigger" in str(raised.value)
