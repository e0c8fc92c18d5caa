"""Campaign results on hand-checked fixtures (every expected number is worked out in the
comments), then on journeys the real runner walked.

The main fixture: one version of start -> mail -> gift -(issued / not_issued)-> wait -> sms ->
end, entered at T0 by four treated customers (T1..T4) and four held out (H1..H4), seen at
T0 + 10 days. Attribution and goal windows are 7 days.

    treated revenue from entry [T0, T0+7d):  T1 20, T2 50-30 = 20, T3 50, T4 70 -> 160
    holdout revenue:                         H1 0, H2 0 (refunded), H3 30, H4 50 -> 80
The treated values are the holdout's plus 20 each, so both variances are 600 and Welch's
degrees of freedom are exactly 2 x (4 - 1) = 6 (t = 2.446912, from any t table).
"""

import datetime as dt
import math
from decimal import Decimal

import pytest

from campaigns.models import Campaign, Delivery, Journey
from campaigns.services.results import VersionNotFound, campaign_results
from customers.models import OrderStatus
from segments.models import Segment, SegmentMembership
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

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(days=10)
DAY, HOUR, US = dt.timedelta(days=1), dt.timedelta(hours=1), dt.timedelta(microseconds=1)
T_975_DF6 = 2.446912  # t table, two-sided 95%, 6 degrees of freedom
T_975_DF3 = 3.182446


def graph(definition_id: int = 1, template_id: int = 1) -> dict:
    g = chain(node("start", "scheduled", segment=1, at="2026-03-02T10:00:00+00:00"),
              node("mail", "send_message", channel="email", template=template_id),
              node("gift", "issue_coupon", definition=definition_id),
              node("wait", "wait", days=1),
              node("sms", "send_message", channel="sms", template=template_id),
              node("end", "exit"), ports={"gift": "issued"})
    g["edges"].append(edge("gift", "wait", "not_issued"))
    return g


@pytest.fixture
def hand():
    """The main fixture; returns the campaign."""
    campaign = CampaignFactory(goal={"kind": "order"}, goal_days=7, attribution_days=7,
                               holdout_percent=Decimal("50"))
    v1 = b.version(campaign, graph(), at=T0)
    t1, t2, t3, t4, h1, h2, h3, h4 = (CustomerFactory() for _ in range(8))
    _treated(v1, t1, t2, t3, t4)
    for customer in (h1, h2, h3, h4):
        b.journey(v1, customer, entered_at=T0, status=Journey.Status.HOLDOUT, node="mail")
    b.order(h1, T0 + 7 * DAY, "45.00")  # the goal window's last moment: a conversion only
    b.order(h2, T0 + DAY, "40.00", refunded="40.00", status=OrderStatus.REFUNDED)
    b.order(h3, T0 + 2 * DAY, "30.00")
    b.order(h4, T0 + 6 * DAY, "50.00")
    return campaign


