"""Per-customer value metrics (recency, frequency, monetary, LTV, AOV, RFM scores and class,
lifecycle stage), computed set-based in SQL.

`metrics_recompute_all` recomputes every customer in one transaction: one pass over the orders
into a scratch table (with many orders, customer-id ranges aggregated by parallel workers a
range each), the score thresholds and high marks from it, then the lifecycle change
log and the metrics rows written from it (unchanged rows are not rewritten; into an empty
metrics table, the first run inserts every row straight from the computed ones, and at scale
builds the two tables' indexes and foreign keys after the rows: customers.services.bulk).
`metrics_refresh_customers` runs the same statements for a few customers, scoring against the
latest run's thresholds. Definitions: shared/DOMAIN.md and the MetricsSettings help texts.
"""

import zlib
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from customers.models import (
    Customer,
    CustomerMetrics,
    LifecycleChange,
    MetricsRun,
    MetricsSettings,
    Order,
    OrderStatus,
)
from customers.services.bulk import SetAside, set_aside
from customers.services.steps import Step, StepClock

from .scoring import MetricsSettingsError, fixed_thresholds, high_marks, thresholds_from_row
from .sql import CALC_TABLE, CHANGED_TABLE, DIMENSIONS, SCORE_KS, MetricsSql

__all__ = ["MetricsSettingsError", "metrics_recompute_all", "metrics_refresh_customers",
           "metrics_vacuum"]

# One key for the metrics writers: the full recompute takes it exclusively, refreshes share it.
METRICS_LOCK_KEY = zlib.crc32(b"retentio.customers.metrics")
# PostgreSQL planner settings, for this transaction only. Sorts and hash joins over a row per
# customer spill to disk with the default 4MB of work_mem. The aggregation over the orders is
# kept from building a hash table of every customer (what the planner prefers): sorting or
# reading in customer order is faster. Measured with 1M customers / 10M orders: 17 s with
# the hash table, 9-13 s sorting, 6 s reading an index on orders (customer_id, placed_at)
# that includes status, amount and refunded_amount (Order's covering index). Hash joins are
# off for the aggregation: the per-customer aggregates then merge-join with the customers and
# with the stored metrics rows as they stream out of that index, instead of hashing a million
# rows each (bench/metrics.py next night: 7.1-7.5 s -> 6.5 s).
# Nor does the recompute wait for its commit to reach the disk: a crash may lose the run
# (never half of it), and the next one, comparing with the rows still stored, writes and
# logs the same changes; whatever read the new rows and committed flushed the log first.
PG_AGGREGATE_SETTINGS = [
    "SET LOCAL work_mem = '256MB'", "SET LOCAL enable_hashagg = off",
    "SET LOCAL enable_hashjoin = off", "SET LOCAL synchronous_commit = off",
]
# With many orders the aggregation is split into id ranges of similar order volume, read one
# after the other (MetricsSql.rows), and these settings make PostgreSQL's parallel workers
# take a whole range each: every range is aggregated, joined with its customers and stored
# rows, and compared in one worker, while the leader only writes the rows out. (PostgreSQL's
# own parallel plan splits the reading of the orders only; the joins and comparisons then
# run in the leader alone: 2.9-3.0 s against 2.5-2.6 s with 1M customers on two cores.)
# Parts must not be split further (no parallel scans inside them, no Gather per part); JIT
# would compile every part's expressions again in each worker (+0.9 s); each part reads its
# stored rows through the index, in order (stale statistics of a metrics table written
# moments before by a first run made the planner pick a bitmap scan and a sort).
AGGREGATE_PARTS = 32  # more parts than workers: a worker done early takes the next
PARTS_MIN_ORDERS = 1_000_000  # below, PostgreSQL's own plan (estimated rows of the orders)
PARTS_SAMPLE_ROWS = 20_000  # orders sampled to place the split points
PG_PARTS_SETTINGS = [
    "SET LOCAL min_parallel_index_scan_size = '1TB'",
    "SET LOCAL min_parallel_table_scan_size = '1TB'",
    "SET LOCAL parallel_leader_participation = off", "SET LOCAL jit = off",
    "SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_sort = off",
]


