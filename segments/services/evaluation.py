"""Evaluate segments set-based: one query for the member set, a set difference against the
stored members, and the change log, all in one transaction per segment.

A full evaluation covers every customer; a customer-scoped one (after an order or event) only
the given customers. Both lock the segment row, so they never overlap for one segment, and
both are idempotent: a repeated or stale run finds nothing to change.
"""

import dataclasses
import datetime
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection
from django.utils import timezone

from customers.models import Customer
from customers.services.erasure import not_erased
from segments.models import Segment, SegmentChange, SegmentEvaluation, SegmentMembership
from segments.rules import Context, compile_node, parse, segment_references
from segments.services.changelog import change_log_writing
from segments.services.sql import rule_queries

TARGET = "segment_target"


@dataclasses.dataclass(frozen=True)
class Outcome:
    segment_id: int
    entered: int
    exited: int
    size: int
    duration_ms: int
    skipped: bool = False  # another full evaluation of this segment was running


def segment_evaluate(segment_id: int, *, now: datetime.datetime | None = None) -> Outcome:
    """Re-evaluate every customer of one segment. Skips (and says so) when another full
    evaluation of it holds the lock."""
    context = Context.at(now)
    started = time.monotonic()
    with rule_queries(full_evaluation=True):
        segment = _locked(segment_id, skip_locked=True)
        if segment is None:
            return Outcome(segment_id, 0, 0, 0, 0, skipped=True)
        members = not_erased(Customer.objects).filter(compile_node(parse(segment.rule), context))
        entered, exited, size = _apply(segment, members, context.now, scope=None)
        duration_ms = round((time.monotonic() - started) * 1000)
        SegmentEvaluation.objects.create(segment=segment, evaluated_at=context.now, size=size,
                                         entered=entered, exited=exited,
                                         duration_ms=duration_ms)
        Segment.objects.filter(pk=segment.pk).update(
            size=size, last_evaluated_at=context.now, last_duration_ms=duration_ms)
    return Outcome(segment_id, entered, exited, size, duration_ms)


def segment_evaluate_customers(segment_id: int, customer_ids: list[int], *,
                               now: datetime.datetime | None = None) -> Outcome:
    """Re-evaluate just these customers of one segment (after their data changed)."""
    scope = tuple(sorted(set(customer_ids)))
    context = Context.at(now, scope=scope)
    started = time.monotonic()
    with rule_queries():
        segment = _locked(segment_id, skip_locked=False)
        if segment is None or not scope:
            return Outcome(segment_id, 0, 0, 0, 0, skipped=segment is None)
        members = not_erased(Customer.objects).filter(
            compile_node(parse(segment.rule), context), pk__in=scope)
        entered, exited, _in_scope = _apply(segment, members, context.now, scope=list(scope))
        size = segment.size + entered - exited
        if entered or exited:
            Segment.objects.filter(pk=segment.pk).update(size=size)
    return Outcome(segment_id, entered, exited, size,
                   round((time.monotonic() - started) * 1000))


def segments_in_order(segments: list[Segment]) -> list[Segment]:
    """Segments ordered so that a segment comes after every segment its rule refers to."""
    by_id = {segment.pk: segment for segment in segments}
    ordered: list[Segment] = []
    seen: set[int] = set()

    def visit(segment: Segment) -> None:
        if segment.pk in seen:
            return
        seen.add(segment.pk)
        for ref in sorted(segment_references(parse(segment.rule))):
            if ref in by_id:
                visit(by_id[ref])
        ordered.append(segment)

    for segment in segments:
        visit(segment)
    return ordered


def segments_evaluate_all(*, now: datetime.datetime | None = None,
                          segment_ids: list[int] | None = None) -> list[Outcome]:
    """Full evaluation of the active segments (or of `segment_ids`), references first: a
    segment starts once every segment its rule refers to is done. On PostgreSQL, outside a
    transaction, SEGMENTS_EVALUATION_CONCURRENCY of them run at once."""
    segments = Segment.objects.filter(is_active=True) if segment_ids is None \
        else Segment.objects.filter(pk__in=segment_ids)
    now = now or timezone.now()
    ordered = segments_in_order(list(segments))
    workers = _concurrency()
    if workers <= 1:
        return [segment_evaluate(segment.pk, now=now) for segment in ordered]
    return _evaluate_concurrently(ordered, now, workers)


def _concurrency() -> int:
    # SQLite has a single writer; inside a transaction, other connections would not see what
    # it wrote.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return settings.SEGMENTS_EVALUATION_CONCURRENCY


def _evaluate_concurrently(ordered: list[Segment], now: datetime.datetime,
                           workers: int) -> list[Outcome]:
    """Each evaluation is a transaction of its own on its thread's connection; different
    segments never wait on each other's locks (the hourly path already runs them side by
    side, a task per segment)."""
    ids = {segment.pk for segment in ordered}
    refers_to = {segment.pk: set(segment_references(parse(segment.rule))) & ids
                 for segment in ordered}
    pending = [segment.pk for segment in ordered]
    outcomes: dict[int, Outcome] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: dict[Future, int] = {}
        while pending or running:
            ready = [pk for pk in pending if refers_to[pk] <= outcomes.keys()]
            for pk in ready[:workers - len(running)]:
                pending.remove(pk)
                running[pool.submit(_evaluate_on_own_connection, pk, now)] = pk
            if not running:  # rules are checked for cycles when saved; this one was not
                raise ValueError(f"segments {pending} refer to each other in a cycle")
            done, _running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes[running.pop(future)] = future.result()
    return [outcomes[segment.pk] for segment in ordered]