def _treated(v1, t1, t2, t3, t4) -> None:
    j1 = b.journey(v1, t1, entered_at=T0)
    b.steps(j1, ("mail", "next", T0), ("gift", "issued", T0), ("wait", "next", T0 + DAY),
            ("sms", "next", T0 + DAY), ("end", "", T0 + DAY))
    b.delivery(j1, "mail", step=1, status=Delivery.Status.SENT, sent_at=T0 + HOUR)
    b.delivery(j1, "sms", step=4, status=Delivery.Status.FAILED, reason="provider_error",
               channel="sms")
    b.redeem(b.coupon(j1, "gift", step=2, issued_at=T0), discount="3.00", at=T0 + DAY)
    b.order(t1, T0 - US, "999.00")  # before entry
    b.order(t1, T0 + DAY, "20.00")
    b.order(t1, T0 + 7 * DAY, "500.00")  # the window's end: excluded from the campaign

    j2 = b.journey(v1, t2, entered_at=T0, status=Journey.Status.ACTIVE, node="wait",
                   due_at=NOW + DAY)
    b.steps(j2, ("mail", "next", T0), ("gift", "not_issued", T0, "budget"))
    b.delivery(j2, "mail", step=1, status=Delivery.Status.SKIPPED, reason="no_consent")
    b.order(t2, T0 + 3 * DAY, "50.00", refunded="30.00")

    j3 = b.journey(v1, t3, entered_at=T0)
    b.steps(j3, ("mail", "next", T0), ("gift", "not_issued", T0, "limit"),
            ("wait", "next", T0 + DAY), ("sms", "next", T0 + DAY), ("end", "", T0 + DAY))
    b.delivery(j3, "mail", step=1, status=Delivery.Status.SENT, sent_at=T0 + DAY)
    b.delivery(j3, "sms", step=4, status=Delivery.Status.SKIPPED, reason="frequency_cap",
               channel="sms")
    b.order(t3, T0 + 7 * DAY - US, "50.00")  # the window's last microsecond

    j4 = b.journey(v1, t4, entered_at=T0, status=Journey.Status.CONVERTED, node="wait")
    b.steps(j4, ("mail", "next", T0), ("gift", "not_issued", T0, "budget"))
    b.delivery(j4, "mail", step=1, status=Delivery.Status.SENT, sent_at=T0 + 2 * HOUR)
    b.order(t4, T0, "70.00")  # at entry: inside; before the touch: not attributed
    b.order(t4, T0 + DAY, "100.00", status=OrderStatus.PENDING)
    b.order(t4, T0 + DAY, "60.00", status=OrderStatus.CANCELLED)


def _node(results, node_id: str):
    return next(n for n in results.nodes if n.id == node_id)


# --- campaign-level counts ------------------------------------------------------------------

def test_journeys_are_counted_by_group_and_status(hand):
    journeys = campaign_results(hand, now=NOW).journeys

    assert (journeys.entered, journeys.treated, journeys.holdout) == (8, 4, 4)
    assert (journeys.active, journeys.waiting, journeys.completed, journeys.converted,
            journeys.exited, journeys.failed) == (1, 1, 2, 1, 0, 0)


def test_messages_count_sent_skipped_by_reason_and_failed(hand):
    messages = campaign_results(hand, now=NOW).messages

    assert (messages.sent, messages.skipped, messages.failed, messages.queued) == (3, 2, 1, 0)
    assert messages.skipped_by_reason == {"no_consent": 1, "frequency_cap": 1}
    assert messages.failed_by_reason == {"provider_error": 1}
    assert messages.sent_by_channel == {"email": 3}


def test_a_test_send_is_not_a_campaign_message(hand):
    treated = Journey.objects.filter(campaign=hand, status=Journey.Status.COMPLETED).first()
    Delivery.objects.create(campaign=hand, customer=treated.customer, channel="email",
                            status=Delivery.Status.SENT, due_at=T0, created_at=T0,
                            sent_at=T0, test=True)

    assert campaign_results(hand, now=NOW).messages.sent == 3


def test_coupons_count_issued_redeemed_discount_and_refusals(hand):
    coupons = campaign_results(hand, now=NOW).coupons

    assert (coupons.issued, coupons.redeemed, coupons.redemptions) == (1, 1, 1)
    assert coupons.discount == Decimal("3.00")
    assert coupons.not_issued_by_reason == {"budget": 2, "limit": 1}


# --- attribution ------------------------------------------------------------------------------

def test_attribution_counts_orders_from_the_first_touch_until_the_window_ends(hand):
    # First touches: T1 the coupon at T0 (its mail at T0+1h comes later), T3 the mail at
    # T0+1d, T4 the mail at T0+2h; T2 was never touched. In [touch, touch+7d): T1's 20
    # (not the 500 at exactly T0+7d, nor the 999 before), T3's 50 at T0+7d-1us; T4's 70 was
    # placed before its touch.
    attribution = campaign_results(hand, now=NOW).attribution

    assert (attribution.touched, attribution.orders) == (3, 2)
    assert attribution.revenue == Decimal("70.00")


