"""Outcomes of groups of customers, in one statement: for the treated and the holdout group
of a campaign and for every branch of its A/B splits, how many customers, how many reached
the goal, and their revenue summed and squared (per customer) for Welch's interval.

A group is a set of (customer, start) pairs. A customer's revenue is the paid orders (net of
refunds) placed from a start until attribution_days later (the end excluded), each order once
however many of the customer's windows it falls in; a customer converted when the goal
happened from a start until goal_days later (both ends included, as the runner's check).
Groups start at entry; a branch starts when the journey took it.

Then the groups compared: treated against holdout, each branch against the first, with
Welch's interval (campaigns.services.stats).
"""

import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import F, QuerySet

from campaigns.models import Campaign, CampaignVersion, Journey, JourneyStep
from campaigns.services import reportsql as q
from campaigns.services.stats import Sample, welch
from customers.models import Event, Order, OrderStatus

JOURNEY = Journey._meta.db_table
STEP = JourneyStep._meta.db_table
ORDER = Order._meta.db_table
CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True)
class Scope:
    """Which journeys: the campaign's, or one version's; and as of when."""

    campaign: Campaign
    version: CampaignVersion | None
    now: datetime.datetime

    def where(self, alias: str = "j") -> str:
        version = f" AND {alias}.version_id = %(version)s" if self.version else ""
        return f"{alias}.campaign_id = %(campaign)s{version}"

    def rows_of(self, table: str, alias: str) -> str:
        """FROM ... WHERE for a table of the campaign's journey records (deliveries,
        coupons: they carry campaign_id and customer_id). A version filter needs the
        journey; without one the join is skipped (a million journeys: a second each)."""
        if self.version is None:
            return (f"FROM {table} {alias} WHERE {alias}.campaign_id = %(campaign)s "
                    f"AND {alias}.journey_id IS NOT NULL")
        return (f"FROM {table} {alias} JOIN {JOURNEY} j ON j.id = {alias}.journey_id "
                f"WHERE {self.where()} AND {alias}.campaign_id = %(campaign)s")

    def params(self, **more: Any) -> dict:
        return {"campaign": self.campaign.pk,
                "version": self.version.pk if self.version else None,
                "now": q.time_param(self.now), **more}


@dataclasses.dataclass(frozen=True)
class OutcomeSums:
    customers: int
    conversions: int | None  # None: no goal
    revenue: Sample  # per customer, in cents

    @property
    def converted(self) -> Sample | None:
        """The 0/1 conversion outcome per customer, as a sample."""
        if self.conversions is None:
            return None
        return Sample(self.customers, self.conversions, self.conversions)


def goal_rows(goal: dict) -> QuerySet:
    """(customer_id, at) of every time a customer reached a goal like this one (the runner's
    check: campaigns.flows.lookups.activity_times)."""
    if goal.get("kind", "order") == "order":
        rows = Order.objects.filter(status=OrderStatus.PAID).annotate(at=F("placed_at"))
    else:
        filters = {f"properties__{key}": value
                   for key, value in (goal.get("properties") or {}).items()}
        rows = Event.objects.filter(name=goal.get("name", ""), **filters) \
            .annotate(at=F("occurred_at"))
    return rows.values("customer_id", "at")


def candidate_orders(starts: str, column: str) -> str:
    """SQL for the paid orders (id, customer_id, placed_at, cents) that can fall in a window
    starting at a `column` of `starts`: those placed from the first start until a window
    after the last one, and not after now. The range lets PostgreSQL take them by the
    placed_at index and hash them, instead of probing every customer's orders."""
    placed = q.moment("o.placed_at")
    return f"""
        SELECT o.id, o.customer_id, {placed} AS placed_at,
               {q.cents('o.amount - o.refunded_amount')} AS cents
        FROM {ORDER} o
        WHERE o.status = %(paid)s AND {placed} <= %(now)s
          AND {placed} >= (SELECT MIN({q.moment(column)}) FROM {starts})
          AND {placed} < (SELECT {q.plus(f'MAX({q.moment(column)})', 'window')} FROM {starts})"""


