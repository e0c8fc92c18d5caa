"""The journey runner: claim a batch of due journeys, take each as far as it can go now, and
write where every one stands, all in one transaction.

Claiming uses SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so any number of workers take
disjoint batches; on SQLite the write transaction itself serialises them. Nodes run for the
whole batch at once (one executor call per node, whatever the batch size). Every step taken is
recorded under (journey, step), as is every coupon and delivery it produced, in the same
transaction: a worker killed mid-batch leaves nothing behind, and a batch run twice finds its
work done. Journeys of a paused campaign are set aside ("paused") and resume where they
stood.
"""

import dataclasses
import datetime
import logging
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from campaigns.flows import End, Go, Hold, Outcome, Run, Walker
from campaigns.models import Journey, JourneyStep
from campaigns.services.bulk import rows_insert, rows_update
from campaigns.services.dispatch import Outbox
from campaigns.services.entry import version_graph
from campaigns.services.goals import goals_reached
from campaigns.signals import batch_committed, batch_executed

log = logging.getLogger(__name__)

BATCH = 1000  # journeys per claim, i.e. per Celery task
# Nodes one journey may pass in one claim. Loops must pass a wait (the validator makes sure),
# so this only bounds very long chains; the rest continues in the next claim.
MAX_HOPS = 50
ACTIVE = Journey.Status.ACTIVE


@dataclasses.dataclass
class Position:
    """A claimed journey as the runner moves it."""

    id: int
    campaign_id: int
    version_id: int
    customer_id: int
    node: str
    step: int
    entered_at: datetime.datetime
    arrived_at: datetime.datetime
    coupon_id: int | None
    status: str = ACTIVE
    due_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    converted_at: datetime.datetime | None = None
    moving: bool = True  # still due now: take its next node in this claim

    def walker(self) -> Walker:
        return Walker(journey_id=self.id, campaign_id=self.campaign_id,
                      customer_id=self.customer_id, step=self.step, entered_at=self.entered_at,
                      arrived_at=self.arrived_at, coupon_id=self.coupon_id)


@dataclasses.dataclass(frozen=True)
class Advanced:
    claimed: int
    steps: int
    finished: int
    sent: int = 0  # messages the batch claimed for itself and sent after its commit

    @property
    def full(self) -> bool:
        return self.claimed >= BATCH


def journeys_advance(*, now: datetime.datetime | None = None, limit: int = BATCH) -> Advanced:
    """Claim up to `limit` due journeys and advance them; then send the messages the batch
    claimed for itself. Returns what was done."""
    now = now or timezone.now()
    # The batch sends its own messages once it has committed. Inside a caller's transaction
    # there is no commit to wait for: the dispatcher sends them, after the caller's.
    outbox = None if transaction.get_connection().in_atomic_block else Outbox()
    with transaction.atomic():
        positions = _claim(now, limit)
        if not positions:
            return Advanced(0, 0, 0)
        steps: list[dict] = []
        _convert(positions, now)
        run = Run(now=now, outbox=outbox)
        for _hop in range(MAX_HOPS):
            moving = [p for p in positions if p.moving]
            if not moving:
                break
            for group in _by_node(moving).values():
                _execute(group, run, steps)
        for position in positions:
            if position.moving:  # past MAX_HOPS: the next claim goes on from here
                position.due_at = now
        rows_insert(JourneyStep, steps, conflict=("journey_id", "step"))
        rows_update(Journey, [_row(p) for p in positions])
        batch_executed.send(sender=journeys_advance, journey_ids=[p.id for p in positions])
    finished = sum(1 for p in positions if p.status != ACTIVE)
    sent = 0
    if outbox:
        batch_committed.send(sender=journeys_advance,
                             delivery_ids=[item.id for item in outbox.sending])
        sent = outbox.send(now).sent
    return Advanced(len(positions), len(steps), finished, sent)


def _claim(now: datetime.datetime, limit: int) -> list[Position]:
    # Journeys of a paused campaign are "paused", not "active": the claim is one walk along
    # the partial index on due_at, with no join.
    rows = (Journey.objects.select_for_update(skip_locked=True)
            .filter(status=ACTIVE, due_at__lte=now).order_by("due_at")
            .values_list("id", "campaign_id", "version_id", "customer_id", "node", "step",
                         "entered_at", "arrived_at", "coupon_id")[:limit])
    return [Position(*row) for row in rows]