def test_a_node_attributes_orders_from_its_own_first_touch(hand):
    # The mail node's touches: T1 at T0+1h (so T1's 500 at T0+7d is inside its window),
    # T3 at T0+1d (50), T4 at T0+2h (nothing after). The gift node: T1 at T0 (20 only).
    results = campaign_results(hand, now=NOW)
    mail, gift, sms = (_node(results, name).attribution for name in ("mail", "gift", "sms"))

    assert (mail.touched, mail.orders, mail.revenue) == (3, 3, Decimal("570.00"))
    assert (gift.touched, gift.orders, gift.revenue) == (1, 1, Decimal("20.00"))
    assert (sms.touched, sms.orders, sms.revenue) == (0, 0, Decimal("0.00"))


def test_refunds_subtract_from_attributed_revenue():
    campaign = CampaignFactory(attribution_days=7)
    v1 = b.version(campaign, graph(), at=T0)
    customer = CustomerFactory()
    walk = b.journey(v1, customer, entered_at=T0)
    b.delivery(walk, "mail", step=1, status=Delivery.Status.SENT, sent_at=T0)
    b.order(customer, T0 + DAY, "80.00", refunded="25.50")

    attribution = campaign_results(campaign, now=NOW).attribution

    assert (attribution.orders, attribution.revenue) == (1, Decimal("54.50"))


def test_an_order_in_two_journeys_windows_is_attributed_once():
    campaign = CampaignFactory(attribution_days=7, entry=Campaign.Entry.EVERY_TIME)
    v1 = b.version(campaign, graph(), at=T0)
    customer = CustomerFactory()
    for entered in (T0, T0 + 2 * DAY):
        walk = b.journey(v1, customer, entered_at=entered)
        b.delivery(walk, "mail", step=1, status=Delivery.Status.SENT, sent_at=entered)
    b.order(customer, T0 + 3 * DAY, "40.00")

    results = campaign_results(campaign, now=NOW)

    assert (results.attribution.touched, results.attribution.orders) == (2, 1)
    assert results.attribution.revenue == Decimal("40.00")
    assert (results.treated.customers, results.treated.revenue) == (1, Decimal("40.00"))


def test_orders_after_now_are_not_counted_yet():
    campaign = CampaignFactory(attribution_days=7)
    v1 = b.version(campaign, graph(), at=T0)
    customer = CustomerFactory()
    walk = b.journey(v1, customer, entered_at=T0)
    b.delivery(walk, "mail", step=1, status=Delivery.Status.SENT, sent_at=T0)
    b.order(customer, T0 + 2 * DAY, "10.00")
    b.order(customer, T0 + 4 * DAY, "90.00")

    results = campaign_results(campaign, now=T0 + 3 * DAY)

    assert results.attribution.revenue == Decimal("10.00")
    assert results.treated.revenue == Decimal("10.00")


# --- treated against holdout --------------------------------------------------------------

def test_arpu_of_treated_and_holdout_counts_customers_without_orders(hand):
    results = campaign_results(hand, now=NOW)

    assert (results.treated.customers, results.treated.revenue) == (4, Decimal("160.00"))
    assert results.treated.arpu == Decimal("40.00")
    assert (results.holdout.customers, results.holdout.revenue) == (4, Decimal("80.00"))
    assert results.holdout.arpu == Decimal("20.00")


def test_arpu_uplift_and_its_confidence_interval_match_a_hand_computation(hand):
    # Both variances 600: se = sqrt(600/4 + 600/4) = sqrt(300); df = 6.
    half = T_975_DF6 * math.sqrt(300)  # 42.3817...
    uplift = campaign_results(hand, now=NOW).uplift

    assert uplift.arpu.difference == Decimal("20.00")
    assert uplift.arpu.low == Decimal(str(round(20 - half, 2)))  # -22.38
    assert uplift.arpu.high == Decimal(str(round(20 + half, 2)))  # 62.38
    assert uplift.arpu.df == 6.0


