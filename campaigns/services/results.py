"""A campaign's results: what its journeys did, what they sent and issued, who converted, the
revenue that followed its touches, and the ARPU of its treated customers against the holdout
(docs/results.md defines every figure).

One set-based query per family of figures, whatever the number of journeys: journeys by node
and status, nodes reached, steps by port, deliveries, coupons, attribution, and the group
outcomes (treated, holdout and every A/B branch in one statement). Money is summed in integer
cents; confidence intervals come from Welch's t on per-customer sums (campaigns.services.stats).
"""

import dataclasses
import datetime
from decimal import Decimal

from django.core.cache import cache
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignVersion,
    Coupon,
    CouponRedemption,
    Delivery,
    Journey,
    JourneyStep,
)
from campaigns.services import reportsql as q
from campaigns.services.outcomes import (
    Branch,
    Group,
    OutcomeSums,
    Scope,
    Uplift,
    candidate_orders,
    compare,
    group_of,
    group_outcomes,
    money,
    uplift_of,
)
from segments.services.sql import rule_queries

JOURNEY = Journey._meta.db_table
STEP = JourneyStep._meta.db_table
DELIVERY = Delivery._meta.db_table
COUPON = Coupon._meta.db_table
REDEMPTION = CouponRedemption._meta.db_table
HOLDOUT = Journey.Status.HOLDOUT.value
TREATED = "treated"
CAMPAIGN_WIDE = "*"  # not a valid node id (campaigns.flows.graph.NODE_ID)
CENT = Decimal("0.01")


class VersionNotFound(LookupError):
    """The campaign has no version with this number."""


# --- what the results are ---------------------------------------------------------------------

@dataclasses.dataclass
class JourneyCounts:
    entered: int = 0  # journeys, holdouts included
    treated: int = 0
    holdout: int = 0
    active: int = 0  # on their way (waiting ones included)
    waiting: int = 0  # active with their next look in the future
    completed: int = 0
    converted: int = 0  # ended early by the runner on reaching the goal
    exited: int = 0
    failed: int = 0


@dataclasses.dataclass
class Messages:
    queued: int = 0  # queued or being sent
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    skipped_by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    failed_by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    sent_by_channel: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Coupons:
    issued: int = 0
    redeemed: int = 0  # codes used at least once
    redemptions: int = 0
    discount: Decimal = Decimal("0.00")  # given on the redemptions
    not_issued_by_reason: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Attribution:
    touched: int = 0  # journeys with a touch (a message sent or a coupon issued)
    orders: int = 0
    revenue: Decimal = Decimal("0.00")


@dataclasses.dataclass
class NodeResult:
    id: str
    type: str
    label: str
    entered: int = 0
    at_node: int = 0  # active journeys standing here
    waiting: int = 0
    completed: int = 0
    converted: int = 0
    exited: int = 0
    failed: int = 0
    ports: dict[str, int] = dataclasses.field(default_factory=dict)
    messages: Messages = dataclasses.field(default_factory=Messages)
    coupons: Coupons = dataclasses.field(default_factory=Coupons)
    attribution: Attribution = dataclasses.field(default_factory=Attribution)
    branches: list[Branch] | None = None


@dataclasses.dataclass
class Results:
    campaign_id: int
    version: int | None
    as_of: datetime.datetime
    goal: dict
    goal_days: int
    attribution_days: int
    holdout_percent: Decimal
    journeys: JourneyCounts
    messages: Messages
    coupons: Coupons
    attribution: Attribution
    treated: Group
    holdout: Group
    uplift: Uplift
    nodes: list[NodeResult]


# --- the service ------------------------------------------------------------------------------

def campaign_results(campaign: Campaign, *, version: int | None = None,
                     now: datetime.datetime | None = None) -> Results:
    """Every figure of the campaign (or of one version's journeys) as of `now`. Raises
    VersionNotFound for a version number the campaign does not have."""
    scope = Scope(campaign, _version(campaign, version), now or timezone.now())
    with rule_queries():  # PostgreSQL: memory for the big aggregates, no JIT
        return _results(scope)


# Results are read, not acted upon within seconds, and a million journeys take 7-15 s to
# aggregate (bench/simulate.py): pages read them from the cache, which the
# campaigns.refresh_results beat task keeps warm for every running campaign.
RESULTS_CACHE_SECONDS = 600


def _results_key(campaign_id: int, version: int | None) -> str:
    return f"campaign-results:{campaign_id}:{version or 'all'}"