def _to_default(statements: list[str]) -> list[str]:
    """The SET LOCAL statements putting back what `statements` set."""
    return [statement.split(" = ")[0] + " TO DEFAULT" for statement in statements]


# The planner's choices go back to their defaults after the aggregation; the memory and the
# commit setting stay for the whole run.
PG_AFTER_AGGREGATE_SETTINGS = _to_default(
    [statement for statement in PG_AGGREGATE_SETTINGS
     if statement.startswith("SET LOCAL enable_")] + PG_PARTS_SETTINGS)
# The comparison keeps a few of a million rows: handing one over from a parallel worker costs
# next to nothing, which the planner, without statistics for the computed rows, does not
# know (0.25 s alone, 0.13-0.15 s with two workers, 1M customers).
PG_WRITE_SETTINGS = ["SET LOCAL parallel_tuple_cost = 0.001"]
# The changed rows (~1.4% of them a night) are updated through the metrics' primary key. The
# planner, counting a random page read for each, would rather hash them and scan the whole
# table (1M customers, 13,600 rows: 0.31 s against 0.16 s when the table was not in
# PostgreSQL's buffers, the same either way when it was).
PG_UPDATE_SETTINGS = ["SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"]
PG_AFTER_UPDATE_SETTINGS = _to_default(PG_UPDATE_SETTINGS)
# From this many customers the first run writes its two million-row tables without their
# secondary indexes and foreign keys and builds them after (customers.services.bulk): 1M
# customers took 17-25 s with them, mostly row-by-row index entries and deferred key checks.
SET_ASIDE_MIN_CUSTOMERS = 50_000

def _cutoff(cutoff: datetime | None) -> datetime:
    if cutoff is None:
        return timezone.now()
    if timezone.is_naive(cutoff):
        raise ValueError("cutoff must be timezone-aware")
    return cutoff