def test_uplift_net_of_coupon_cost_subtracts_the_discount_per_treated_customer(hand):
    # 3.00 redeemed / 4 treated customers = 0.75 per customer.
    half = T_975_DF6 * math.sqrt(300)
    uplift = campaign_results(hand, now=NOW).uplift

    assert uplift.coupon_cost_per_customer == Decimal("0.75")
    assert uplift.arpu_net.difference == Decimal("19.25")
    assert uplift.arpu_net.low == Decimal(str(round(20 - 0.75 - half, 2)))  # -23.13
    assert uplift.arpu_net.high == Decimal(str(round(20 - 0.75 + half, 2)))  # 61.63


def test_conversions_are_counted_for_holdouts_like_for_the_treated(hand):
    # Goal: a paid order within [entry, entry + 7d], both ends in. Treated: all four (T4's
    # order at the very moment of entry, T3's a microsecond before the end). Holdout: H1 (at
    # T0+7d exactly), H3, H4; H2's only order was refunded in full (not paid).
    results = campaign_results(hand, now=NOW)

    assert (results.treated.conversions, results.treated.conversion_rate) == (4, 1.0)
    assert (results.holdout.conversions, results.holdout.conversion_rate) == (3, 0.75)


def test_conversion_rate_difference_has_a_welch_interval(hand):
    # Treated all 1s (no spread); holdout 0.75 with variance 0.75 x 0.25 x 4/3 = 0.25, so
    # se = sqrt(0.25 / 4) = 0.25 and df = 3.
    rate = campaign_results(hand, now=NOW).uplift.conversion_rate

    assert rate.difference == 0.25
    assert rate.low == pytest.approx(0.25 - T_975_DF3 * 0.25, abs=1e-6)
    assert rate.high == pytest.approx(0.25 + T_975_DF3 * 0.25, abs=1e-6)
    assert rate.df == 3.0


def test_an_event_goal_counts_that_event_only():
    campaign = CampaignFactory(goal={"kind": "event", "name": "signup",
                                     "properties": {"plan": "pro"}}, goal_days=3)
    v1 = b.version(campaign, graph(), at=T0)
    pro, free, late, other = (CustomerFactory() for _ in range(4))
    for customer in (pro, free, late, other):
        b.journey(v1, customer, entered_at=T0)
    EventFactory(customer=pro, name="signup", properties={"plan": "pro"},
                 occurred_at=T0 + 3 * DAY)
    EventFactory(customer=free, name="signup", properties={"plan": "free"},
                 occurred_at=T0 + DAY)
    EventFactory(customer=late, name="signup", properties={"plan": "pro"},
                 occurred_at=T0 + 3 * DAY + US)
    EventFactory(customer=other, name="visit", properties={"plan": "pro"}, occurred_at=T0)

    assert campaign_results(campaign, now=NOW).treated.conversions == 1


@pytest.mark.parametrize("value", [3, True, 2.5, "gold"])
def test_an_event_goal_matches_property_values_of_any_json_type(value):
    campaign = CampaignFactory(goal={"kind": "event", "name": "buy", "properties": {"v": value}})
    v1 = b.version(campaign, graph(), at=T0)
    hit, miss = CustomerFactory(), CustomerFactory()
    for customer in (hit, miss):
        b.journey(v1, customer, entered_at=T0)
    EventFactory(customer=hit, name="buy", properties={"v": value}, occurred_at=T0 + DAY)
    EventFactory(customer=miss, name="buy", properties={"v": "other"}, occurred_at=T0 + DAY)

    assert campaign_results(campaign, now=NOW).treated.conversions == 1


def test_without_a_goal_there_are_no_conversion_figures(hand):
    hand.goal = {}
    hand.save()

    results = campaign_results(hand, now=NOW)

    assert (results.treated.conversions, results.treated.conversion_rate) == (None, None)
    assert results.uplift.conversion_rate is None
    assert results.uplift.arpu.difference == Decimal("20.00")