def campaign_results_cached(campaign: Campaign, *, version: int | None = None) -> Results:
    """campaign_results as of the last refresh (at most RESULTS_CACHE_SECONDS old); computed
    now on a miss, e.g. for one version's journeys or a campaign just published."""
    key = _results_key(campaign.pk, version)
    results = cache.get(key)
    if results is None:
        results = campaign_results(campaign, version=version)
        cache.set(key, results, RESULTS_CACHE_SECONDS)
    return results


def campaign_results_refresh() -> int:
    """Recompute and cache the results of every active or paused campaign (all versions
    together, as the results page opens); returns how many."""
    campaigns = Campaign.objects.filter(status__in=[Campaign.Status.ACTIVE,
                                                    Campaign.Status.PAUSED])
    for campaign in campaigns:
        cache.set(_results_key(campaign.pk, None), campaign_results(campaign),
                  RESULTS_CACHE_SECONDS)
    return len(campaigns)


def campaign_attribution(campaign: Campaign, *, now: datetime.datetime) -> Attribution:
    """Only the campaign-wide attribution of campaign_results (the same statement): for the
    dashboard's ranking of campaigns by attributed revenue."""
    with rule_queries():
        return _attribution(Scope(campaign, None, now), {})


def _results(scope: Scope) -> Results:
    campaign = scope.campaign
    nodes, cyclic = _nodes(scope)
    journeys = _journey_counts(scope, nodes)
    _entered(scope, nodes, _ports(scope, nodes), cyclic)
    messages = _messages(scope, nodes)
    coupons = _coupons(scope, nodes)
    attribution = _attribution(scope, nodes)
    sums = group_outcomes(scope, split_nodes=[n.id for n in nodes.values()
                                              if n.branches is not None])
    treated, holdout = (group_of(sums.get(("", name))) for name in (TREATED, HOLDOUT))
    uplift = uplift_of(sums.get(("", TREATED)), sums.get(("", HOLDOUT)), coupons.discount)
    _branches(scope, nodes, sums)
    _trigger(nodes, journeys)
    return Results(
        campaign_id=campaign.pk, version=scope.version.number if scope.version else None,
        as_of=scope.now, goal=campaign.goal,
        goal_days=campaign.goal_days, attribution_days=campaign.attribution_days,
        holdout_percent=campaign.holdout_percent, journeys=journeys, messages=messages,
        coupons=coupons, attribution=attribution, treated=treated, holdout=holdout,
        uplift=uplift, nodes=list(nodes.values()))


def _version(campaign: Campaign, number: int | None) -> CampaignVersion | None:
    if number is None:
        return None
    version = campaign.versions.filter(number=number).first()
    if version is None:
        raise VersionNotFound(number)
    return version


# --- the nodes, from the graphs the journeys ran on -------------------------------------------

def _nodes(scope: Scope) -> tuple[dict[str, NodeResult], bool]:
    """Every node of the version (or of every version, newest first: a node keeps its id
    across versions, so its figures add up), in canvas order, every port at zero; and
    whether any of the graphs has a loop."""
    from campaigns.flows import parse_graph

    versions = [scope.version] if scope.version else list(
        scope.campaign.versions.order_by("-number"))
    nodes: dict[str, NodeResult] = {}
    cyclic = False
    for version in versions:
        graph = parse_graph(version.graph)  # validated when it was published
        cyclic = cyclic or _has_loop(graph)
        for raw in version.graph.get("nodes", []):
            node = graph.nodes[raw["id"]]
            if node.id in nodes:
                continue
            nodes[node.id] = NodeResult(id=node.id, type=node.type.key,
                                        label=raw.get("label") or "",
                                        ports=dict.fromkeys(node.type.ports(node.config), 0))
            if node.type.key == "split":
                nodes[node.id].branches = [
                    Branch(port=port, group=group_of(None), versus_first=None)
                    for port in node.type.ports(node.config)]
    return nodes, cyclic


def _has_loop(graph) -> bool:
    successors: dict[str, set[str]] = {}
    for (source, _port), target in graph.edges.items():
        successors.setdefault(source, set()).add(target)
    state: dict[str, int] = {}  # 1: on the path being followed, 2: done

    def loops_from(node_id: str) -> bool:
        state[node_id] = 1
        for following in successors.get(node_id, ()):
            if state.get(following) == 1 or (following not in state and loops_from(following)):
                return True
        state[node_id] = 2
        return False

    return any(node_id not in state and loops_from(node_id) for node_id in graph.nodes)


