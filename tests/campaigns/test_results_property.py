"""Property test: on random journeys, touches, orders and goal events, the SQL results agree
with a plain-Python reference written from the definitions in docs/results.md.

Times sit on window boundaries to the microsecond: orders and events are drawn relative to
the starts and touches they will be compared with.
"""

import dataclasses
import datetime as dt
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Delivery, Journey
from campaigns.services.outcomes import Scope, group_outcomes
from campaigns.services.results import campaign_results
from customers.models import OrderStatus
from tests.campaigns import builders as b
from tests.campaigns.factories import CampaignFactory, chain, edge, node
from tests.customers.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
DAY, HOUR, US = dt.timedelta(days=1), dt.timedelta(hours=1), dt.timedelta(microseconds=1)
GRAPH = chain(node("start", "scheduled", segment=1, at="2026-03-02T10:00:00+00:00"),
              node("n1", "send_message", channel="email", template=1),
              node("ab", "split", branches=[{"port": "A", "percent": 50},
                                            {"port": "B", "percent": 50}]),
              node("n2", "issue_coupon", definition=1),
              node("end", "exit"), ports={"ab": "A", "n2": "issued"})
GRAPH["edges"] += [edge("ab", "end", "B"), edge("n2", "end", "not_issued")]


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


# --- the reference ----------------------------------------------------------------------------

@dataclasses.dataclass
class J:
    customer: int
    holdout: bool
    entered_at: dt.datetime
    touches: list[tuple[str, dt.datetime]]  # (node, at) of sent deliveries and coupons
    branch: tuple[str, dt.datetime] | None  # (port, at)


@dataclasses.dataclass
class O:  # noqa: E742
    id: int
    customer: int
    placed_at: dt.datetime
    cents: int
    paid: bool


def reference_groups(journeys, orders, goals, *, days, goal_days, now):
    """(node, group) -> (customers, cents, squares, conversions)."""
    starts: dict[tuple[str, str], dict[int, list[dt.datetime]]] = {}
    for j in journeys:
        group = ("", "holdout" if j.holdout else "treated")
        starts.setdefault(group, {}).setdefault(j.customer, []).append(j.entered_at)
        if j.branch:
            starts.setdefault(("ab", j.branch[0]), {}).setdefault(j.customer, []).append(
                j.branch[1])
    out = {}
    for key, units in starts.items():
        revenues, conversions = [], 0
        for customer, moments in units.items():
            revenues.append(sum(o.cents for o in orders if o.customer == customer and o.paid
                                and o.placed_at <= now and any(
                                    m <= o.placed_at < m + days * DAY for m in moments)))
            conversions += any(m <= t <= m + goal_days * DAY and t <= now
                               for c, t in goals if c == customer for m in moments)
        out[key] = (len(units), sum(revenues), sum(r * r for r in revenues), conversions)
    return out


def reference_attribution(journeys, orders, *, days, now):
    """node ("*" for the campaign) -> (touched journeys, orders, cents)."""
    firsts: dict[str, list[tuple[int, dt.datetime]]] = {}
    for j in journeys:
        if not j.touches:
            continue
        firsts.setdefault("*", []).append((j.customer, min(at for _n, at in j.touches)))
        for name in {n for n, _at in j.touches}:
            firsts.setdefault(name, []).append(
                (j.customer, min(at for n, at in j.touches if n == name)))
    out = {}
    for name, touched in firsts.items():
        hit = {o.id: o.cents for o in orders for customer, first in touched
               if o.customer == customer and o.paid and first <= o.placed_at < first + days * DAY
               and o.placed_at <= now}
        out[name] = (len(touched), len(hit), sum(hit.values()))
    return out


# --- random histories -----------------------------------------------------------------------

ENTRY_HOURS = [0, 1, 24, 36, 72]
NEAR = [-US, dt.timedelta(0), US, HOUR]