def test_a_campaign_without_journeys_reports_zeros_and_no_interval():
    results = campaign_results(CampaignFactory(), now=NOW)

    assert (results.journeys.entered, results.treated.customers, results.nodes) == (0, 0, [])
    assert (results.treated.arpu, results.uplift.arpu) == (None, None)


# --- per node -------------------------------------------------------------------------------

def test_each_node_counts_who_reached_it_and_who_stands_there(hand):
    # wait: T1 and T3 took a step there, T2 waits there, T4 was converted standing there.
    results = campaign_results(hand, now=NOW)

    assert {n.id: n.entered for n in results.nodes} == {
        "start": 8, "mail": 4, "gift": 4, "wait": 4, "sms": 2, "end": 2}
    wait = _node(results, "wait")
    assert (wait.at_node, wait.waiting, wait.converted) == (1, 1, 1)
    assert _node(results, "end").completed == 2


def test_a_journey_passing_a_node_twice_through_a_loop_entered_it_once():
    # a: w, if(no), w, if(yes), end. b: w, if(no), and now waits at w again.
    g = {"nodes": [node("start", "scheduled", segment=1, at="2026-03-02T10:00:00+00:00"),
                   node("w", "wait", days=1), node("if", "condition", rule={
                       "==": [{"var": "city"}, "Paris"]}), node("end", "exit")],
         "edges": [edge("start", "w"), edge("w", "if"), edge("if", "end", "yes"),
                   edge("if", "w", "no")]}
    campaign = CampaignFactory()
    v1 = b.version(campaign, g, at=T0)
    b.steps(b.journey(v1, CustomerFactory(), entered_at=T0),
            ("w", "next", T0 + DAY), ("if", "no", T0 + DAY), ("w", "next", T0 + 2 * DAY),
            ("if", "yes", T0 + 2 * DAY), ("end", "", T0 + 2 * DAY))
    b.steps(b.journey(v1, CustomerFactory(), entered_at=T0, status=Journey.Status.ACTIVE,
                      node="w", due_at=NOW + DAY),
            ("w", "next", T0 + DAY), ("if", "no", T0 + DAY))

    results = campaign_results(campaign, now=NOW)

    assert {n.id: n.entered for n in results.nodes} == {"start": 2, "w": 2, "if": 2, "end": 1}
    assert _node(results, "w").ports == {"next": 3}
    assert _node(results, "if").ports == {"yes": 1, "no": 2}


def test_each_node_counts_its_ports_and_why_coupons_were_not_issued(hand):
    results = campaign_results(hand, now=NOW)

    assert {n.id: n.ports for n in results.nodes} == {
        "start": {"next": 4}, "mail": {"next": 4}, "gift": {"issued": 1, "not_issued": 3},
        "wait": {"next": 2}, "sms": {"next": 2}, "end": {}}
    assert _node(results, "gift").coupons.not_issued_by_reason == {"budget": 2, "limit": 1}


def test_each_node_counts_its_messages_skipped_by_reason(hand):
    results = campaign_results(hand, now=NOW)
    mail, sms = _node(results, "mail").messages, _node(results, "sms").messages

    assert (mail.sent, mail.skipped, mail.skipped_by_reason) == (3, 1, {"no_consent": 1})
    assert (sms.sent, sms.failed, sms.skipped_by_reason) == (0, 1, {"frequency_cap": 1})
    assert sms.failed_by_reason == {"provider_error": 1}


def test_each_node_counts_its_coupons(hand):
    gift = _node(campaign_results(hand, now=NOW), "gift").coupons

    assert (gift.issued, gift.redeemed, gift.discount) == (1, 1, Decimal("3.00"))


# --- versions -----------------------------------------------------------------------------