def _execute(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _postgres(statements: list[str]) -> None:
    if connection.vendor == "postgresql":
        for statement in statements:
            _execute(statement)


def _lock(*, shared: bool) -> None:
    """Full recomputes never overlap; refreshes wait for a running one. SQLite's single
    writer lock already serialises them."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    _execute(f"SELECT {function}(%(key)s)", {"key": METRICS_LOCK_KEY})


def _thresholds(q: MetricsSql, settings: MetricsSettings) -> tuple[dict[str, list], list]:
    """The thresholds, bound into `q`, and the score_counts() row (customers, buyers, buyers
    earning at least each score): quintile scoring gets both from one query."""
    if settings.scoring == MetricsSettings.Scoring.FIXED:
        thresholds = fixed_thresholds(settings)
        q.bind_thresholds(thresholds)
        [counts] = _fetch(q.score_counts(), q.params)
        return thresholds, list(counts)
    [(customers, buyers, *row)] = _fetch(q.quintile_thresholds(), q.params)
    per_dims = len(DIMENSIONS) * len(SCORE_KS)
    thresholds = thresholds_from_row(row[:per_dims])
    q.bind_thresholds(thresholds)
    return thresholds, [customers, buyers, *row[per_dims:]]


def _write(q: MetricsSql) -> tuple[int, int]:
    """Log stage changes (against the rows still stored), then write the changed rows."""
    changes = _execute(q.log_stage_changes(), q.params)
    _postgres(PG_UPDATE_SETTINGS)
    updated = _execute(q.update_metrics(), q.params)
    _postgres(PG_AFTER_UPDATE_SETTINGS)
    return changes, updated + _execute(q.insert_metrics(), q.params)


def _write_first(q: MetricsSql, clock: StepClock, customers: int) -> tuple[int, int]:
    """Into an empty metrics table: every customer's first classification and row, with no
    comparison and no conflict handling."""
    aside = _set_aside_for_first_run(customers)
    written = _execute(q.log_first_stages(), q.params), _execute(q.insert_first_metrics(), q.params)
    if aside:
        clock.step(f"wrote {written[1]:,} metrics rows, {written[0]:,} first classifications")
        with connection.cursor() as cursor:
            for table in aside:
                table.restore(cursor)
        clock.step("built the indexes and checked the foreign keys of "
                   + ", ".join(table.table for table in aside))
    return written


def _set_aside_for_first_run(customers: int) -> list[SetAside]:
    """The metrics table (empty) and the change log, when it holds fewer rows than are about
    to be added, lose their secondary indexes and foreign keys until the rows are in."""
    if connection.vendor != "postgresql" or customers < SET_ASIDE_MIN_CUSTOMERS:
        return []
    tables = [CustomerMetrics._meta.db_table]
    if LifecycleChange.objects.all()[customers:customers + 1].count() == 0:
        tables.append(LifecycleChange._meta.db_table)
    with connection.cursor() as cursor:
        return [aside for table in tables if (aside := set_aside(cursor, table))]


def _plan_for_parallel_workers(q: MetricsSql) -> None:
    """Where PostgreSQL has parallel workers: the computed rows in an unlogged table they can
    read, when this role may create tables in its schema (else a temporary table, read by
    the leader alone), and, with many orders, the aggregation split for them into ranges."""
    if connection.vendor != "postgresql":
        return
    [(workers, may_create)] = _fetch(
        "SELECT current_setting('max_parallel_workers_per_gather')::int, "
        "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)", {})
    if workers > 0:
        q.unlogged_calc = may_create
        _split_by_order_volume(q)


def _split_by_order_volume(q: MetricsSql) -> None:
    """Bind the split points of the aggregation's id ranges: the customer ids at equal
    steps through a sample of the paid orders (whole pages: TABLESAMPLE SYSTEM). One
    worker's serial run of the ranges is slower than PostgreSQL's own plan (4.2 s against
    3.7 s, 1M customers): only where workers are available."""
    table = Order._meta.db_table
    [(estimate,)] = _fetch("SELECT reltuples FROM pg_class WHERE oid = %(table)s::regclass",
                           {"table": table})
    if estimate < PARTS_MIN_ORDERS:
        return
    fractions = [n / AGGREGATE_PARTS for n in range(1, AGGREGATE_PARTS)]
    [(splits,)] = _fetch(
        f"SELECT percentile_disc(%(fractions)s::float8[]) WITHIN GROUP (ORDER BY customer_id) "
        f"FROM {table} TABLESAMPLE SYSTEM (%(percent)s) WHERE status = %(paid)s",
        {"fractions": fractions, "paid": OrderStatus.PAID.value,
         "percent": min(100.0, 100.0 * PARTS_SAMPLE_ROWS / max(estimate, 1))})
    q.bind_parts(sorted(set(splits or [])))


def _create_temp(q: MetricsSql, table: str) -> None:
    for statement in q.create_temp(table):
        _execute(statement, q.params)


def _create_calc(q: MetricsSql) -> None:
    """The computed rows, and the number of customers (the rows leave out unchanged
    prospects)."""
    _create_temp(q, CALC_TABLE)
    q.bind_customers(Customer.objects.count())


def _write_run(
    q: MetricsSql, clock: StepClock, *, first_run: bool, customers: int
) -> tuple[int, int]:
    """The stage changes logged and the metrics rows written: (changes, rows)."""
    _postgres(PG_WRITE_SETTINGS)
    if first_run:
        return _write_first(q, clock, customers)
    _create_temp(q, CHANGED_TABLE)
    clock.step("compared with the stored metrics")
    return _write(q)


def _recompute(cutoff: datetime, clock: StepClock) -> MetricsRun:
    settings = MetricsSettings.load()
    if settings.scoring == MetricsSettings.Scoring.FIXED:
        fixed_thresholds(settings)  # fail on bad settings before any work
    _lock(shared=False)
    first_run = not CustomerMetrics.objects.exists()  # under the lock: no refresh writes now
    q = MetricsSql(settings=settings, cutoff=cutoff)
    _plan_for_parallel_workers(q)
    _postgres(PG_AGGREGATE_SETTINGS + (PG_PARTS_SETTINGS if q.parts else []))
    _create_calc(q)
    _postgres(PG_AFTER_AGGREGATE_SETTINGS)
    clock.step("aggregated orders per customer")
    thresholds, counts = _thresholds(q, settings)
    clock.step(f"score thresholds ({settings.get_scoring_display().lower()})")
    customers, buyers, *at_least = (int(count) for count in counts)
    marks = high_marks(buyers, at_least, settings.high_rule)
    q.bind_high_marks(marks)
    clock.step(f"high marks ({customers:,} customers, {buyers:,} with a paid order)")
    changes, written = _write_run(q, clock, first_run=first_run, customers=customers)
    for statement in q.drop_temp():
        _execute(statement)
    clock.step(f"wrote {written:,} changed metrics rows, {changes:,} stage changes")
    return MetricsRun.objects.create(
        cutoff=cutoff, thresholds=thresholds, high_marks=marks, customers=customers,
        buyers=buyers, stage_changes=changes, rows_written=written,
        duration_ms=clock.elapsed_ms,
    )


def metrics_recompute_all(
    *, cutoff: datetime | None = None, on_step: Step | None = None
) -> MetricsRun:
    """Recompute every customer's metrics as of `cutoff` (default: now) in one transaction and
    record the run. `on_step` receives a line as each step finishes."""
    cutoff = _cutoff(cutoff)
    clock = StepClock(on_step)
    with transaction.atomic():
        return _recompute(cutoff, clock)


def metrics_vacuum() -> bool:
    """After a recompute (the nightly task, the command): mark the rewritten pages of the
    metrics table all-visible again and refresh its statistics, so that the segment
    evaluations that follow read it through index-only scans and plan with today's figures.
    Autovacuum waits until a fifth of the rows changed (about 15 nights at ~1.4% a night);
    until then every index-only scan of the metrics visits the heap: 50 segments at 1M
    customers 8.7-9.1 s -> 7.8-8.2 s. PostgreSQL only, outside a transaction (VACUUM cannot
    run in one); SKIP_LOCKED: a vacuum already at work on the table is as good. Returns
    whether it ran."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    _execute(f"VACUUM (ANALYZE, SKIP_LOCKED) {CustomerMetrics._meta.db_table}")
    return True


def _latest_run() -> MetricsRun | None:
    return MetricsRun.objects.order_by("-cutoff", "-pk").first()


def metrics_refresh_customers(
    *, customer_ids: Iterable[int], cutoff: datetime | None = None,
    on_step: Step | None = None,
) -> int:
    """Recompute these customers' metrics as of `cutoff`, scored against the latest run's
    thresholds and marks (a full recompute when there is no run yet). Returns the number of
    metrics rows inserted or changed."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return 0
    cutoff = _cutoff(cutoff)
    clock = StepClock(on_step)
    with transaction.atomic():
        if _latest_run() is None:
            return _recompute(cutoff, clock).rows_written
        _lock(shared=True)
        run = _latest_run()  # read again: a full recompute may have finished while we waited
        q = MetricsSql(settings=MetricsSettings.load(), cutoff=cutoff, customer_ids=ids)
        _lock_customers(q)
        q.bind_thresholds(run.thresholds)
        q.bind_high_marks(run.high_marks)
        changes, written = _write(q)
        clock.step(f"wrote {written:,} changed metrics rows, {changes:,} stage changes")
        return written


def _lock_customers(q: MetricsSql) -> None:
    """Concurrent refreshes of one customer take turns, so a stage change is logged once.
    (NO KEY UPDATE does not block orders being inserted for the customer.)"""
    if connection.vendor == "postgresql":
        in_ids = q.snippets["in_ids"].format(column="id")
        _execute(f"SELECT id FROM {Customer._meta.db_table} WHERE {in_ids} ORDER BY id "
                 "FOR NO KEY UPDATE", q.params)