def _evaluate_on_own_connection(segment_id: int, now: datetime.datetime) -> Outcome:
    try:
        return segment_evaluate(segment_id, now=now)
    finally:
        connection.close()  # this thread's


def customers_evaluate(customer_ids: list[int], *, now: datetime.datetime | None = None
                       ) -> list[Outcome]:
    """Re-evaluate these customers in every active segment, references first."""
    now = now or timezone.now()
    segments = segments_in_order(list(Segment.objects.filter(is_active=True)))
    return [segment_evaluate_customers(segment.pk, customer_ids, now=now)
            for segment in segments]


def _locked(segment_id: int, *, skip_locked: bool) -> Segment | None:
    rows = Segment.objects.select_for_update(skip_locked=skip_locked).filter(pk=segment_id)
    segment = rows.first()
    if segment is not None:
        change_log_writing(segment_id)
    return segment


def _apply(segment: Segment, members, at: datetime.datetime, scope: list[int] | None
           ) -> tuple[int, int, int]:
    """Make the stored members of `segment` (within `scope`) equal `members` and log each
    change. Returns (entered, exited, members now within scope)."""
    sql, params = members.values("pk").query.sql_with_params()
    scope_sql = "" if scope is None else f" AND customer_id IN ({', '.join(['%s'] * len(scope))})"
    statements = _postgresql if connection.vendor == "postgresql" else _portable
    return statements(segment.pk, sql, list(params), at, scope_sql, scope or [])


MEMBERSHIP = SegmentMembership._meta.db_table
CHANGE = SegmentChange._meta.db_table
ENTERED, EXITED = SegmentChange.Kind.ENTERED.value, SegmentChange.Kind.EXITED.value


def _postgresql(segment_id, sql, params, at, scope_sql, scope) -> tuple[int, int, int]:
    """One statement: one full join of the new member set with the stored one, folded
    into the new set's size and the two differences, which the data-modifying CTEs write to
    the membership and the log. (Counting the stored members in a second scan cost 1.3 s
    of 50 segments' 22 s at 1M customers.)"""
    statement = f"""
        WITH diff AS MATERIALIZED (
            SELECT count(t.id) AS size,
                   array_agg(t.id) FILTER (WHERE s.customer_id IS NULL) AS added,
                   array_agg(s.customer_id) FILTER (WHERE t.id IS NULL) AS removed
            FROM ({sql}) t (id)
            FULL JOIN (SELECT customer_id FROM {MEMBERSHIP}
                       WHERE segment_id = %s{scope_sql}) s ON s.customer_id = t.id),
        added AS (INSERT INTO {MEMBERSHIP} (segment_id, customer_id, entered_at)
                  SELECT %s, new_id, %s FROM diff, unnest(diff.added) new_id
                  RETURNING customer_id),
        removed AS (DELETE FROM {MEMBERSHIP} m USING diff, unnest(diff.removed) old (id)
                    WHERE m.segment_id = %s AND m.customer_id = old.id
                    RETURNING m.customer_id),
        logged AS (INSERT INTO {CHANGE} (segment_id, customer_id, kind, at)
                   SELECT %s, customer_id, '{ENTERED}', %s FROM added
                   UNION ALL SELECT %s, customer_id, '{EXITED}', %s FROM removed
                   ORDER BY 3, 2  -- the log reads entered then exited, by customer
                   RETURNING kind)
        SELECT count(*) FILTER (WHERE kind = '{ENTERED}'),
               count(*) FILTER (WHERE kind = '{EXITED}'), (SELECT size FROM diff)
        FROM logged"""
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, segment_id, *scope, segment_id, at, segment_id,
                                   segment_id, at, segment_id, at])
        entered, exited, size = cursor.fetchone()
    return entered, exited, size


def _portable(segment_id, sql, params, at, scope_sql, scope) -> tuple[int, int, int]:
    """The same in plain statements over a temporary table (SQLite)."""
    not_member = (f"NOT EXISTS (SELECT 1 FROM {MEMBERSHIP} m WHERE m.segment_id = %s "
                  f"AND m.customer_id = t.customer_id)")
    gone = (f"segment_id = %s{scope_sql} AND NOT EXISTS (SELECT 1 FROM {TARGET} t "
            f"WHERE t.customer_id = {MEMBERSHIP}.customer_id)")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TARGET}")
        cursor.execute(f"CREATE TEMPORARY TABLE {TARGET} (customer_id bigint PRIMARY KEY)")
        cursor.execute(f"INSERT INTO {TARGET} (customer_id) {sql}", params)
        cursor.execute(
            f"INSERT INTO {CHANGE} (segment_id, customer_id, kind, at) "
            f"SELECT %s, t.customer_id, %s, %s FROM {TARGET} t WHERE {not_member} "
            f"ORDER BY t.customer_id",
            [segment_id, ENTERED, at, segment_id])
        entered = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {CHANGE} (segment_id, customer_id, kind, at) "
            f"SELECT %s, customer_id, %s, %s FROM {MEMBERSHIP} WHERE {gone} ORDER BY customer_id",
            [segment_id, EXITED, at, segment_id, *scope])
        exited = cursor.rowcount
        if exited:
            cursor.execute(f"DELETE FROM {MEMBERSHIP} WHERE {gone}", [segment_id, *scope])
        if entered:
            cursor.execute(
                f"INSERT INTO {MEMBERSHIP} (segment_id, customer_id, entered_at) "
                f"SELECT %s, t.customer_id, %s FROM {TARGET} t WHERE {not_member}",
                [segment_id, at, segment_id])
        cursor.execute(f"SELECT count(*) FROM {TARGET}")
        size = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {TARGET}")
    return entered, exited, size
