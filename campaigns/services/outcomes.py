"""Outcomes of groups of customers, in one statement: for the treated and the holdout group
of a campaign and for every branch of its A/B splits, how many customers, how many reached
the goal, and their revenue summed and squared (per customer) for Welch's interval.

A group is a set of (customer, start) pairs. A customer's revenue is the paid orders (net of
refunds) placed from a start until attribution_days later (the end excluded), each order once
however many of the customer's windows it falls in; a customer converted when the goal
happened from a start until goal_days later (both ends included, as the runner's check).
Groups start at entry; a branch starts when the journey took it.
"""

import dataclasses
import datetime
from typing import Any

from django.db.models import F, QuerySet

from campaigns.models import Campaign, CampaignVersion, Journey, JourneyStep
from campaigns.services import reportsql as q
from campaigns.services.stats import Sample
from customers.models import Event, Order, OrderStatus

JOURNEY = Journey._meta.db_table
STEP = JourneyStep._meta.db_table
ORDER = Order._meta.db_table


@dataclasses.dataclass(frozen=True)
class Scope:
    """Which journeys: the campaign's, or one version's; and as of when."""

    campaign: Campaign
    version: CampaignVersion | None
    now: datetime.datetime

    def where(self, alias: str = "j") -> str:
        version = f" AND {alias}.version_id = %(version)s" if self.version else ""
        return f"{alias}.campaign_id = %(campaign)s{version}"

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
            SELECT DISTINCT s.node, s.grp, s.customer_id
            FROM starts s JOIN ({goal_sql}) g ON g.customer_id = s.customer_id
            WHERE {at} >= {q.moment('s.start_at')} AND {at} <= {q.plus('s.start_at', 'goal_window')}
              AND {at} <= %(now)s"""
    placed = q.moment("o.placed_at")
    sql = f"""
        WITH starts AS (
            SELECT '' AS node,
                   CASE WHEN j.status = 'holdout' THEN 'holdout' ELSE 'treated' END AS grp,
                   j.customer_id, j.entered_at AS start_at
            FROM {JOURNEY} j WHERE {scope.where()}
            {branches}
        ),
        units AS (SELECT DISTINCT node, grp, customer_id FROM starts),
        hits AS (
            SELECT DISTINCT s.node, s.grp, o.customer_id, o.id,
                   {q.cents('o.amount - o.refunded_amount')} AS cents
            FROM starts s JOIN {ORDER} o ON o.customer_id = s.customer_id
            WHERE o.status = %(paid)s AND {placed} >= {q.moment('s.start_at')}
              AND {placed} < {q.plus('s.start_at', 'window')} AND {placed} <= %(now)s
        ),
        revenue AS (SELECT node, grp, customer_id, SUM(cents) AS cents FROM hits
                    GROUP BY node, grp, customer_id),
        converted AS ({converted})
        SELECT u.node, u.grp, COUNT(*), COALESCE(SUM(r.cents), 0),
               COALESCE({q.square_sum('r.cents')}, 0), COUNT(c.customer_id)
        FROM units u
        LEFT JOIN revenue r ON r.node = u.node AND r.grp = u.grp AND r.customer_id = u.customer_id
        LEFT JOIN converted c ON c.node = u.node AND c.grp = u.grp
                             AND c.customer_id = u.customer_id
        GROUP BY u.node, u.grp"""
    has_goal = bool(scope.campaign.goal)
    return {(node, group): OutcomeSums(
                customers=customers, conversions=conversions if has_goal else None,
                revenue=Sample(customers, _exact(total), _exact(squares)))
            for node, group, customers, total, squares, conversions in q.rows(sql, params)}


def _exact(value) -> int | float:
    """PostgreSQL's numeric sums of whole cents as ints; SQLite's float squares as they are."""
    if isinstance(value, float):
        return value
    return int(value)
