"""Reads shared with the operator UI: population value figures (ARPU, ARPPU, AOV, GMV,
repurchase rate) for a period, their breakdowns and trend, the lifecycle and RFM distributions,
one customer's timeline, and customer search.

Every figure is aggregated in SQL, a few statements per call whatever the population size;
Python only merges the handful of grouped rows those statements return. Definitions follow
shared/DOMAIN.md: revenue is net of refunds and counts paid orders by `placed_at`; a customer
is active in a period when they placed a paid order or had an activity event
(MetricsSettings.activity_events; empty means every event) in it.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from customers.models import (
    Customer,
    CustomerMetrics,
    Event,
    LifecycleStage,
    MetricsSettings,
    Order,
    OrderStatus,
    RfmClass,
)

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=18, decimal_places=2)
NET_AMOUNT = F("amount") - F("refunded_amount")


@dataclass(frozen=True)
class Period:
    """A half-open time range [start, end) of aware datetimes."""

    start: dt.datetime
    end: dt.datetime


def period_last_days(days: int, *, now: dt.datetime | None = None) -> Period:
    """The `days` days up to `now` (default: the current time)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    end = now or timezone.now()
    return Period(start=end - dt.timedelta(days=days), end=end)


# --- Shared building blocks ----------------------------------------------------------------


def _ratio(numerator: Decimal, denominator: int, places: Decimal = CENT) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / denominator).quantize(places, rounding=ROUND_HALF_UP)


def _money(value) -> Decimal:
    # SQLite sums decimals as floats; going through str keeps the cents exact.
    return ZERO if value is None else Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _paid_orders(period: Period) -> QuerySet[Order]:
    return Order.objects.filter(
        status=OrderStatus.PAID, placed_at__gte=period.start, placed_at__lt=period.end
    )


def _activity_events(period: Period) -> QuerySet[Event]:
    events = Event.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)
    names = MetricsSettings.load().activity_events
    # With names the (name, occurred_at) index serves the range; without, a range scan.
    return events.filter(name__in=names) if names else events


def _active_ids(period: Period) -> QuerySet:
    """Ids of customers with a paid order or an activity event in the period, as one UNION:
    it reads only the period's rows (index range scans), never the whole customer table."""
    paid_ids = _paid_orders(period).values_list("customer_id")
    return paid_ids.union(_activity_events(period).values_list("customer_id"))


def _active_customers(period: Period) -> QuerySet[Customer]:
    # One uncorrelated IN (... UNION ...) becomes a hashed semi-join on PostgreSQL; an OR of
    # two IN subqueries there falls back to a per-row subplan once the ids outgrow work_mem.
    return Customer.objects.filter(pk__in=_active_ids(period))


def _value_row(revenue: Decimal, active: int, paying: int) -> dict:
    return {
        "revenue": revenue,
        "active_customers": active,
        "paying_customers": paying,
        "arpu": _ratio(revenue, active),
        "arppu": _ratio(revenue, paying),
    }


# --- Overall figures -----------------------------------------------------------------------


def _order_totals(period: Period) -> dict:
    """One statement: per-customer order aggregates, then summed over customers."""
    in_period = Q(placed_at__gte=period.start, placed_at__lt=period.end)
    paid = Q(status=OrderStatus.PAID)
    per_customer = (
        Order.objects.filter(in_period, status__in=[OrderStatus.PAID, OrderStatus.REFUNDED])
        .values("customer_id")
        .annotate(
            n_paid=Count("pk", filter=paid),
            net=Sum(NET_AMOUNT, filter=paid, output_field=MONEY),
            gross=Sum("amount", output_field=MONEY),
        )
    )
    return per_customer.aggregate(
        orders=Coalesce(Sum("n_paid"), 0),
        revenue=Sum("net", output_field=MONEY),
        gmv=Sum("gross", output_field=MONEY),
        paying=Count("customer_id", filter=Q(n_paid__gte=1)),
        repeat=Count("customer_id", filter=Q(n_paid__gte=2)),
    )