def _convert(positions: list[Position], now: datetime.datetime) -> None:
    """Journeys whose customer reached the campaign's goal end here, as conversions."""
    reached = goals_reached([(p.id, p.campaign_id, p.customer_id, p.entered_at)
                             for p in positions], now)
    for position in positions:
        if position.id in reached:
            position.status = Journey.Status.CONVERTED
            position.converted_at = position.finished_at = reached[position.id]
            position.moving = False


def _by_node(positions: list[Position]) -> dict[tuple[int, str], list[Position]]:
    groups: dict[tuple[int, str], list[Position]] = defaultdict(list)
    for position in positions:
        groups[(position.version_id, position.node)].append(position)
    return groups


def _execute(group: list[Position], run: Run, steps: list[dict]) -> None:
    """Run one node for the journeys standing on it. A node that raises fails just these
    journeys (recorded on their step), never the rest of the batch."""
    now = run.now
    graph = version_graph(group[0].version_id)
    node = graph.nodes.get(group[0].node)
    claimed = len(run.outbox.sending) if run.outbox is not None else 0
    try:
        if node is None or node.type.execute is None:
            raise LookupError(f"node {group[0].node!r} cannot run")
        with transaction.atomic():  # a savepoint: a failed node's writes are undone
            outcomes = node.type.execute(node.id, node.config, [p.walker() for p in group],
                                         run)
    except Exception as exc:
        log.exception("campaign node %s failed for %d journeys", group[0].node, len(group))
        if run.outbox is not None:  # its deliveries went with the savepoint
            run.outbox.discard(claimed)
        for position in group:
            _fail(position, now, steps, f"{type(exc).__name__}: {exc}")
        return
    for position, outcome in zip(group, outcomes, strict=True):
        _apply(position, outcome, graph, now, steps)


def _apply(position: Position, outcome: Outcome, graph, now: datetime.datetime,
           steps: list[dict]) -> None:
    if isinstance(outcome, Hold):
        position.due_at, position.moving = outcome.until, False
        return
    port = outcome.port if isinstance(outcome, Go) else ""
    if isinstance(outcome, Go) and outcome.coupon_id is not None:
        position.coupon_id = outcome.coupon_id
    steps.append({"journey_id": position.id, "step": position.step, "node": position.node,
                  "port": port, "note": outcome.note[:200], "at": now})
    position.step += 1
    if isinstance(outcome, End):
        _finish(position, Journey.Status.COMPLETED, now)
        return
    target = graph.next_node(position.node, port)
    if target is None:  # the validator connects every port; a gap ends the journey
        _finish(position, Journey.Status.COMPLETED, now)
        return
    position.node, position.arrived_at, position.due_at = target, now, now


def _fail(position: Position, now: datetime.datetime, steps: list[dict], note: str) -> None:
    steps.append({"journey_id": position.id, "step": position.step, "node": position.node,
                  "port": "", "note": note[:200], "at": now})
    position.step += 1
    _finish(position, Journey.Status.FAILED, now)


def _finish(position: Position, status: str, now: datetime.datetime) -> None:
    position.status, position.finished_at = status, now
    position.due_at, position.moving = None, False


def _row(position: Position) -> dict:
    return {"id": position.id, "status": position.status, "node": position.node,
            "step": position.step, "due_at": position.due_at,
            "arrived_at": position.arrived_at, "finished_at": position.finished_at,
            "converted_at": position.converted_at, "coupon_id": position.coupon_id}


def journeys_due(now: datetime.datetime | None = None) -> bool:
    """Whether any journey of an active campaign is due."""
    return Journey.objects.filter(status=ACTIVE, due_at__lte=now or timezone.now()).exists()


def journeys_wake(customer_ids: list[int], *, now: datetime.datetime) -> int:
    """Make these customers' journeys that wait for an event due now, so they see it."""
    waiting = Journey.objects.filter(customer_id__in=set(customer_ids), status=ACTIVE,
                                     due_at__gt=now).values_list("id", "version_id", "node")
    ids = [pk for pk, version_id, node in waiting
           if _node_type(version_id, node) in WAKES_ON_ACTIVITY]
    woken = Journey.objects.filter(pk__in=ids, status=ACTIVE, due_at__gt=now).update(
        due_at=now) if ids else 0
    if woken:
        from campaigns.tasks import advance_on_commit

        advance_on_commit()
    return woken


WAKES_ON_ACTIVITY = frozenset({"wait_for_event"})


def _node_type(version_id: int, node_id: str) -> str:
    node = version_graph(version_id).nodes.get(node_id)
    return node.type.key if node else ""