def test_a_version_filter_keeps_that_versions_journeys_only(hand):
    v2 = b.version(hand, graph(), number=2, at=T0 + DAY)
    late = CustomerFactory()
    walk = b.journey(v2, late, entered_at=T0 + DAY)
    b.delivery(walk, "mail", step=1, status=Delivery.Status.SENT, sent_at=T0 + DAY)
    b.order(late, T0 + 2 * DAY, "10.00")

    first, second = (campaign_results(hand, version=n, now=NOW) for n in (1, 2))
    both = campaign_results(hand, now=NOW)

    assert (first.journeys.entered, second.journeys.entered, both.journeys.entered) == (8, 1, 9)
    assert (first.messages.sent, second.messages.sent, both.messages.sent) == (3, 1, 4)
    assert second.attribution.revenue == Decimal("10.00")
    assert both.attribution.revenue == Decimal("80.00")


def test_an_unknown_version_is_refused(hand):
    with pytest.raises(VersionNotFound):
        campaign_results(hand, version=7, now=NOW)


# --- A/B split on a hand fixture -----------------------------------------------------------

def test_split_branches_are_reported_like_groups_from_the_moment_of_the_split():
    # Split at T0+1d. A: a 10 and b 30 (ARPU 20); B: c 0, d 0 and e 60 (ARPU 20). e's 500
    # came before the split: it counts for the treated group, not for branch B.
    campaign = CampaignFactory(goal={"kind": "order"}, goal_days=7, attribution_days=7)
    g = chain(node("start", "scheduled", segment=1, at="2026-03-02T10:00:00+00:00"),
              node("wait", "wait", days=1),
              node("ab", "split", branches=[{"port": "A", "percent": 50},
                                            {"port": "B", "percent": 50}]),
              node("end", "exit"), ports={"ab": "A"})
    g["edges"].append(edge("ab", "end", "B"))
    v1 = b.version(campaign, g, at=T0)
    revenue = {"A": ["10.00", "30.00"], "B": [None, None, "60.00"]}
    for port, amounts in revenue.items():
        for amount in amounts:
            customer = CustomerFactory()
            b.steps(b.journey(v1, customer, entered_at=T0), ("wait", "next", T0 + DAY),
                    ("ab", port, T0 + DAY), ("end", "", T0 + DAY))
            if amount:
                b.order(customer, T0 + 2 * DAY, amount)
    b.order(customer, T0 + DAY - US, "500.00")  # e, before the split

    results = campaign_results(campaign, now=NOW)
    a, b_ = _node(results, "ab").branches

    assert (a.port, a.group.customers, a.group.revenue, a.group.arpu) == (
        "A", 2, Decimal("40.00"), Decimal("20.00"))
    assert (b_.port, b_.group.customers, b_.group.revenue, b_.group.arpu) == (
        "B", 3, Decimal("60.00"), Decimal("20.00"))
    assert (a.group.conversions, b_.group.conversions) == (2, 1)
    assert a.versus_first is None
    assert results.treated.revenue == Decimal("600.00")


def test_a_branch_is_compared_with_the_first_by_welch():
    # A: 10, 30 -> mean 20, variance 200; B: 0, 0, 60 -> mean 20, variance 1200.
    # se^2 = 200/2 + 1200/3 = 500; df = 500^2 / (100^2/1 + 400^2/2) = 250000/90000.
    campaign = CampaignFactory(goal={"kind": "order"}, attribution_days=7)
    g = chain(node("start", "scheduled", segment=1, at="2026-03-02T10:00:00+00:00"),
              node("ab", "split", branches=[{"port": "A", "percent": 40},
                                            {"port": "B", "percent": 60}]),
              node("end", "exit"), ports={"ab": "A"})
    g["edges"].append(edge("ab", "end", "B"))
    v1 = b.version(campaign, g, at=T0)
    for port, amount in [("A", "10.00"), ("A", "30.00"), ("B", None), ("B", None),
                         ("B", "60.00")]:
        customer = CustomerFactory()
        b.steps(b.journey(v1, customer, entered_at=T0), ("ab", port, T0), ("end", "", T0))
        if amount:
            b.order(customer, T0 + DAY, amount)

    second = _node(campaign_results(campaign, now=NOW), "ab").branches[1].versus_first

    from campaigns.services.stats import t_quantile

    df = 250_000 / 90_000
    half = t_quantile(0.975, df) * math.sqrt(500)
    assert second.arpu.difference == Decimal("0.00")
    assert second.arpu.df == round(df, 1)
    assert second.arpu.low == Decimal(str(round(-half, 2)))
    assert second.arpu.high == Decimal(str(round(half, 2)))