def value_summary(*, period: Period) -> dict:
    """Revenue, orders, GMV and the per-customer ratios of a period (see the module doc).
    Ratios are None when their denominator is 0."""
    totals = _order_totals(period)
    revenue = _money(totals["revenue"])
    active = _active_ids(period).count()
    paying = totals["paying"]
    return {
        **_value_row(revenue, active, paying),
        "orders": totals["orders"],
        "aov": _ratio(revenue, totals["orders"]),
        "repurchase_rate": _ratio(Decimal(totals["repeat"]), paying, RATE_PLACES),
        "gmv": _money(totals["gmv"]),
        "customers_total": Customer.objects.count(),
    }


# --- Breakdown by a customer attribute or by storefront ------------------------------------

AGE_BANDS = ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"))
OLDEST_BAND = "55+"


def _years_before(day: dt.date, years: int) -> dt.date:
    """The latest birthday that makes someone `years` old on `day` (29 February -> 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _age_band(birthday_field: str, on: dt.date) -> Case:
    """Age band on a date as a CASE over birthday cut-offs: plain date comparisons that
    behave the same on every database."""
    whens = [When(**{f"{birthday_field}__isnull": True}, then=Value(""))]
    whens += [
        When(**{f"{birthday_field}__gt": _years_before(on, age)}, then=Value(label))
        for age, label in AGE_BANDS
    ]
    return Case(*whens, default=Value(OLDEST_BAND), output_field=CharField())


def _dimension_key(dimension: str, period: Period, prefix: str = ""):
    if dimension == "age_band":
        return _age_band(f"{prefix}birthday", timezone.localdate(period.end))
    return F(f"{prefix}{dimension}")


CUSTOMER_DIMENSIONS = ("acquisition_channel", "city", "age_band")
DIMENSIONS = (*CUSTOMER_DIMENSIONS, "storefront")


def _revenue_by(period: Period, key) -> dict[str, tuple[Decimal, int]]:
    rows = (
        _paid_orders(period)
        .values(key=key)
        .annotate(
            revenue=Sum(NET_AMOUNT, output_field=MONEY),
            paying=Count("customer_id", distinct=True),
        )
        .order_by()
    )
    return {row["key"] or "": (_money(row["revenue"]), row["paying"]) for row in rows}


def _active_by(period: Period, key) -> dict[str, int]:
    rows = (
        _active_customers(period)
        .values(key=key)
        .annotate(active=Count("pk"))
        .order_by()
    )
    return {row["key"] or "": row["active"] for row in rows}


def arpu_by(*, period: Period, dimension: str) -> list[dict]:
    """ARPU and ARPPU per value of `dimension` (one of DIMENSIONS), by revenue, highest first.
    Blank or unknown values have the key "". For storefronts every customer counted is a
    paying one (activity events are not tied to a storefront's sales), so active = paying."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; expected one of {DIMENSIONS}")
    if dimension == "storefront":
        revenue = _revenue_by(period, F("storefront__name"))
        active = {key: paying for key, (_rev, paying) in revenue.items()}
    else:
        revenue = _revenue_by(period, _dimension_key(dimension, period, "customer__"))
        active = _active_by(period, _dimension_key(dimension, period))
    rows = []
    for key, active_count in active.items():
        key_revenue, paying = revenue.get(key, (ZERO, 0))
        rows.append({"key": key, **_value_row(key_revenue, active_count, paying)})
    return sorted(rows, key=lambda row: (-row["revenue"], row["key"]))


# --- Trend ---------------------------------------------------------------------------------

TRUNCATORS: dict[str, type] = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def _bucket_start(day: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday, as in SQL
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next_bucket(start: dt.date, bucket: str) -> dt.date:
    if bucket == "month":
        return (start + dt.timedelta(days=32)).replace(day=1)
    return start + dt.timedelta(days=7 if bucket == "week" else 1)


def _buckets(period: Period, bucket: str) -> list[dt.date]:
    """Every bucket the period touches, in the current time zone, so the trend has no gaps."""
    if period.start >= period.end:
        return []
    current = _bucket_start(timezone.localdate(period.start), bucket)
    last = _bucket_start(timezone.localdate(period.end - dt.timedelta(microseconds=1)), bucket)
    starts = []
    while current <= last:
        starts.append(current)
        current = _next_bucket(current, bucket)
    return starts


def _as_date(value) -> dt.date:
    """A truncated timestamp read through a raw cursor: a string on SQLite, a naive local
    datetime on PostgreSQL, an aware one through the ORM."""
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _active_by_bucket(period: Period, trunc: Callable) -> dict[dt.date, int]:
    """Distinct (bucket, customer) pairs over orders UNION events, counted per bucket. The ORM
    cannot group a UNION, so its SQL is wrapped in one outer GROUP BY."""
    pairs = (
        _paid_orders(period)
        .annotate(bucket=trunc("placed_at"))
        .values_list("bucket", "customer_id")
        .union(
            _activity_events(period)
            .annotate(bucket=trunc("occurred_at"))
            .values_list("bucket", "customer_id")
        )
    )
    sql, params = pairs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT bucket, COUNT(*) FROM ({sql}) pairs GROUP BY bucket", params)
        return {_as_date(bucket): count for bucket, count in cursor.fetchall()}


def _revenue_by_bucket(period: Period, trunc: Callable) -> dict[dt.date, tuple[Decimal, int]]:
    rows = (
        _paid_orders(period)
        .annotate(bucket=trunc("placed_at"))
        .values("bucket")
        .annotate(
            revenue=Sum(NET_AMOUNT, output_field=MONEY),
            paying=Count("customer_id", distinct=True),
        )
        .order_by()
    )
    return {_as_date(row["bucket"]): (_money(row["revenue"]), row["paying"]) for row in rows}


def arpu_trend(*, period: Period, bucket: str = "month") -> list[dict]:
    """ARPU and ARPPU per day, week (from Monday) or month of the period, oldest first, in the
    current time zone. Every bucket the period touches has a row, zero when nothing happened;
    a partial first or last bucket only counts what falls inside the period."""
    if bucket not in TRUNCATORS:
        raise ValueError(f"unknown bucket {bucket!r}; expected one of {tuple(TRUNCATORS)}")
    trunc = TRUNCATORS[bucket]
    revenue = _revenue_by_bucket(period, trunc)
    active = _active_by_bucket(period, trunc)
    rows = []
    for start in _buckets(period, bucket):
        bucket_revenue, paying = revenue.get(start, (ZERO, 0))
        rows.append({"bucket_start": start,
                     **_value_row(bucket_revenue, active.get(start, 0), paying)})
    return rows


# --- Distributions (from CustomerMetrics, as last recomputed) ------------------------------


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def metrics_counts(field: str, choices: Iterable, **extra) -> dict[str, dict]:
    """Customers with metrics per known value of `field` (a choice of `choices`), with the
    `extra` aggregates, keyed by value."""
    rows = (
        CustomerMetrics.objects.filter(**{f"{field}__in": [choice.value for choice in choices]})
        .values(field)
        .annotate(count=Count("pk"), **extra)
        .order_by()
    )
    return {row[field]: row for row in rows}


def lifecycle_distribution() -> list[dict]:
    """Customers per lifecycle stage, every stage in lifecycle order; share of all customers
    with metrics."""
    counts = metrics_counts("lifecycle_stage", LifecycleStage)
    total = sum(row["count"] for row in counts.values())
    return [
        {
            "stage": stage.value,
            "label": str(stage.label),
            "count": (count := counts.get(stage.value, {}).get("count", 0)),
            "share": _share(count, total),
        }
        for stage in LifecycleStage
    ]


def rfm_distribution() -> list[dict]:
    """Customers per RFM class, all eight classes in RfmClass order. Prospects have no class,
    so shares are of the classified customers (buyers) and sum to 1."""
    counts = metrics_counts("rfm_class", RfmClass, avg_monetary=Avg("monetary"))
    total = sum(row["count"] for row in counts.values())
    rows = []
    for rfm_class in RfmClass:
        row = counts.get(rfm_class.value, {"count": 0, "avg_monetary": None})
        rows.append({
            "rfm_class": rfm_class.value,
            "label": str(rfm_class.label),
            "count": row["count"],
            "share": _share(row["count"], total),
            "avg_monetary": None if row["avg_monetary"] is None else _money(row["avg_monetary"]),
        })
    return rows


# --- One customer --------------------------------------------------------------------------


def _order_entry(order: Order) -> dict:
    details = [order.storefront.name]
    if order.coupon_code:
        details.append(f"coupon {order.coupon_code}")
    if order.refunded_amount:
        details.append(f"refunded {order.refunded_amount} {order.currency}")
    if order.items:
        details.append(f"{len(order.items)} item{'s' if len(order.items) != 1 else ''}")
    return {
        "kind": "order",
        "at": order.placed_at,
        "title": f"Order {order.external_id} · {order.amount} {order.currency}",
        "detail": " · ".join(details),
        "amount": order.amount,
        "status": order.status,
    }


DETAIL_MAX = 200


def _event_entry(event: Event) -> dict:
    properties = ", ".join(f"{key}={value}" for key, value in sorted(event.properties.items()))
    detail = " · ".join(part for part in (event.storefront.name, properties) if part)
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 1] + "…"
    return {
        "kind": "event",
        "at": event.occurred_at,
        "title": event.name,
        "detail": detail,
        "amount": None,
        "status": None,
    }


def customer_timeline(*, customer: Customer, limit: int = 100) -> list[dict]:
    """The customer's orders and events merged, newest first, at most `limit` entries. At the
    same instant an order comes before an event."""
    orders = (
        customer.orders.select_related("storefront").order_by("-placed_at", "-pk")[:limit]
    )
    events = (
        customer.events.select_related("storefront").order_by("-occurred_at", "-pk")[:limit]
    )
    entries = [_order_entry(order) for order in orders] + [_event_entry(e) for e in events]
    entries.sort(key=lambda entry: (entry["at"], entry["kind"] == "order"), reverse=True)
    return entries[:limit]


def customer_search(*, query: str, limit: int | None = 50, offset: int = 0,
                    rfm_class: str = "", stage: str = "") -> QuerySet[Customer]:
    """Customers whose external id or phone starts with `query`, or whose email or name
    starts with it ignoring case, newest first (by id), with their metrics; optionally only
    those of an RFM class or lifecycle stage. Prefixes, not substrings: each condition has
    an index that serves it (migration 0009; the external id's unique one since 0015), so a
    search is index scans whatever the table's size. An empty query lists the newest
    customers; limit=None leaves slicing to the caller."""
    customers = Customer.objects.select_related("metrics").order_by("-pk")
    query = query.strip()
    if not query and (rfm_class or stage) and limit is not None:
        # The page's ids straight from the (class or stage, customer) index: joined with the
        # customers instead, the planner walks both tables backwards past every prospect.
        ids = _metrics_of(rfm_class, stage).order_by("-customer_id") \
            .values_list("customer_id", flat=True)
        return customers.filter(pk__in=list(ids[offset:offset + limit]))
    if query:
        customers = customers.filter(
            Q(external_id__startswith=query)
            | Q(email__istartswith=query)
            | Q(name__istartswith=query)
            | Q(phone__startswith=query)
        )
    if rfm_class or stage:
        customers = customers.filter(pk__in=_metrics_of(rfm_class, stage).values("customer_id"))
    return customers[offset:None if limit is None else offset + limit]


def _metrics_of(rfm_class: str, stage: str) -> QuerySet[CustomerMetrics]:
    metrics = CustomerMetrics.objects.all()
    if rfm_class:
        metrics = metrics.filter(rfm_class=rfm_class)
    if stage:
        metrics = metrics.filter(lifecycle_stage=stage)
    return metrics


def count_up_to(rows: QuerySet, cap: int) -> int:
    """How many rows, counting at most cap + 1 of them: "1,000+" never scans a million."""
    return rows[: cap + 1].count()


def customer_count_estimate() -> int:
    """The number of customers: PostgreSQL's own estimate (kept by ANALYZE and autovacuum,
    free to read) instead of a COUNT(*) over every row; an exact count elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                           [Customer._meta.db_table])
            [estimate] = cursor.fetchone()
        if estimate >= 0:  # -1: never analysed yet
            return estimate
    return Customer.objects.count()
