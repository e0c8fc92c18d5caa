"""The dashboard's figures, precomputed: every figure the dashboard shows is computed here,
set-based (a few grouped statements per figure, whatever the number of customers), and
written to DashboardFigure, so the page reads a dozen rows and never scans customers, orders
or events. Runs after the metrics recompute and after the value model scoring
(customers.tasks) and from `manage.py compute_dashboard`.

Figures (key / dimension):
- kpis: customers, and revenue, active and paying customers, ARPU and ARPPU of the last
  KPI_DAYS days (customers.selectors.value_summary's definitions);
- trend / "" and each of TREND_DIMENSIONS: monthly revenue, active and paying customers, ARPU
  and ARPPU over the last TREND_MONTHS months, per value of the dimension (the TOP_VALUES
  largest by revenue, the rest summed as "(other)");
- lifecycle: customers per stage in funnel order, with their predicted revenue;
- rfm: customers per RFM class, their revenue in the analysis window and its share, and their
  predicted revenue;
- clv: the distribution of predicted CLV (a histogram) and the model's horizon;
- plus what other apps register (customers.pages.FIGURES), e.g. campaigns' top_campaigns.
"""

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, DecimalField, F, Sum, Value
from django.db.models.functions import Floor, Least, TruncMonth
from django.utils import timezone

from customers import pages, selectors
from customers.models import (
    Customer,
    CustomerPrediction,
    DashboardFigure,
    LifecycleStage,
    RfmClass,
    ValueModelFit,
)

KPI_DAYS = 30
TREND_MONTHS = 12
TREND_DIMENSIONS = selectors.CUSTOMER_DIMENSIONS
TOP_VALUES = 8  # lines a chart can show and a reader can tell apart
OTHER = "(other)"
CLV_BINS = 10
# The histogram spans 0 .. the 99th percentile in CLV_BINS bins, the rest in one last bin: a
# few whales would otherwise squeeze everyone into the first bar.
CLV_TOP_QUANTILE = 0.99


def _json_money(value) -> str:
    return str(selectors._money(value))