@st.composite
def histories(draw):
    days, goal_days = draw(st.sampled_from([1, 3, 7])), draw(st.sampled_from([1, 2, 7]))
    customers = []
    for index in range(draw(st.integers(1, 5))):
        holdout = draw(st.booleans())
        walks = []
        for _walk in range(draw(st.integers(1, 2))):
            entered = T0 + draw(st.sampled_from(ENTRY_HOURS)) * HOUR
            touches = [] if holdout else [
                (draw(st.sampled_from(["n1", "n2"])), entered + draw(st.sampled_from(NEAR[1:])))
                for _touch in range(draw(st.sampled_from([0, 1, 1, 2])))]
            branch = None if holdout or not draw(st.booleans()) else (
                draw(st.sampled_from(["A", "B"])),
                entered + draw(st.sampled_from([0, 1, 24])) * HOUR)
            walks.append(J(index, holdout, entered, touches, branch))
        customers.append(walks)
    moments = [m for walks in customers for j in walks
               for m in [j.entered_at, *(at for _n, at in j.touches),
                         *([j.branch[1]] if j.branch else [])]]
    # Mostly the edges of the windows the time will be compared with.
    offsets = st.sampled_from([dt.timedelta(0), -US, HOUR, days * DAY - US, days * DAY,
                               days * DAY, goal_days * DAY, goal_days * DAY + US, -DAY])
    orders, goals = [], []
    for index in range(len(customers)):
        for _order in range(draw(st.integers(1, 3))):
            at = draw(st.sampled_from(moments)) + draw(offsets)
            amount = draw(st.integers(1, 20_000))
            orders.append((index, at, amount, draw(st.integers(0, amount)),
                           draw(st.sampled_from([OrderStatus.PAID] * 4
                                                + [OrderStatus.REFUNDED, OrderStatus.PENDING]))))
        goals += [(index, draw(st.sampled_from(moments)) + draw(offsets))
                  for _event in range(draw(st.integers(0, 1)))]
    now = T0 + draw(st.sampled_from([3, 10])) * DAY
    kind = draw(st.sampled_from(["order", "event"]))
    return days, goal_days, customers, orders, goals, now, kind


def _store(campaign, customers, orders, goals):
    """Write the history; returns the reference's journeys and orders."""
    v1 = b.version(campaign, GRAPH, at=T0)
    people = [CustomerFactory() for _ in customers]
    journeys = []
    for person, walks in zip(people, customers, strict=True):
        for walk in walks:
            stored = b.journey(v1, person, entered_at=walk.entered_at,
                               status=Journey.Status.HOLDOUT if walk.holdout else "completed")
            for number, (name, at) in enumerate(walk.touches, start=1):
                if name == "n1":
                    b.delivery(stored, name, step=number, status=Delivery.Status.SENT,
                               sent_at=at)
                else:
                    b.coupon(stored, name, step=number, issued_at=at)
            b.delivery(stored, "n1", step=50, status=Delivery.Status.SKIPPED, reason="x")
            if walk.branch:
                b.steps(stored, *[("n1", "next", at) for _n, at in walk.touches],
                        ("ab", walk.branch[0], walk.branch[1]))
            journeys.append(dataclasses.replace(walk, customer=person.pk))
    stored_orders = []
    for index, at, amount, refunded, status in orders:
        made = b.order(people[index], at, str(Decimal(amount) / 100),
                       refunded=str(Decimal(refunded) / 100), status=status)
        stored_orders.append(O(made.pk, people[index].pk, at, amount - refunded,
                               status == OrderStatus.PAID))
    return people, journeys, stored_orders


@SETTINGS
@given(history=histories())
def test_sql_results_agree_with_the_reference(history):
    days, goal_days, customers, orders, goals, now, kind = history
    with rolled_back():
        goal = {"kind": "order"} if kind == "order" else {"kind": "event", "name": "signup"}
        campaign = CampaignFactory(attribution_days=days, goal_days=goal_days, goal=goal)
        people, journeys, stored = _store(campaign, customers, orders, goals)
        for index, at in goals:
            EventFactory(customer=people[index], name="signup", occurred_at=at)
            EventFactory(customer=people[index], name="visit", occurred_at=at)
        goal_times = [(o.customer, o.placed_at) for o in stored if o.paid] if kind == "order" \
            else [(people[index].pk, at) for index, at in goals]

        sums = group_outcomes(Scope(campaign, None, now), split_nodes=["ab"])
        results = campaign_results(campaign, now=now)

        expected = reference_groups(journeys, stored, goal_times, days=days,
                                    goal_days=goal_days, now=now)
        assert {key: (s.customers, s.revenue.total, round(float(s.revenue.squares)),
                      s.conversions) for key, s in sums.items()} == expected
        attribution = reference_attribution(journeys, stored, days=days, now=now)
        actual = {n.id: (n.attribution.touched, n.attribution.orders,
                         int(n.attribution.revenue * 100))
                  for n in results.nodes if n.attribution.touched}
        total = results.attribution
        if total.touched:
            actual["*"] = (total.touched, total.orders, int(total.revenue * 100))
        assert actual == attribution