def _node(nodes: dict[str, NodeResult], node_id: str) -> NodeResult:
    """The node by id; one that no graph in scope has (a deleted node of a version that is
    not the filter) still gets its figures."""
    if node_id not in nodes:
        nodes[node_id] = NodeResult(id=node_id, type="", label="")
    return nodes[node_id]


# --- journeys -----------------------------------------------------------------------------

def _journey_counts(scope: Scope, nodes: dict[str, NodeResult]) -> JourneyCounts:
    sql = f"""
        SELECT j.node, j.status,
               CASE WHEN j.due_at IS NOT NULL AND {q.moment('j.due_at')} > %(now)s
                    THEN 1 ELSE 0 END,
               COUNT(*)
        FROM {JOURNEY} j WHERE {scope.where()}
        GROUP BY j.node, j.status, 3"""
    counts = JourneyCounts()
    for node_id, status, waiting, number in q.rows(sql, scope.params()):
        counts.entered += number
        if status == HOLDOUT:
            counts.holdout += number
            continue
        counts.treated += number
        node = _node(nodes, node_id)
        if status == Journey.Status.ACTIVE:
            counts.active += number
            node.at_node += number
            if waiting:
                counts.waiting += number
                node.waiting += number
        else:
            setattr(counts, status, getattr(counts, status) + number)
            setattr(node, status, getattr(node, status) + number)
    return counts


def _entered(scope: Scope, nodes: dict[str, NodeResult], steps: dict[str, int],
             cyclic: bool) -> None:
    """Journeys that reached each node: a step was recorded there, or the journey stands
    there now (waiting, or ended there by the goal or by archiving). Holdouts never run.

    Without a loop a journey passes a node once, and one standing at a node has run it only
    if it ended there (completed, failed: the runner records that step), so the counts
    already read add up to it. With a loop, distinct journeys are counted in SQL."""
    if not cyclic:
        for node_id, node in nodes.items():
            node.entered = (steps.get(node_id, 0) + node.at_node + node.converted
                            + node.exited)
        return
    sql = f"""
        SELECT node, COUNT(*) FROM (
            SELECT s.node, s.journey_id FROM {STEP} s JOIN {JOURNEY} j ON j.id = s.journey_id
            WHERE {scope.where()}
            UNION
            SELECT j.node, j.id FROM {JOURNEY} j
            WHERE {scope.where()} AND j.status <> %(holdout)s
        ) reached GROUP BY node"""
    for node_id, number in q.rows(sql, scope.params(holdout=HOLDOUT)):
        _node(nodes, node_id).entered = number


def _ports(scope: Scope, nodes: dict[str, NodeResult]) -> dict[str, int]:
    """Steps taken through each port; a coupon not issued also says why (the step's note).
    Returns the steps taken at each node, ports or not (an exit takes none)."""
    sql = f"""
        SELECT s.node, s.port, CASE WHEN s.port = 'not_issued' THEN s.note ELSE '' END,
               COUNT(*)
        FROM {STEP} s JOIN {JOURNEY} j ON j.id = s.journey_id
        WHERE {scope.where()}
        GROUP BY s.node, s.port, 3"""
    steps: dict[str, int] = {}
    for node_id, port, reason, number in q.rows(sql, scope.params()):
        node = _node(nodes, node_id)
        _add(steps, node_id, number)
        if port:
            _add(node.ports, port, number)
        if port == "not_issued":
            _add(node.coupons.not_issued_by_reason, reason or "unknown", number)
    return steps


def _trigger(nodes: dict[str, NodeResult], journeys: JourneyCounts) -> None:
    """The trigger records no step: every entry passed it, the treated ones went on."""
    from campaigns.flows import NODE_TYPES, Category

    for node in nodes.values():
        node_type = NODE_TYPES.get(node.type)
        if node_type is not None and node_type.category == Category.TRIGGER:
            node.entered, node.ports = journeys.entered, {"next": journeys.treated}


# --- messages and coupons -------------------------------------------------------------------

def _messages(scope: Scope, nodes: dict[str, NodeResult]) -> Messages:
    sql = f"""
        SELECT d.node, d.channel, d.status, d.reason, COUNT(*)
        {scope.rows_of(DELIVERY, 'd')} AND d.test = %(test)s
        GROUP BY d.node, d.channel, d.status, d.reason"""
    total = Messages()
    for node_id, channel, status, reason, number in q.rows(sql, scope.params(test=False)):
        for messages in (total, _node(nodes, node_id).messages):
            _count_message(messages, channel, status, reason, number)
    return total


