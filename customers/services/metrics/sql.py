"""The SQL of the value metrics, built once for both paths.

`MetricsSql` renders every statement of the recompute: `rows()` (aggregates and stage per
customer, beside what the stored row holds), the thresholds and score counts over them,
`changed()` (scored and classed rows that differ from the stored ones), then the change log,
the update and the insert. The full recompute materialises `rows()` and `changed()` in
scratch tables of its transaction (create_temp); the per-customer refresh restricts `rows()`
to some ids and reads both as subqueries (no table, so frequent refreshes leave no catalog
churn on PostgreSQL). It is the same text either way.

Values are always bound (named parameters); what is interpolated is table names from the
models, enum values, and integers generated here.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from customers.models import (
    RFM_CLASS_BY_HIGHS,
    Customer,
    CustomerActivity,
    CustomerMetrics,
    LifecycleChange,
    LifecycleStage,
    MetricsSettings,
    Order,
    OrderStatus,
)

DIMENSIONS = ("recency", "frequency", "monetary")
# Score k (2..5) is earned at or beyond threshold k: fewer days for recency, more otherwise.
SCORE_KS = (2, 3, 4, 5)
_COLUMN = {"recency": "recency_days", "frequency": "frequency", "monetary": "monetary"}
_BETTER_OR_EQUAL = {"recency": "<=", "frequency": ">=", "monetary": ">="}

# The few places where PostgreSQL and SQLite differ. SQLite keeps datetimes as ISO text
# ('YYYY-MM-DD HH:MM:SS[.ffffff]', UTC) and decimals as floats: whole days come from the date
# parts plus a time-of-day comparison (exact, unlike julianday() arithmetic), and money is
# summed in integer cents so that sums are exact 2-place decimals.
VENDOR_SQL: dict[str, dict[str, str]] = {
    "postgresql": {
        # Whole days as a date difference: the last order shifted by a day less the cutoff's
        # time of day and a microsecond falls on the cutoff's date minus the recency (floor
        # division, also for orders after the cutoff). Exact, and a quarter of the cost of
        # floor(extract(epoch ...) / 86400), which is numeric arithmetic.
        "recency": (
            "(%(cutoff_date)s::date - (({last} + %(recency_shift)s::interval)"
            " AT TIME ZONE 'UTC')::date)"
        ),
        # Two sums and one subtraction per customer rather than a subtraction per order: each
        # numeric result is a new value, the sums add in place (1M customers, 8.5M paid
        # orders: the aggregation 2.52-2.61 s -> 2.39-2.48 s).
        "money_sum": "(sum(o.amount){filter} - sum(o.refunded_amount){filter})",
        "aov": "round({total} / {count}, 2)",
        "distinct": "IS DISTINCT FROM",
        "in_ids": "{column} = ANY(%(ids)s)",
        # One scan of the buyers for all three dimensions (0.62-0.73 s against 0.74-0.80 s
        # for three GROUP BYs with 1M customers).
        "per_value": (
            "SELECT recency_days, frequency, {bucket}, {buyers} FROM {source}"
            " GROUP BY GROUPING SETS ((recency_days), (frequency), ({bucket}))"
        ),
        # Monetary values in whole units, for the first pass of the quintiles (rounding is
        # monotone: a lower bucket never holds a higher value).
        "money_bucket": "({monetary})::bigint",
        # The chosen buckets as an array computed once (an InitPlan, handed to parallel
        # workers as a parameter): joined with the CTE, which only the leader may read, the
        # second scan of the buyers ran in the leader alone (120-145 ms -> ~80 ms, 1M
        # customers).
        "in_candidates": "money_bucket = ANY(ARRAY(SELECT bucket FROM candidates))",
    },
    "sqlite": {
        "recency": (
            "(CAST(julianday(substr(%(cutoff)s, 1, 10)) - julianday(substr({last}, 1, 10))"
            " AS INTEGER) - (substr(%(cutoff)s, 12) < substr({last}, 12)))"
        ),
        "money_sum": (
            "(sum(CAST(round((o.amount - o.refunded_amount) * 100) AS INTEGER)){filter}"
            " / 100.0)"
        ),
        "aov": "(round(round({total} * 100) / {count}) / 100.0)",
        "distinct": "IS NOT",
        "in_ids": "{column} IN (SELECT value FROM json_each(%(ids)s))",
        "per_value": (
            "SELECT recency_days, NULL, NULL, {buyers} FROM {source} GROUP BY recency_days"
            " UNION ALL SELECT NULL, frequency, NULL, {buyers} FROM {source} GROUP BY frequency"
            " UNION ALL SELECT NULL, NULL, {bucket}, {buyers} FROM {source} GROUP BY {bucket}"
        ),
        "money_bucket": "CAST({monetary} AS INTEGER)",
        "in_candidates": "money_bucket IN (SELECT bucket FROM candidates)",
    },
}

# Written to customers_customermetrics, and compared to skip rows whose values did not move.
# Recency is computed (scores and stages need it) but not written: it moves every day for
# every buyer, so storing it would rewrite every buyer's row each night.
METRIC_COLUMNS = (
    "order_count", "first_order_at", "last_order_at", "frequency", "monetary",
    "ltv", "aov", "r_score", "f_score", "m_score", "rfm_class", "lifecycle_stage",
)
# The aggregates, compared with the stored ones while they are computed (rows()); the stage,
# scores and class, compared once scored (changed()). AOV follows from LTV and the order
# count, so it is neither kept nor compared per customer: it is computed for the rows
# written only.
AGGREGATE_COLUMNS = ("order_count", "first_order_at", "last_order_at", "frequency", "monetary",
                     "ltv")
SCORED_COLUMNS = ("r_score", "f_score", "m_score", "rfm_class")
CALC_TABLE = "metrics_calc"
CHANGED_TABLE = "metrics_changed"


def _money_param(value: Any, vendor: str) -> Any:
    """Monetary thresholds compare exactly with the stored sums: numeric on PostgreSQL, the
    nearest float (as the sums are) on SQLite."""
    if value is None:
        return None
    return float(value) if vendor == "sqlite" else Decimal(str(value))


def _ids_param(ids: list[int], vendor: str) -> Any:
    return json.dumps(ids) if vendor == "sqlite" else ids


def _high_from(mark: float | None) -> int:
    """The least whole score above the mark (a score is high when it exceeds the mark); 6
    when no score can be (no mark: nobody was scored)."""
    return 6 if mark is None else math.floor(mark) + 1


@dataclass
class MetricsSql:
    """Statements and bound parameters for one computation as of `cutoff`."""

    settings: MetricsSettings
    cutoff: datetime
    customer_ids: list[int] | None = None  # None: every customer
    vendor: str = field(default_factory=lambda: connection.vendor)

    def __post_init__(self) -> None:
        if self.vendor not in VENDOR_SQL:
            raise NotImplementedError(f"value metrics do not support {self.vendor}")
        self.snippets = VENDOR_SQL[self.vendor]
        adapt = connection.ops.adapt_datetimefield_value
        days = timedelta(days=1)
        s = self.settings
        self.params: dict[str, Any] = {
            "cutoff": adapt(self.cutoff),
            "window_start": adapt(self.cutoff - s.window_days * days),
            "new_after": adapt(self.cutoff - s.new_days * days),
            "active_after": adapt(self.cutoff - s.active_days * days),
            "churn_before": adapt(self.cutoff - s.churn_days * days),
        }
        if self.vendor == "postgresql":
            utc = self.cutoff.astimezone(UTC)
            time_of_day = utc - utc.replace(hour=0, minute=0, second=0, microsecond=0)
            self.params["cutoff_date"] = utc.date()
            self.params["recency_shift"] = days - timedelta(microseconds=1) - time_of_day
        if self.customer_ids is not None:
            self.params["ids"] = _ids_param(self.customer_ids, self.vendor)
        self.high_from: dict[str, int] = {}
        self.parts = 0  # id ranges of the full recompute's aggregation (bind_parts)
        self.unlogged_calc = False  # the computed rows in an unlogged table (create_temp)

    # --- per-customer aggregates and lifecycle stage ----------------------------------------

    def _filter(self, column: str, joiner: str, part: int | None = None) -> str:
        """The restriction to some customers: the refreshed ones, or one part's id range."""
        conditions = [] if self.customer_ids is None else [
            self.snippets["in_ids"].format(column=column)]
        if part is not None:
            if part > 0:
                conditions.append(f"{column} >= %(part{part - 1})s")
            if part < self.parts - 1:
                conditions.append(f"{column} < %(part{part})s")
        return f" {joiner} " + " AND ".join(conditions) if conditions else ""

    def bind_parts(self, splits: list[int]) -> None:
        """Split the full recompute's aggregation into id ranges at these customer ids: part
        i holds the ids from splits[i - 1] (included) to splits[i] (excluded)."""
        self.parts = len(splits) + 1 if splits else 0
        for n, split in enumerate(splits):
            self.params[f"part{n}"] = split

    def _orders(self, part: int | None) -> str:
        in_window = "(WHERE placed_at > %(window_start)s AND placed_at <= %(cutoff)s)"
        money_sum = self.snippets["money_sum"]
        return f"""
            SELECT customer_id, COUNT(*) AS order_count,
                   MIN(placed_at) AS first_order_at, MAX(placed_at) AS last_order_at,
                   {money_sum.format(filter="")} AS ltv,
                   COUNT(*) FILTER {in_window} AS frequency,
                   {money_sum.format(filter=" FILTER " + in_window)} AS monetary
            FROM {Order._meta.db_table} o
            WHERE status = '{OrderStatus.PAID.value}'{self._filter("customer_id", "AND", part)}
            GROUP BY customer_id"""

    def _stage(self) -> str:
        stage = LifecycleStage
        return f"""CASE
                WHEN o.order_count IS NULL THEN '{stage.PROSPECT.value}'
                WHEN o.order_count = 1 AND o.last_order_at > %(new_after)s
                    THEN '{stage.NEW.value}'
                WHEN o.order_count >= 2 AND o.last_order_at > %(active_after)s
                    THEN '{stage.ACTIVE.value}'
                WHEN o.last_order_at <= %(churn_before)s
                     AND (a.last_seen_at IS NULL OR a.last_seen_at <= %(churn_before)s)
                    THEN '{stage.CHURNED.value}'
                ELSE '{stage.DORMANT.value}'
            END"""

    def _computed(self, part: int | None) -> str:
        """One row per customer: aggregates over paid orders, recency and lifecycle stage."""
        recency = self.snippets["recency"].format(last="o.last_order_at")
        return f"""
            SELECT c.id AS customer_id,
                   CAST(COALESCE(o.order_count, 0) AS INTEGER) AS order_count,
                   o.first_order_at, o.last_order_at,
                   {recency} AS recency_days,
                   CAST(COALESCE(o.frequency, 0) AS INTEGER) AS frequency,
                   COALESCE(o.monetary, 0) AS monetary,
                   {self.snippets["money_bucket"].format(monetary="COALESCE(o.monetary, 0)")}
                       AS money_bucket,
                   COALESCE(o.ltv, 0) AS ltv,
                   {self._stage()} AS lifecycle_stage
            FROM {Customer._meta.db_table} c
            LEFT JOIN ({self._orders(part)}) o ON o.customer_id = c.id
            LEFT JOIN {CustomerActivity._meta.db_table} a ON a.customer_id = c.id
                {self._filter("a.customer_id", "AND", part) if part is not None else ""}
            {self._filter("c.id", "WHERE", part)}"""

    def rows(self) -> str:
        """The computed rows with what the stored ones hold: whether any aggregate moved
        (`moved`), and the stored stage, scores and class. Joined while the rows stream out
        in customer order, so the comparison needs no second join (nor a sort of a million
        rows). The stage is compared later, with the scores: comparing it here would
        evaluate its CASE a second time for every customer. Prospects whose stored row says
        so already are left out: nothing about them can change, and quintiles count buyers
        only (a third of the rows at 1M customers; the customers are counted apart, see
        bind_customers). Once split (bind_parts), the same per id range, the ranges one
        after the other (UNION ALL): parallel workers then each take whole ranges (see
        metrics.PG_PARTS_SETTINGS)."""
        if not self.parts:
            return self._rows(None)
        return " UNION ALL ".join(f"({self._rows(part)})" for part in range(self.parts))

    def _rows(self, part: int | None) -> str:
        metrics = CustomerMetrics._meta.db_table
        fresh = ", ".join(f"fresh.{c}" for c in AGGREGATE_COLUMNS)
        stored = ", ".join(f"cm.{c}" for c in AGGREGATE_COLUMNS)
        old = ", ".join(f"cm.{c} AS old_{c}" for c in SCORED_COLUMNS)
        moved = f'({stored}) {self.snippets["distinct"]} ({fresh})'
        scored = " OR ".join(f"cm.{c} IS NOT NULL" for c in SCORED_COLUMNS)
        return f"""
            SELECT fresh.*, {old}, cm.lifecycle_stage AS old_stage,
                   cm.customer_id IS NOT NULL AS stored, {moved} AS moved
            FROM ({self._computed(part)}) fresh
            LEFT JOIN {metrics} cm ON cm.customer_id = fresh.customer_id
                {self._filter("cm.customer_id", "AND", part) if part is not None else ""}
            WHERE fresh.order_count > 0 OR {moved}
               OR cm.lifecycle_stage <> '{LifecycleStage.PROSPECT.value}' OR {scored}"""

    # --- what the later statements read ---------------------------------------------------

    def _relation(self, table: str, select: str, alias: str) -> str:
        """The full recompute materialises each step in a temporary table; a refresh of a few
        customers reads the same SELECT as a subquery."""
        return f"{table} {alias}" if self.customer_ids is None else f"({select}) {alias}"

    def calc_relation(self) -> str:
        return self._relation(CALC_TABLE, self.rows(), "calc")

    def changed_relation(self) -> str:
        return self._relation(CHANGED_TABLE, self.changed(), "changed")

    def create_temp(self, table: str) -> list[str]:
        """The computed rows go to an unlogged table where `unlogged_calc` says so, not a
        temporary one: parallel workers can read it (the thresholds and the comparison each
        read a million rows). It is created and dropped in the recompute's transaction, so
        nobody else ever sees it, and it is gone if the transaction fails."""
        select = {CALC_TABLE: self.rows, CHANGED_TABLE: self.changed}[table]()
        kind = "UNLOGGED" if table == CALC_TABLE and self.unlogged_calc else "TEMPORARY"
        return [f"DROP TABLE IF EXISTS {table}", f"CREATE {kind} TABLE {table} AS {select}"]

    def drop_temp(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {table}" for table in (CALC_TABLE, CHANGED_TABLE)]

    # --- scores --------------------------------------------------------------------------

    def _buyers(self) -> str:
        return f"{self.calc_relation()} WHERE order_count > 0"

    def _per_value(self) -> str:
        """Buyers per distinct value of recency and frequency, and per whole unit of monetary
        (its bucket): a row per value, the other two columns NULL (a buyer has all three).
        Counted as integers so that the running sums over them are bigint rather than
        numeric on PostgreSQL (0.1-0.15 s less, 1M customers)."""
        return self.snippets["per_value"].format(
            source=self._buyers(), buyers="CAST(COUNT(*) AS INTEGER)",
            bucket="money_bucket")

    def _ranked(self, dim: str) -> str:
        """Each distinct value of recency or frequency among the buyers with the number of
        buyers worse than it (its RANK() in the population, less one) and the population
        size. Ranking the distinct values with their counts instead of every buyer: 1.2 s
        instead of 2.8 s for 700,000 buyers (three sorts of every row otherwise)."""
        column = _COLUMN[dim]
        worse_first = "DESC" if dim == "recency" else "ASC"  # more days is worse
        return f"""
            SELECT {column} AS value, SUM(buyers) OVER (ORDER BY {column} {worse_first})
                       - buyers AS worse,
                   SUM(buyers) OVER () AS n
            FROM per_value WHERE {column} IS NOT NULL"""

    def _money_buckets(self) -> str:
        """The monetary buckets that may hold a threshold, with the buyers below each: t_k
        is in the bucket where the buyers below it reach (k - 1) / 5 of all, or is the
        least value of the next one. Hashing 700,000 buyers into ~6,600 buckets and ranking
        those, then ranking the ~1.5% of buyers in the chosen buckets by value, instead of
        hashing and ranking ~115,000 distinct sums: thresholds 0.47 s -> 0.28 s with 1M
        customers (bench/metrics.py)."""
        reached = [f"{k - 1} * n" for k in SCORE_KS]
        holds = " OR ".join(f"(5 * below < {x} AND {x} <= 5 * (below + buyers))"
                            f" OR (5 * previous < {x} AND {x} <= 5 * below)" for x in reached)
        return f"""
            SELECT bucket, below, n FROM (
                SELECT bucket, buyers, below, n,
                       LAG(below) OVER (ORDER BY bucket) AS previous
                FROM (SELECT money_bucket AS bucket, buyers,
                             SUM(buyers) OVER (ORDER BY money_bucket) - buyers AS below,
                             SUM(buyers) OVER () AS n
                      FROM per_value WHERE money_bucket IS NOT NULL) buckets) marked
            WHERE {holds}"""

    def _ranked_money(self) -> str:
        """As _ranked(), for the monetary values in the candidate buckets only: the buyers
        worse than a value are those below its bucket and those before it in it."""
        return f"""
            SELECT v.value, candidates.below + SUM(v.buyers) OVER (
                       PARTITION BY v.bucket ORDER BY v.value) - v.buyers AS worse,
                   candidates.n
            FROM (SELECT monetary AS value, money_bucket AS bucket, COUNT(*) AS buyers
                  FROM {self._buyers()} AND {self.snippets["in_candidates"]}
                  GROUP BY monetary, money_bucket) v
            JOIN candidates ON candidates.bucket = v.bucket"""

    def quintile_thresholds(self) -> str:
        """One row: customers, buyers, the thresholds t2..t5 of each dimension, then the
        buyers earning at least score k (as score_counts() lists them) from the same ranking,
        saving score_counts()'s scan. t_k is the least good value v with
        5 * (buyers worse than v) >= (k - 1) * n; the buyers earning k are those not worse
        than t_k. The customers are counted beforehand (bind_customers), the buyers off the
        ranking: no scan of their own. Monetary takes two passes (_money_buckets)."""
        parts = ["(SELECT %(customers)s AS customers, COALESCE(SUM(buyers), 0) AS buyers "
                 "FROM per_value WHERE recency_days IS NOT NULL) counts"]
        for dim in DIMENSIONS:
            least_good = "MAX" if dim == "recency" else "MIN"  # most days, else least
            earns = "FILTER (WHERE 5 * worse >= {} * n)".format
            picks = [f"{least_good}(value) {earns(k - 1)} AS t{k}" for k in SCORE_KS]
            picks += [f"COALESCE(MAX(n) - MIN(worse) {earns(k - 1)}, 0) AS at_least{k}"
                      for k in SCORE_KS]
            ranked = self._ranked_money() if dim == "monetary" else self._ranked(dim)
            parts.append(f"(SELECT {', '.join(picks)} FROM ({ranked}) ranked) {dim}")
        columns = [f"{dim}.{name}{k}" for name in ("t", "at_least")
                   for dim in DIMENSIONS for k in SCORE_KS]
        return f"""
            WITH per_value (recency_days, frequency, money_bucket, buyers) AS (
                {self._per_value()}),
            candidates AS ({self._money_buckets()})
            SELECT counts.*, {", ".join(columns)} FROM {", ".join(parts)}"""

    def bind_customers(self, customers: int) -> None:
        """The number of customers, for quintile_thresholds() and score_counts() (the
        computed rows leave unchanged prospects out)."""
        self.params["customers"] = customers

    def bind_thresholds(self, thresholds: dict[str, list]) -> None:
        for dim in DIMENSIONS:
            for k, value in zip(SCORE_KS, thresholds[dim], strict=True):
                bound = _money_param(value, self.vendor) if dim == "monetary" else value
                self.params[f"{dim}_t{k}"] = bound

    def bind_high_marks(self, marks: dict[str, float | None]) -> None:
        """After the thresholds: a score is high from the least whole score above its
        dimension's mark."""
        for dim in DIMENSIONS:
            self.high_from[dim] = _high_from(marks[dim])

    def _earns(self, dim: str, k: int) -> str:
        return f"{_COLUMN[dim]} {_BETTER_OR_EQUAL[dim]} %({dim}_t{k})s"

    def score_counts(self) -> str:
        """One row: customers, buyers, then per dimension the buyers earning at least score
        k for k = 2..5 (the score distribution, from which the high marks follow). Fixed
        scoring only: quintile_thresholds() returns these counts too."""
        counts = [f"COUNT(*) FILTER (WHERE order_count > 0 AND {self._earns(dim, k)})"
                  for dim in DIMENSIONS for k in SCORE_KS]
        return f"""
            SELECT %(customers)s, COUNT(*) FILTER (WHERE order_count > 0), {", ".join(counts)}
            FROM {self.calc_relation()}"""

    def _score(self, dim: str) -> str:
        """The best score earned, tried from 5 down. Thresholds are monotone (quintiles by
        construction, fixed ones validated ascending), so earning k implies earning every
        lower score; stopping at the first match instead of adding up all four tests took
        0.15-0.5 s off the comparison of 1M customers."""
        whens = " ".join(f"WHEN {self._earns(dim, k)} THEN {k}" for k in reversed(SCORE_KS))
        return f"CASE WHEN order_count = 0 THEN NULL {whens} ELSE 1 END"

    def _high(self, dim: str) -> str:
        """Whether a buyer's score in `dim` is high, tested on the value itself: the score is
        at least h exactly when the value earns h (monotone thresholds). One comparison
        instead of the score's CASE again and a numeric comparison with the mark: the
        comparison of 1M customers took 0.25 s instead of 0.5 s."""
        h = self.high_from[dim]
        if h <= 1:
            return "1 = 1"
        if h > SCORE_KS[-1] or self.params[f"{dim}_t{h}"] is None:
            return "1 = 0"  # no buyer earns that score
        return self._earns(dim, h)

    def _rfm_class(self) -> str:
        """RFM_CLASS_BY_HIGHS as a CASE over the bits (R high: 4, F high: 2, M high: 1)."""
        bits = " + ".join(
            f"(CASE WHEN {self._high(dim)} THEN {bit} ELSE 0 END)"
            for dim, bit in (("recency", 4), ("frequency", 2), ("monetary", 1))
        )
        whens = " ".join(
            f"WHEN {4 * r + 2 * f + m} THEN '{rfm_class.value}'"
            for (r, f, m), rfm_class in RFM_CLASS_BY_HIGHS.items()
        )
        return f"CASE WHEN order_count = 0 THEN NULL ELSE CASE {bits} {whens} END END"

    def _classed(self) -> str:
        """Every computed row with its scores, class and AOV."""
        aov = self.snippets["aov"].format(total="ltv", count="NULLIF(order_count, 0)")
        return f"""
            SELECT calc.*, {self._score("recency")} AS r_score,
                   {self._score("frequency")} AS f_score,
                   {self._score("monetary")} AS m_score,
                   {self._rfm_class()} AS rfm_class, {aov} AS aov
            FROM {self.calc_relation()}"""

    def changed(self) -> str:
        """The computed rows that differ from the stored ones (or have none yet), with the
        stored stage. Only these are written, so an unchanged row is never touched."""
        fresh = ", ".join(("lifecycle_stage", *SCORED_COLUMNS))
        old = ", ".join(("old_stage", *(f"old_{c}" for c in SCORED_COLUMNS)))
        return f"""
            SELECT customer_id, {", ".join(METRIC_COLUMNS)}, old_stage, stored
            FROM ({self._classed()}) fresh
            WHERE NOT stored OR moved
               OR ({old}) {self.snippets["distinct"]} ({fresh})"""

    # --- writes ---------------------------------------------------------------------------

    def log_stage_changes(self) -> str:
        """Append a LifecycleChange for every customer whose stage differs from the stored
        one (a first classification has from_stage NULL)."""
        return f"""
            INSERT INTO {LifecycleChange._meta.db_table}
                   (customer_id, from_stage, to_stage, changed_at)
            SELECT customer_id, old_stage, lifecycle_stage, %(cutoff)s
            FROM {self.changed_relation()}
            WHERE old_stage {self.snippets["distinct"]} lifecycle_stage"""

    def update_metrics(self) -> str:
        """Rewrite the stored rows that changed. (A joined UPDATE rather than an upsert for
        these: measured 3.9 s against 4.5 s for 690,000 rows, half the WAL records.)"""
        table = CustomerMetrics._meta.db_table
        updates = ", ".join(f"{c} = changed.{c}" for c in METRIC_COLUMNS)
        return f"""
            UPDATE {table} SET {updates}, computed_at = %(cutoff)s
            FROM {self.changed_relation()}
            WHERE {table}.customer_id = changed.customer_id AND changed.stored"""

    def insert_metrics(self) -> str:
        """Insert the rows of customers seen for the first time. Refreshes share the metrics
        lock, so another one may have inserted a row meanwhile: it is updated if it differs.
        The full recompute holds the lock alone and inserts plainly: a million rows took
        3.2-4.5 s instead of 5.2-5.6 s with the upsert's speculative insertion. (SQLite
        parses ON CONFLICT after a SELECT only when a WHERE clause comes first, as
        `WHERE NOT stored` does.)"""
        table = CustomerMetrics._meta.db_table
        columns = ", ".join(METRIC_COLUMNS)
        insert = f"""
            INSERT INTO {table} (customer_id, {columns}, computed_at)
            SELECT customer_id, {columns}, %(cutoff)s
            FROM {self.changed_relation()}
            WHERE NOT stored"""
        if self.customer_ids is None:
            return insert
        old = ", ".join(f"{table}.{c}" for c in METRIC_COLUMNS)
        new = ", ".join(f"excluded.{c}" for c in METRIC_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*METRIC_COLUMNS, "computed_at"))
        return f"""{insert}
            ON CONFLICT (customer_id) DO UPDATE SET {updates}
            WHERE ({old}) {self.snippets["distinct"]} ({new})"""

    # --- the first run, into an empty metrics table -----------------------------------------

    def log_first_stages(self) -> str:
        """Every customer's first classification, straight from the computed rows."""
        return f"""
            INSERT INTO {LifecycleChange._meta.db_table}
                   (customer_id, from_stage, to_stage, changed_at)
            SELECT customer_id, NULL, lifecycle_stage, %(cutoff)s FROM {self.calc_relation()}"""

    def insert_first_metrics(self) -> str:
        """Every customer's row, scored and classed on the way in: no second temporary
        table, no comparison."""
        table = CustomerMetrics._meta.db_table
        columns = ", ".join(METRIC_COLUMNS)
        return f"""
            INSERT INTO {table} (customer_id, {columns}, computed_at)
            SELECT customer_id, {columns}, %(cutoff)s FROM ({self._classed()}) fresh"""