# --- with the real runner -----------------------------------------------------------------

@pytest.fixture
def segment_of_twelve():
    segment = Segment.objects.create(name="everyone", rule={"==": [{"var": "city"}, "X"]})
    customers = [CustomerFactory(city="X") for _ in range(12)]
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=c, entered_at=T0) for c in customers)
    return segment, customers


def _runner_campaign(segment, **fields) -> Campaign:
    g = chain(node("start", "scheduled", segment=segment.pk, at=T0.isoformat()),
              node("wait", "wait", days=1),
              node("ab", "split", branches=[{"port": "A", "percent": 50},
                                            {"port": "B", "percent": 50}]),
              node("gift", "issue_coupon", definition=CouponDefinitionFactory().pk),
              node("mail", "send_message", channel="email",
                   template=MessageTemplateFactory().pk),
              node("end", "exit"), ports={"ab": "A", "gift": "issued"})
    g["edges"] += [edge("ab", "end", "B"), edge("gift", "mail", "not_issued")]
    return CampaignFactory(draft_graph=g, **fields)


def test_waiting_journeys_are_counted_at_their_node(segment_of_twelve):
    segment, _customers = segment_of_twelve
    campaign = _runner_campaign(segment, holdout_percent=Decimal("25"))
    b.run(campaign, at=T0)

    results = campaign_results(campaign, now=T0 + HOUR)
    wait = _node(results, "wait")
    held = Journey.objects.filter(campaign=campaign, status=Journey.Status.HOLDOUT).count()

    assert (results.journeys.holdout, results.journeys.treated) == (held, 12 - held)
    assert (wait.entered, wait.at_node, wait.waiting) == (12 - held, 12 - held, 12 - held)
    assert results.journeys.waiting == 12 - held


def test_runner_journeys_report_branches_touches_and_revenue(segment_of_twelve):
    segment, customers = segment_of_twelve
    campaign = _runner_campaign(segment, goal={"kind": "order"}, attribution_days=7)
    b.run(campaign, at=T0, until=T0 + DAY + HOUR)
    port = {walk.customer_id: walk.steps.get(node="ab").port
            for walk in Journey.objects.filter(campaign=campaign).prefetch_related("steps")}
    # The dispatcher (not part of this branch) sends the queued mails an hour later.
    Delivery.objects.filter(campaign=campaign).update(status=Delivery.Status.SENT,
                                                      sent_at=T0 + DAY + 2 * HOUR)
    for customer in customers[:6]:
        b.order(customer, T0 + 2 * DAY, "25.00")

    results = campaign_results(campaign, now=NOW)
    a, b_ = _node(results, "ab").branches
    in_a = [c for c in customers if port[c.pk] == "A"]
    bought_a = sum(1 for c in customers[:6] if port[c.pk] == "A")

    assert (a.group.customers, b_.group.customers) == (len(in_a), 12 - len(in_a))
    assert (a.group.conversions, b_.group.conversions) == (bought_a, 6 - bought_a)
    assert a.group.revenue == Decimal("25.00") * bought_a
    assert _node(results, "gift").coupons.issued == len(in_a)
    assert results.attribution.touched == len(in_a)
    assert results.attribution.revenue == Decimal("25.00") * bought_a
    assert _node(results, "mail").messages.sent == len(in_a)