def _json_ratio(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --- KPIs ------------------------------------------------------------------------------------


def _kpis(now: dt.datetime) -> list[pages.FigureRow]:
    period = selectors.period_last_days(KPI_DAYS, now=now)
    summary = selectors.value_summary(period=period)
    value = {
        "days": KPI_DAYS,
        "customers": summary["customers_total"],
        "active_customers": summary["active_customers"],
        "paying_customers": summary["paying_customers"],
        "revenue": _json_money(summary["revenue"]),
        "orders": summary["orders"],
        "arpu": _json_ratio(summary["arpu"]),
        "arppu": _json_ratio(summary["arppu"]),
    }
    return [pages.FigureRow("kpis", value)]


# --- monthly trend by dimension --------------------------------------------------------------


def _trend_period(now: dt.datetime) -> selectors.Period:
    """The last TREND_MONTHS calendar months, the current one included (up to now)."""
    first = timezone.localdate(now).replace(day=1)
    for _month in range(TREND_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    return selectors.Period(start=start, end=now)


def _keys(period: selectors.Period, prefix: str = "") -> dict:
    return {f"k{index}": selectors._dimension_key(dimension, period, prefix)
            for index, dimension in enumerate(TREND_DIMENSIONS)}


def _revenue_cells(period: selectors.Period) -> dict:
    """(month, channel, city, age band) -> (revenue, paying customers): one statement."""
    keys = _keys(period, "customer__")
    rows = (selectors._paid_orders(period)
            .annotate(bucket=TruncMonth("placed_at"), **keys)
            .values("bucket", *keys)
            .annotate(revenue=Sum(selectors.NET_AMOUNT, output_field=selectors.MONEY),
                      paying=Count("customer_id", distinct=True))
            .order_by())
    return {(selectors._as_date(row["bucket"]), *(row[key] or "" for key in keys)):
            (selectors._money(row["revenue"]), row["paying"]) for row in rows}


def _active_cells(period: selectors.Period) -> dict:
    """(month, channel, city, age band) -> active customers: distinct (month, customer)
    pairs over paid orders UNION activity events, joined with each customer's values and
    counted, in one statement."""
    pairs = (
        selectors._paid_orders(period).annotate(bucket=TruncMonth("placed_at"))
        .values_list("bucket", "customer_id")
        .union(selectors._activity_events(period).annotate(bucket=TruncMonth("occurred_at"))
               .values_list("bucket", "customer_id"))
    )
    keys = Customer.objects.annotate(**_keys(period)).values_list("id", "k0", "k1", "k2") \
        .order_by()
    pairs_sql, pairs_params = pairs.query.sql_with_params()
    keys_sql, keys_params = keys.query.sql_with_params()
    sql = (f"SELECT p.bucket, k.k0, k.k1, k.k2, COUNT(*) FROM ({pairs_sql}) p "
           f"JOIN ({keys_sql}) k ON k.id = p.customer_id "  # its columns: id, k0, k1, k2
           f"GROUP BY p.bucket, k.k0, k.k1, k.k2")
    with connection.cursor() as cursor:
        cursor.execute(sql, (*pairs_params, *keys_params))
        return {(selectors._as_date(bucket), k0 or "", k1 or "", k2 or ""): count
                for bucket, k0, k1, k2, count in cursor.fetchall()}


def _rollup(revenue_cells: dict, active_cells: dict, index: int | None
            ) -> tuple[dict, dict]:
    """The cells summed to (month, value of dimension `index`), or to (month, "") for all
    customers. Counts add up: a customer has one value of each dimension."""
    revenue: dict = {}
    for (month, *values), (rev, paying) in revenue_cells.items():
        key = (month, "" if index is None else values[index])
        old_rev, old_paying = revenue.get(key, (selectors.ZERO, 0))
        revenue[key] = (old_rev + rev, old_paying + paying)
    active: dict = {}
    for (month, *values), count in active_cells.items():
        key = (month, "" if index is None else values[index])
        active[key] = active.get(key, 0) + count
    return revenue, active


def _series(key: str, months: list[dt.date], revenue: dict, active: dict) -> dict:
    cells = [(revenue.get((month, key), (selectors.ZERO, 0)), active.get((month, key), 0))
             for month in months]
    return _series_of(key, [(rev, act, paying) for (rev, paying), act in cells])


def _series_of(key: str, cells: list[tuple[Decimal, int, int]]) -> dict:
    rows = [selectors._value_row(rev, act, paying) for rev, act, paying in cells]
    return {
        "key": key,
        "revenue": [_json_money(row["revenue"]) for row in rows],
        "active": [row["active_customers"] for row in rows],
        "paying": [row["paying_customers"] for row in rows],
        "arpu": [_json_ratio(row["arpu"]) for row in rows],
        "arppu": [_json_ratio(row["arppu"]) for row in rows],
    }


def _other_series(rest: list[str], months: list[dt.date], revenue: dict, active: dict) -> dict:
    """The values past TOP_VALUES summed: a customer has one value, so counts add up."""
    cells = []
    for month in months:
        rev = sum((revenue.get((month, key), (selectors.ZERO, 0))[0] for key in rest),
                  selectors.ZERO)
        paying = sum(revenue.get((month, key), (selectors.ZERO, 0))[1] for key in rest)
        cells.append((rev, sum(active.get((month, key), 0) for key in rest), paying))
    return _series_of(OTHER, cells)


def _dimension_trend(months: list[dt.date], revenue: dict, active: dict) -> dict:
    totals: dict[str, Decimal] = {}
    for (_month, key), (rev, _paying) in revenue.items():
        totals[key] = totals.get(key, selectors.ZERO) + rev
    for _month, key in active:
        totals.setdefault(key, selectors.ZERO)
    ranked = sorted(totals, key=lambda key: (-totals[key], key)) or [""]
    series = [_series(key, months, revenue, active) for key in ranked[:TOP_VALUES]]
    if ranked[TOP_VALUES:]:
        series.append(_other_series(ranked[TOP_VALUES:], months, revenue, active))
    return {"months": [month.strftime("%Y-%m") for month in months], "series": series}


def _trend(now: dt.datetime) -> list[pages.FigureRow]:
    """Every breakdown from the same two grouped statements (by month and all three
    dimensions at once), summed up in Python: a few thousand cells, not millions of rows."""
    period = _trend_period(now)
    months = selectors._buckets(period, "month")
    revenue_cells, active_cells = _revenue_cells(period), _active_cells(period)
    rows = [pages.FigureRow("trend", _dimension_trend(
        months, *_rollup(revenue_cells, active_cells, None)))]
    rows += [pages.FigureRow("trend", _dimension_trend(
        months, *_rollup(revenue_cells, active_cells, index)), dimension)
        for index, dimension in enumerate(TREND_DIMENSIONS)]
    return rows


# --- lifecycle, RFM and predicted value ------------------------------------------------------


def _grouped(field: str, choices, **extra) -> dict[str, dict]:
    """Customers with metrics per value of `field`, with their predicted revenue (sum of
    predicted CLV over those that have one)."""
    return selectors.metrics_counts(
        field, choices, predicted=Sum("customer__prediction__predicted_clv"),
        predicted_customers=Count("customer__prediction__predicted_clv"), **extra)


def _predicted(row: dict) -> dict:
    return {"predicted_revenue": _json_money(row.get("predicted")),
            "predicted_customers": row.get("predicted_customers", 0)}


def _lifecycle(now: dt.datetime) -> list[pages.FigureRow]:
    counts = _grouped("lifecycle_stage", LifecycleStage)
    total = sum(row["count"] for row in counts.values())
    stages = [{"stage": stage.value, "count": counts.get(stage.value, {}).get("count", 0),
               "share": selectors._share(counts.get(stage.value, {}).get("count", 0), total),
               **_predicted(counts.get(stage.value, {}))}
              for stage in LifecycleStage]
    return [pages.FigureRow("lifecycle", {"total": total, "stages": stages})]


def _rfm(now: dt.datetime) -> list[pages.FigureRow]:
    counts = _grouped("rfm_class", RfmClass, revenue=Sum("monetary"))
    customers = sum(row["count"] for row in counts.values())
    revenue = sum((selectors._money(row["revenue"]) for row in counts.values()), selectors.ZERO)
    classes = []
    for rfm_class in RfmClass:
        row = counts.get(rfm_class.value, {})
        class_revenue = selectors._money(row.get("revenue"))
        classes.append({
            "rfm_class": rfm_class.value, "count": row.get("count", 0),
            "share": selectors._share(row.get("count", 0), customers),
            "revenue": str(class_revenue),
            "revenue_share": round(float(class_revenue / revenue), 4) if revenue else 0.0,
            **_predicted(row)})
    return [pages.FigureRow("rfm", {"customers": customers, "revenue": str(revenue),
                                    "classes": classes})]


def _clv_width(predictions) -> Decimal:
    """The bin width: the CLV_TOP_QUANTILE quantile rounded up to a whole number of bins of a
    round width."""
    n = predictions.count()
    top = predictions.order_by("predicted_clv").values_list("predicted_clv", flat=True)[
        min(n - 1, int(n * CLV_TOP_QUANTILE))]
    return Decimal(max(1, int(top) // CLV_BINS + 1))


def _clv(now: dt.datetime) -> list[pages.FigureRow]:
    fit = ValueModelFit.objects.filter(status=ValueModelFit.Status.OK).order_by(
        "-fitted_at").first()
    predictions = CustomerPrediction.objects.filter(predicted_clv__isnull=False)
    value = {"horizon_days": fit.horizon_days if fit else None,
             "fitted_at": fit.fitted_at.isoformat() if fit else None, "bins": []}
    if not predictions.exists():
        return [pages.FigureRow("clv", value)]
    width = _clv_width(predictions)
    binned = predictions.annotate(bin=Least(
        Floor(F("predicted_clv") / Value(width)), Value(Decimal(CLV_BINS)),
        output_field=DecimalField(max_digits=18, decimal_places=0)))
    counts = {int(b): n for b, n in binned.values("bin").annotate(n=Count("pk"))
              .values_list("bin", "n").order_by()}
    totals = predictions.aggregate(customers=Count("pk"), revenue=Sum("predicted_clv"))
    value["bins"] = [{"from": str(width * index),
                      "to": None if index == CLV_BINS else str(width * (index + 1)),
                      "count": counts.get(index, 0)} for index in range(CLV_BINS + 1)]
    value["customers"] = totals["customers"]
    value["predicted_revenue"] = _json_money(totals["revenue"])
    return [pages.FigureRow("clv", value)]


# --- writing ---------------------------------------------------------------------------------

OWN_FIGURES = (_kpis, _trend, _lifecycle, _rfm, _clv)


# The trend's grouped statements hash millions of (month, customer) pairs: with the default
# 4MB of work_mem they spill to disk; JIT compiling them costs more than it saves; parallel
# workers each redo the whole union (bench/ui.py: 3x the work on 2 cores).
PG_SETTINGS = ["SET LOCAL work_mem = '256MB'", "SET LOCAL jit = off",
               "SET LOCAL max_parallel_workers_per_gather = 0"]


def _session() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in PG_SETTINGS:
                cursor.execute(statement)


def _own_key_only(source: pages.FigureSource) -> Callable[[dt.datetime], list]:
    """A contributor writes rows under its own key only, never over another figure."""
    return lambda now: [row for row in source.compute(now) if row.key == source.key]


def _all_rows(now: dt.datetime, on_step: Callable[[str], None] | None) -> list[pages.FigureRow]:
    computes = [(compute.__name__.strip("_"), compute) for compute in OWN_FIGURES]
    computes += [(source.key, _own_key_only(source)) for source in pages.FIGURES.values()]
    rows = []
    for name, compute in computes:
        started = time.monotonic()
        rows += compute(now)
        if on_step:
            on_step(f"{name}: {time.monotonic() - started:.2f} s")
    return rows


def dashboard_figures_compute(*, now: dt.datetime | None = None,
                              on_step: Callable[[str], None] | None = None) -> int:
    """Compute every dashboard figure as of `now` and replace the stored ones in one
    transaction (readers see the old set or the new, never half). Returns the rows written.
    Running it twice at the same `now` writes the same rows."""
    now = now or timezone.now()
    with transaction.atomic():
        _session()
        rows = _all_rows(now, on_step)
        DashboardFigure.objects.all().delete()  # a few dozen rows
        DashboardFigure.objects.bulk_create(
            DashboardFigure(key=row.key, dimension=row.dimension, period=row.period,
                            value=row.value, computed_at=now) for row in rows)
    return len(rows)


def dashboard_figures() -> dict[tuple[str, str, str], DashboardFigure]:
    """Every stored figure by (key, dimension, period): one query over a few dozen rows."""
    return {(f.key, f.dimension, f.period): f for f in DashboardFigure.objects.all()}