def group_outcomes(scope: Scope, *, split_nodes: list[str]
                   ) -> dict[tuple[str, str], OutcomeSums]:
    """(node, group) -> its sums: ("", "treated"), ("", "holdout"), and (split id, port)."""
    params = scope.params(
        window=q.delta_param(datetime.timedelta(days=scope.campaign.attribution_days)),
        goal_window=q.delta_param(datetime.timedelta(days=scope.campaign.goal_days)),
        paid=OrderStatus.PAID, splits=q.ids_param(split_nodes))
    branches = ""
    if split_nodes:
        branches = f"""
            UNION ALL
            SELECT s.node, s.port, j.customer_id, s.at
            FROM {STEP} s JOIN {JOURNEY} j ON j.id = s.journey_id
            WHERE {scope.where()} AND {q.in_ids('s.node', 'splits')} AND s.port <> ''"""
    converted = "SELECT node, grp, customer_id FROM starts WHERE 1 = 0"
    if scope.campaign.goal:
        goal_sql, goal_params = q.named(*goal_rows(scope.campaign.goal).query.sql_with_params(),
                                        prefix="goal")
        params.update(goal_params)
        at = q.moment("g.at")
        converted = f"""
            SELECT s.node, s.grp, s.customer_id
            FROM starts s JOIN ({goal_sql}) g ON g.customer_id = s.customer_id
            WHERE {at} >= {q.moment('s.start_at')}
              AND {at} <= {q.plus('s.start_at', 'goal_window')} AND {at} <= %(now)s
              AND {at} >= (SELECT MIN({q.moment('start_at')}) FROM starts)"""
    sql = f"""
        WITH starts AS (
            SELECT '' AS node,
                   CASE WHEN j.status = 'holdout' THEN 'holdout' ELSE 'treated' END AS grp,
                   j.customer_id, j.entered_at AS start_at
            FROM {JOURNEY} j WHERE {scope.where()}
            {branches}
        ),
        orders AS ({candidate_orders('starts', 'start_at')}),
        hits AS (
            SELECT DISTINCT s.node, s.grp, s.customer_id, o.id, o.cents
            FROM starts s JOIN orders o ON o.customer_id = s.customer_id
            WHERE o.placed_at >= {q.moment('s.start_at')}
              AND o.placed_at < {q.plus('s.start_at', 'window')}
        ),
        converted AS ({converted}),
        -- Per customer only where something happened (an order, the goal): stacked and
        -- summed, not joined. Everyone else adds a customer and zeros.
        facts AS (
            SELECT node, grp, customer_id, SUM(cents) AS cents, MAX(reached) AS reached
            FROM (SELECT node, grp, customer_id, cents, 0 AS reached FROM hits
                  UNION ALL SELECT node, grp, customer_id, 0, 1 FROM converted) stacked
            GROUP BY node, grp, customer_id
        )
        SELECT g.node, g.grp, g.customers, COALESCE(f.cents, 0), COALESCE(f.squares, 0),
               COALESCE(f.reached, 0)
        FROM (SELECT node, grp, COUNT(DISTINCT customer_id) AS customers FROM starts
              GROUP BY node, grp) g
        LEFT JOIN (SELECT node, grp, SUM(cents) AS cents, {q.square_sum('cents')} AS squares,
                          SUM(reached) AS reached
                   FROM facts GROUP BY node, grp) f ON f.node = g.node AND f.grp = g.grp"""
    has_goal = bool(scope.campaign.goal)
    return {(node, group): OutcomeSums(
                customers=customers, conversions=conversions if has_goal else None,
                revenue=Sample(customers, _exact(total), _exact(squares)))
            for node, group, customers, total, squares, conversions in q.rows(sql, params)}


# --- groups compared -------------------------------------------------------------------------

@dataclasses.dataclass
class Group:
    customers: int
    conversions: int | None  # None: the campaign has no goal
    conversion_rate: float | None
    revenue: Decimal
    arpu: Decimal | None


@dataclasses.dataclass
class Interval:
    difference: Decimal | float
    low: Decimal | float | None
    high: Decimal | float | None
    df: float | None


@dataclasses.dataclass
class Comparison:
    arpu: Interval | None
    conversion_rate: Interval | None


@dataclasses.dataclass
class Uplift(Comparison):
    coupon_cost_per_customer: Decimal
    arpu_net: Interval | None  # ARPU uplift less the coupon cost per treated customer


@dataclasses.dataclass
class Branch:
    port: str
    group: Group
    versus_first: Comparison | None  # None for the first branch


def group_of(sums: OutcomeSums | None) -> Group:
    """A group's figures from its sums (money to the cent, rates to six places)."""
    if sums is None or not sums.customers:
        return Group(customers=0, conversions=sums.conversions if sums else None,
                     conversion_rate=None, revenue=Decimal("0.00"), arpu=None)
    rate = None if sums.conversions is None else round(sums.conversions / sums.customers, 6)
    return Group(customers=sums.customers, conversions=sums.conversions, conversion_rate=rate,
                 revenue=money(sums.revenue.total), arpu=money_mean(sums.revenue.mean))


def compare(a: OutcomeSums | None, b: OutcomeSums | None) -> Comparison:
    """a minus b: ARPU and conversion rate, each with its Welch interval."""
    if a is None or b is None:
        return Comparison(arpu=None, conversion_rate=None)
    arpu = welch(a.revenue, b.revenue)
    rate = welch(a.converted, b.converted) if a.converted and b.converted else None
    return Comparison(arpu=_money_interval(arpu), conversion_rate=_rate_interval(rate))


def uplift_of(treated: OutcomeSums | None, holdout: OutcomeSums | None,
              discount: Decimal) -> Uplift:
    """Treated minus holdout, and the ARPU uplift less the discount redeemed per treated
    customer (a known cost: the interval moves, it does not widen)."""
    comparison = compare(treated, holdout)
    customers = treated.customers if treated else 0
    cost_cents = Decimal(discount) * 100 / customers if customers else Decimal(0)
    net = None
    if treated and holdout:
        arpu = welch(treated.revenue, holdout.revenue)
        net = _money_interval(arpu.shifted(-float(cost_cents)) if arpu else None)
    return Uplift(arpu=comparison.arpu, conversion_rate=comparison.conversion_rate,
                  coupon_cost_per_customer=money_mean(float(cost_cents)), arpu_net=net)


def money(cents: Any) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(CENT)


def money_mean(cents: float | None) -> Decimal | None:
    if cents is None:
        return None
    return (Decimal(repr(cents)) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _money_interval(difference) -> Interval | None:
    if difference is None:
        return None
    return Interval(money_mean(difference.estimate), money_mean(difference.low),
                    money_mean(difference.high),
                    None if difference.df is None else round(difference.df, 1))


def _rate_interval(difference) -> Interval | None:
    if difference is None:
        return None
    rounded = [None if value is None else round(value, 6)
               for value in (difference.estimate, difference.low, difference.high)]
    return Interval(*rounded, None if difference.df is None else round(difference.df, 1))


def _exact(value) -> int | float:
    """PostgreSQL's numeric sums of whole cents as ints; SQLite's float squares as they are."""
    if isinstance(value, float):
        return value
    return int(value)