def _count_message(messages: Messages, channel: str, status: str, reason: str,
                   number: int) -> None:
    if status == Delivery.Status.SENT:
        messages.sent += number
        _add(messages.sent_by_channel, channel, number)
    elif status == Delivery.Status.SKIPPED:
        messages.skipped += number
        _add(messages.skipped_by_reason, reason or "unknown", number)
    elif status == Delivery.Status.FAILED:
        messages.failed += number
        _add(messages.failed_by_reason, reason or "unknown", number)
    else:
        messages.queued += number


def _coupons(scope: Scope, nodes: dict[str, NodeResult]) -> Coupons:
    sql = f"""
        SELECT c.node, COUNT(*), COUNT(r.coupon_id), COALESCE(SUM(r.uses), 0),
               COALESCE(SUM(r.cents), 0)
        FROM (SELECT c.id, c.node {scope.rows_of(COUPON, 'c')}) c
        LEFT JOIN (SELECT coupon_id, COUNT(*) AS uses, SUM({q.cents('discount')}) AS cents
                   FROM {REDEMPTION} GROUP BY coupon_id) r ON r.coupon_id = c.id
        GROUP BY c.node"""
    total = Coupons()
    for node_id, issued, redeemed, uses, cents in q.rows(sql, scope.params()):
        for coupons in (total, _node(nodes, node_id).coupons):
            coupons.issued += issued
            coupons.redeemed += redeemed
            coupons.redemptions += int(uses)
            coupons.discount += money(cents)
    for node in nodes.values():
        for reason, number in node.coupons.not_issued_by_reason.items():
            _add(total.not_issued_by_reason, reason, number)
    return total


# --- attribution ------------------------------------------------------------------------------

def _attribution(scope: Scope, nodes: dict[str, NodeResult]) -> Attribution:
    """Paid orders (net of refunds) placed from a journey's first touch until
    attribution_days later (the end excluded), each counted once: for the campaign from the
    journey's first touch anywhere, for a node from its first touch at that node."""
    from customers.models import OrderStatus

    sql = f"""
        WITH raw AS (
            SELECT d.node, d.journey_id, d.customer_id, d.sent_at AS at
            {scope.rows_of(DELIVERY, 'd')} AND d.test = %(test)s
              AND d.status = %(sent)s AND d.sent_at IS NOT NULL
            UNION ALL
            SELECT c.node, c.journey_id, c.customer_id, c.issued_at
            {scope.rows_of(COUPON, 'c')}
        ),
        firsts AS (
            SELECT node, journey_id, customer_id, MIN(at) AS at FROM raw
            GROUP BY node, journey_id, customer_id
            UNION ALL
            SELECT '{CAMPAIGN_WIDE}', journey_id, customer_id, MIN(at) FROM raw
            GROUP BY journey_id, customer_id
        ),
        orders AS ({candidate_orders('firsts', 'at')}),
        hits AS (
            SELECT DISTINCT f.node, o.id, o.cents
            FROM firsts f JOIN orders o ON o.customer_id = f.customer_id
            WHERE o.placed_at >= {q.moment('f.at')} AND o.placed_at < {q.plus('f.at', 'window')}
        )
        SELECT t.node, t.touched, COALESCE(h.orders, 0), COALESCE(h.cents, 0)
        FROM (SELECT node, COUNT(*) AS touched FROM firsts GROUP BY node) t
        LEFT JOIN (SELECT node, COUNT(*) AS orders, SUM(cents) AS cents FROM hits
                   GROUP BY node) h ON h.node = t.node"""
    params = scope.params(test=False, sent=Delivery.Status.SENT, paid=OrderStatus.PAID,
                          window=q.delta_param(datetime.timedelta(
                              days=scope.campaign.attribution_days)))
    total = Attribution()
    for node_id, touched, orders, cents in q.rows(sql, params):
        target = total if node_id == CAMPAIGN_WIDE else _node(nodes, node_id).attribution
        target.touched, target.orders, target.revenue = touched, orders, money(cents)
    return total


# --- treated against holdout, and A/B branches --------------------------------------------

def _branches(scope: Scope, nodes: dict[str, NodeResult],
              sums: dict[tuple[str, str], OutcomeSums]) -> None:
    for node in nodes.values():
        if node.branches is None:
            continue
        first = sums.get((node.id, node.branches[0].port)) if node.branches else None
        for index, branch in enumerate(node.branches):
            own = sums.get((node.id, branch.port))
            branch.group = group_of(own)
            branch.versus_first = None if index == 0 else compare(own, first)


# --- small helpers ------------------------------------------------------------------------

def _add(counts: dict[str, int], key: str, number: int) -> None:
    counts[key] = counts.get(key, 0) + number
