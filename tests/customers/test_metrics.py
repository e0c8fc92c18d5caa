"""Value metrics on a crafted population small enough to check by eye.

Cutoff C = 2025-06-30 12:00 UTC, default settings: window 365 days, new < 90 days,
active < 60 days, churned >= 180 days. "C-10d" is an order placed exactly 10 days before C.

customer  orders (status, amount[, refunded])                                    last seen
anna      paid C-10d 100.00, paid C-40d 50.00, paid C-400d 30.00, pending C-1d 999   -
ben       paid C-89d23h 40.00                                                     -
cara      paid C-90d 60.00                                                        -
dan       paid C-59d 20.00, paid C-400d 20.00                                      -
eve       paid C-60d 70.00, paid C-100d 30.00 refunded 10.00                       -
finn      paid C-179d 200.00, refunded C-5d 80.00 (refunded in full)               -
gus       paid C-180d 10.00                                                       never
hana      paid C-300d 25.00, paid C-365d 25.00 (just outside the window)           C-20d
ivan      paid C-700d 500.00 refunded 100.00                                      C-180d
jo        cancelled C-3d 45.00, pending C-2d 45.00                                C-1d
kai       (no orders)                                                             -
lea       paid C-1d 10.00, paid C-2d 10.01, cancelled C-1d 5.00                    -

Population for scores: the 10 customers with a paid order (all but jo and kai), n = 10, so
score = 1 + floor(5 * worse / 10) = 1 + floor(worse / 2).
"""

import datetime as dt
import threading
from decimal import Decimal
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from customers.models import (
    CustomerMetrics,
    LifecycleChange,
    MetricsRun,
    MetricsSettings,
    OrderStatus,
)
from customers.services import bulk
from customers.services import metrics as metrics_module
from customers.services.metrics import (
    METRICS_LOCK_KEY,
    MetricsSettingsError,
    metrics_recompute_all,
    metrics_refresh_customers,
    metrics_vacuum,
)
from customers.services.metrics.scoring import thresholds_from_row
from customers.services.metrics.sql import CALC_TABLE, MetricsSql
from customers.tasks import metrics_recompute_task
from tests.conftest import wait_for
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.customers.schema import table_schema

C = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
PAID, REFUNDED = OrderStatus.PAID, OrderStatus.REFUNDED
CANCELLED, PENDING = OrderStatus.CANCELLED, OrderStatus.PENDING

# external_id: [(days before C, amount, status, refunded_amount)], last_seen days before C
ORDERS = {
    "anna": [(10, "100.00", PAID, "0"), (40, "50.00", PAID, "0"), (400, "30.00", PAID, "0"),
             (1, "999.00", PENDING, "0")],
    "ben": [(89 + 23 / 24, "40.00", PAID, "0")],
    "cara": [(90, "60.00", PAID, "0")],
    "dan": [(59, "20.00", PAID, "0"), (400, "20.00", PAID, "0")],
    "eve": [(60, "70.00", PAID, "0"), (100, "30.00", PAID, "10.00")],
    "finn": [(179, "200.00", PAID, "0"), (5, "80.00", REFUNDED, "80.00")],
    "gus": [(180, "10.00", PAID, "0")],
    "hana": [(300, "25.00", PAID, "0"), (365, "25.00", PAID, "0")],
    "ivan": [(700, "500.00", PAID, "100.00")],
    "jo": [(3, "45.00", CANCELLED, "0"), (2, "45.00", PENDING, "0")],
    "kai": [],
    "lea": [(1, "10.00", PAID, "0"), (2, "10.01", PAID, "0"), (1, "5.00", CANCELLED, "0")],
}
LAST_SEEN = {"hana": 20, "ivan": 180, "jo": 1}

# (order_count, recency in days at C, frequency, monetary, ltv, aov)
AGGREGATES = {
    "anna": (3, 10, 2, "150.00", "180.00", "60.00"),  # 100+50 in window, +30; pending ignored
    "ben": (1, 89, 1, "40.00", "40.00", "40.00"),  # 89 d 23 h floors to 89
    "cara": (1, 90, 1, "60.00", "60.00", "60.00"),
    "dan": (2, 59, 1, "20.00", "40.00", "20.00"),  # the C-400d order is outside the window
    "eve": (2, 60, 2, "90.00", "90.00", "45.00"),  # 70 + (30 - 10 partial refund)
    "finn": (1, 179, 1, "200.00", "200.00", "200.00"),  # the refunded order counts nothing
    "gus": (1, 180, 1, "10.00", "10.00", "10.00"),
    "hana": (2, 300, 1, "25.00", "50.00", "25.00"),  # C-365d is not in (C-365d, C]
    "ivan": (1, 700, 0, "0.00", "400.00", "400.00"),  # 500 - 100 refunded, out of window
    "jo": (0, None, 0, "0.00", "0.00", None),  # cancelled and pending count nothing
    "kai": (0, None, 0, "0.00", "0.00", None),
    "lea": (2, 1, 2, "20.01", "20.01", "10.01"),  # 20.01 / 2 = 10.005 rounds half up
}

# Quintile scores, worse = larger recency / smaller frequency or monetary:
# R: lea 1, anna 10 (worse 9, 8) -> 5; dan 59, eve 60 (7, 6) -> 4; ben 89, cara 90 (5, 4) -> 3;
#    finn 179, gus 180 (3, 2) -> 2; hana 300, ivan 700 (1, 0) -> 1. Mean 30 / 10 = 3.0.
# F: ivan 0 (worse 0) -> 1; six with 1 (worse 1) -> 1; anna, eve, lea 2 (worse 7) -> 4.
#    Mean (7 * 1 + 3 * 4) / 10 = 1.9.
# M: ivan 0, gus 10 -> 1; dan 20.00, lea 20.01 -> 2; hana 25, ben 40 -> 3;
#    cara 60, eve 90 -> 4; anna 150, finn 200 -> 5. Mean 30 / 10 = 3.0.
# High = score above the mean: R >= 4, F = 4, M >= 4.
SCORES = {  # (R, F, M, class)
    "anna": (5, 4, 5, "important_value"),
    "ben": (3, 1, 3, "general_winback"),
    "cara": (3, 1, 4, "important_winback"),
    "dan": (4, 1, 2, "general_development"),
    "eve": (4, 4, 4, "important_value"),
    "finn": (2, 1, 5, "important_winback"),
    "gus": (2, 1, 1, "general_winback"),
    "hana": (1, 1, 3, "general_winback"),
    "ivan": (1, 1, 1, "general_winback"),
    "jo": (None, None, None, None),
    "kai": (None, None, None, None),
    "lea": (5, 4, 2, "general_value"),
}
# t_k = the least good value with 5 * worse >= (k - 1) * 10, i.e. worse >= 2 (k - 1):
# R: worse >= 2, 4, 6, 8 -> gus 180, cara 90, eve 60, anna 10.
# F: worse >= 2, 4, 6 -> 2 (worse 7); nobody has worse >= 8 -> None.
# M: worse >= 2, 4, 6, 8 -> dan 20.00, hana 25.00, cara 60.00, anna 150.00.
QUINTILE_THRESHOLDS = {"recency": [180, 90, 60, 10], "frequency": [2, 2, 2, None],
                       "monetary": [20.0, 25.0, 60.0, 150.0]}

STAGES = {
    "anna": "active",  # 3 orders, last 10 d < 60
    "ben": "new",  # 1 order, 89 d < 90
    "cara": "dormant",  # 1 order, 90 d is not < 90; not 180 d yet
    "dan": "active",  # 2 orders, 59 d < 60
    "eve": "dormant",  # 2 orders, 60 d is not < 60
    "finn": "dormant",  # 179 d < 180
    "gus": "churned",  # 180 d, never seen
    "hana": "dormant",  # 300 d without an order, but seen 20 d ago
    "ivan": "churned",  # 700 d, last seen 180 d ago
    "jo": "prospect",  # no paid order (a recent visit does not matter)
    "kai": "prospect",
    "lea": "active",
}

# Fixed thresholds as the operator types them (recency listed d5, d4, d3, d2).
FIXED = {"recency": [7, 30, 100, 365], "frequency": [1, 2, 3, 4],
         "monetary": [10, 50, 100, 180]}
# R: lea 1 -> 5; anna 10 -> 4; dan 59, eve 60, ben 89, cara 90 -> 3; finn, gus, hana -> 2;
#    ivan 700 -> 1. Mean 28 / 10 = 2.8; median of 1,2,2,2,3,3,3,3,4,5 = 3.
# F: ivan 0 -> 1; frequency 1 -> 2; anna, eve, lea (2) -> 3. Mean 2.2; median 2.
# M: ivan 0 -> 1; gus 10, dan 20, lea 20.01, hana 25, ben 40 -> 2; cara 60, eve 90 -> 3;
#    anna 150 -> 4; finn 200 -> 5. Mean 2.6; median 2.
FIXED_SCORES = {
    "anna": (4, 3, 4), "ben": (3, 2, 2), "cara": (3, 2, 3), "dan": (3, 2, 2),
    "eve": (3, 3, 3), "finn": (2, 2, 5), "gus": (2, 2, 2), "hana": (2, 2, 2),
    "ivan": (1, 1, 1), "jo": (None, None, None), "kai": (None, None, None),
    "lea": (5, 3, 2),
}
# Mean rule: R high >= 3, F high = 3, M high >= 3.
FIXED_MEAN_CLASSES = {
    "anna": "important_value", "ben": "general_development",
    "cara": "important_development", "dan": "general_development", "eve": "important_value",
    "finn": "important_winback", "gus": "general_winback", "hana": "general_winback",
    "ivan": "general_winback", "jo": None, "kai": None, "lea": "general_value",
}
# Median rule: R high >= 4 (above 3), F high = 3 (above 2), M high >= 3 (above 2).
FIXED_MEDIAN_CLASSES = {
    "anna": "important_value", "ben": "general_winback", "cara": "important_winback",
    "dan": "general_winback", "eve": "important_retention", "finn": "important_winback",
    "gus": "general_winback", "hana": "general_winback", "ivan": "general_winback",
    "jo": None, "kai": None, "lea": "general_value",
}


@pytest.fixture
def population(storefront):
    """The customers above, by external id."""
    customers = {}
    for external_id, orders in ORDERS.items():
        seen = LAST_SEEN.get(external_id)
        customer = CustomerFactory(
            external_id=external_id, last_seen_at=None if seen is None else C - seen * DAY
        )
        for days, amount, status, refunded in orders:
            OrderFactory(customer=customer, storefront=storefront, placed_at=C - days * DAY,
                         amount=Decimal(amount), refunded_amount=Decimal(refunded),
                         status=status)
        customers[external_id] = customer
    return customers


def _metrics() -> dict[str, CustomerMetrics]:
    return {m.customer.external_id: m for m in CustomerMetrics.objects.select_related("customer")}


def _use_settings(**fields) -> None:
    settings = MetricsSettings.load()
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()


def _money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def test_aggregates_match_hand_computed_values(population):
    metrics_recompute_all(cutoff=C)

    got = {
        key: (m.order_count, m.recency_days_at(C), m.frequency, m.monetary, m.ltv, m.aov)
        for key, m in _metrics().items()
    }
    expected = {
        key: (count, recency, frequency, _money(monetary), _money(ltv), _money(aov))
        for key, (count, recency, frequency, monetary, ltv, aov) in AGGREGATES.items()
    }
    assert got == expected


def test_first_and_last_order_times_count_paid_orders_only(population):
    metrics_recompute_all(cutoff=C)

    metrics = _metrics()
    assert (metrics["anna"].first_order_at, metrics["anna"].last_order_at) == (
        C - 400 * DAY, C - 10 * DAY)
    assert (metrics["finn"].first_order_at, metrics["finn"].last_order_at) == (
        C - 179 * DAY, C - 179 * DAY)
    assert (metrics["jo"].first_order_at, metrics["jo"].last_order_at) == (None, None)


def test_quintile_scores_and_classes_match_hand_computed_values(population):
    metrics_recompute_all(cutoff=C)

    got = {k: (m.r_score, m.f_score, m.m_score, m.rfm_class) for k, m in _metrics().items()}
    assert got == SCORES


def test_run_records_thresholds_marks_and_counts(population):
    run = metrics_recompute_all(cutoff=C)

    assert run.thresholds == QUINTILE_THRESHOLDS
    assert run.high_marks == {"recency": 3.0, "frequency": 1.9, "monetary": 3.0}
    assert (run.cutoff, run.customers, run.buyers) == (C, 12, 10)
    assert (run.rows_written, run.stage_changes) == (12, 12)


def test_quintile_query_counts_each_score_as_a_scan_of_the_rows_does(population):
    """The score distribution read off the threshold ranking equals score_counts()'s scan."""
    q = MetricsSql(settings=MetricsSettings.load(), cutoff=C)
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in q.create_temp(CALC_TABLE):
            cursor.execute(statement, q.params)
        q.bind_customers(12)
        cursor.execute(q.quintile_thresholds(), q.params)
        customers, buyers, *row = cursor.fetchone()
        q.bind_thresholds(thresholds_from_row(row[:12]))
        cursor.execute(q.score_counts(), q.params)
        scanned = cursor.fetchone()
        for statement in q.drop_temp():
            cursor.execute(statement)

    assert (customers, buyers) == (12, 10)
    assert [int(count) for count in (customers, buyers, *row[12:])] == list(scanned)


def _split_always(monkeypatch, parts: int) -> list[list[int]]:
    """Split the aggregation into id ranges however few the orders; returns the split
    points each run bound. (reltuples is -1 until the first ANALYZE.)"""
    monkeypatch.setattr(metrics_module, "PARTS_MIN_ORDERS", -1)
    monkeypatch.setattr(metrics_module, "AGGREGATE_PARTS", parts)
    bound: list[list[int]] = []
    bind_parts = MetricsSql.bind_parts

    def recording(self, splits):
        bound.append(list(splits))
        bind_parts(self, splits)

    monkeypatch.setattr(MetricsSql, "bind_parts", recording)
    return bound


@pytest.mark.postgres
def test_a_recompute_split_into_id_ranges_gives_the_same_metrics(population, monkeypatch):
    splits = _split_always(monkeypatch, parts=4)

    metrics_recompute_all(cutoff=C)
    metrics_recompute_all(cutoff=C + DAY)  # compares with the stored rows, part by part

    assert len(splits) == 2  # one split per run
    assert len(splits[0]) == 3  # 10 buyers: three distinct split points
    assert {k: (m.r_score, m.f_score, m.m_score, m.rfm_class) for k, m in _metrics().items()} \
        == SCORES
    later = LifecycleChange.objects.filter(changed_at=C + DAY).select_related("customer")
    assert {(c.customer.external_id, c.to_stage) for c in later} == {
        ("ben", "dormant"), ("dan", "dormant"), ("finn", "churned")}


@pytest.mark.postgres
def test_a_role_that_may_not_create_tables_recomputes_in_a_temporary_table(population,
                                                                          monkeypatch):
    """The computed rows go to an unlogged table only where the role may create one."""
    _split_always(monkeypatch, parts=3)
    role = f"metrics_no_create_{connection.settings_dict['NAME']}"[:63]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                       f"TO {role}")
        cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cursor.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute("SELECT has_schema_privilege(current_schema(), 'CREATE')")
        assert cursor.fetchone() == (False,)

        metrics_recompute_all(cutoff=C)
        metrics_recompute_all(cutoff=C + DAY)

        cursor.execute("RESET ROLE")
    assert {k: (m.r_score, m.f_score, m.m_score, m.rfm_class) for k, m in _metrics().items()} \
        == SCORES


def test_lifecycle_stages_follow_the_boundaries(population):
    metrics_recompute_all(cutoff=C)

    assert {k: m.lifecycle_stage for k, m in _metrics().items()} == STAGES


def test_first_run_logs_every_customer_first_classification(population):
    metrics_recompute_all(cutoff=C)

    changes = {c.customer.external_id: (c.from_stage, c.to_stage, c.changed_at)
               for c in LifecycleChange.objects.select_related("customer")}
    assert changes == {key: (None, stage, C) for key, stage in STAGES.items()}


def test_rerun_at_same_cutoff_writes_and_logs_nothing(population):
    first = metrics_recompute_all(cutoff=C)
    before = list(CustomerMetrics.objects.order_by("pk").values())

    second = metrics_recompute_all(cutoff=C)

    assert (second.rows_written, second.stage_changes) == (0, 0)
    assert LifecycleChange.objects.count() == first.stage_changes
    assert list(CustomerMetrics.objects.order_by("pk").values()) == before


def test_a_day_later_stage_changes_are_logged(population):
    metrics_recompute_all(cutoff=C)

    metrics_recompute_all(cutoff=C + DAY)

    # ben: 90 d 23 h is no longer new; dan: 60 d no longer active; finn: 180 d, never seen.
    later = LifecycleChange.objects.filter(changed_at=C + DAY).select_related("customer")
    assert {(c.customer.external_id, c.from_stage, c.to_stage) for c in later} == {
        ("ben", "new", "dormant"), ("dan", "active", "dormant"), ("finn", "dormant", "churned"),
    }


def test_only_changed_rows_are_rewritten_with_the_new_cutoff(population):
    metrics_recompute_all(cutoff=C)
    an_hour_later = C + dt.timedelta(hours=1)

    metrics_recompute_all(cutoff=an_hour_later)

    # ben's last order is now exactly 90 days old (his stage moves); anna's is 10 d 1 h.
    computed = {k: m.computed_at for k, m in _metrics().items()}
    assert computed["ben"] == an_hour_later
    assert computed["anna"] == C


def test_a_day_later_only_rows_whose_values_moved_are_rewritten(population):
    metrics_recompute_all(cutoff=C)

    run = metrics_recompute_all(cutoff=C + DAY)

    # Every buyer's recency grows by a day, and so do the quintile thresholds: no score,
    # class or window aggregate moves. Only the stages of ben, dan and finn do.
    assert run.rows_written == 3
    assert {k for k, m in _metrics().items() if m.computed_at == C + DAY} == {
        "ben", "dan", "finn"}


def test_recency_days_counts_whole_days_since_the_last_paid_order_until_now():
    now = timezone.now()
    metrics = CustomerMetrics(last_order_at=now - 5 * DAY - dt.timedelta(hours=1))

    assert metrics.recency_days == 5
    assert metrics.recency_days_at(now - dt.timedelta(hours=2)) == 4
    assert CustomerMetrics(last_order_at=None).recency_days is None


def test_fixed_thresholds_with_mean_rule(population):
    _use_settings(scoring=MetricsSettings.Scoring.FIXED, fixed_thresholds=FIXED)

    run = metrics_recompute_all(cutoff=C)

    got = {k: (m.r_score, m.f_score, m.m_score) for k, m in _metrics().items()}
    assert got == FIXED_SCORES
    assert {k: m.rfm_class for k, m in _metrics().items()} == FIXED_MEAN_CLASSES
    assert run.thresholds == {"recency": [365, 100, 30, 7], "frequency": [1, 2, 3, 4],
                              "monetary": [10, 50, 100, 180]}
    assert run.high_marks == pytest.approx({"recency": 2.8, "frequency": 2.2, "monetary": 2.6})


def test_fixed_thresholds_with_median_rule(population):
    _use_settings(scoring=MetricsSettings.Scoring.FIXED, fixed_thresholds=FIXED,
                  high_rule=MetricsSettings.HighRule.MEDIAN)

    run = metrics_recompute_all(cutoff=C)

    assert {k: m.rfm_class for k, m in _metrics().items()} == FIXED_MEDIAN_CLASSES
    assert run.high_marks == {"recency": 3.0, "frequency": 2.0, "monetary": 2.0}


@pytest.mark.parametrize(("fixed", "message"), [
    ({}, "fixed_thresholds is empty"),
    ({"recency": [7, 30, 100, 365], "frequency": [1, 2, 3, 4]}, "needs exactly the keys"),
    ({**FIXED, "frequency": [1, 2, 3]}, "fixed_thresholds.frequency must be a list of 4"),
    ({**FIXED, "monetary": [10, 5, 100, 180]}, "fixed_thresholds.monetary must be in ascending"),
    ({**FIXED, "recency": [7, "soon", 100, 365]}, r"fixed_thresholds.recency\[1\] must be a"),
])
def test_bad_fixed_thresholds_fail_clearly_and_write_nothing(population, fixed, message):
    _use_settings(scoring=MetricsSettings.Scoring.FIXED, fixed_thresholds=fixed)

    with pytest.raises(MetricsSettingsError, match=message):
        metrics_recompute_all(cutoff=C)

    assert not CustomerMetrics.objects.exists()
    assert not MetricsRun.objects.exists()


def test_refresh_scores_a_new_buyer_against_the_latest_run(population):
    metrics_recompute_all(cutoff=C)
    kai = population["kai"]
    OrderFactory(customer=kai, storefront=population["anna"].orders.first().storefront,
                 placed_at=C - dt.timedelta(hours=1), amount=Decimal("30.00"))

    written = metrics_refresh_customers(customer_ids=[kai.pk], cutoff=C)

    # recency 0 <= 10 -> R 5; frequency 1 < 2 -> F 1; monetary 30 >= 25.00 but < 60 -> M 3.
    # Marks 3.0 / 1.9 / 3.0: R high, F low, M low -> general development.
    kai_metrics = CustomerMetrics.objects.get(customer=kai)
    assert written == 1
    assert (kai_metrics.order_count, kai_metrics.last_order_at, kai_metrics.monetary) == (
        1, C - dt.timedelta(hours=1), Decimal("30.00"))
    assert (kai_metrics.r_score, kai_metrics.f_score, kai_metrics.m_score) == (5, 1, 3)
    assert kai_metrics.rfm_class == "general_development"
    assert kai_metrics.lifecycle_stage == "new"
    assert LifecycleChange.objects.filter(customer=kai).latest("pk").from_stage == "prospect"


def test_refresh_leaves_other_customers_alone(population):
    metrics_recompute_all(cutoff=C)

    written = metrics_refresh_customers(customer_ids=[population["gus"].pk], cutoff=C + DAY)

    # gus: 181 days is past the 180-day R threshold of the run: R 2 -> 1.
    assert written == 1
    assert (_metrics()["gus"].r_score, _metrics()["gus"].computed_at) == (1, C + DAY)
    assert {k: m.computed_at for k, m in _metrics().items() if k != "gus"} == {
        k: C for k in ORDERS if k != "gus"}


def test_refresh_without_a_run_recomputes_everyone(population):
    written = metrics_refresh_customers(customer_ids=[population["anna"].pk], cutoff=C)

    assert written == 12
    assert MetricsRun.objects.count() == 1
    assert {k: m.lifecycle_stage for k, m in _metrics().items()} == STAGES


def test_refresh_of_no_customers_does_nothing(population):
    assert metrics_refresh_customers(customer_ids=[], cutoff=C) == 0
    assert not MetricsRun.objects.exists()


def test_empty_database_records_an_empty_run(db):
    run = metrics_recompute_all(cutoff=C)

    assert (run.customers, run.buyers, run.rows_written) == (0, 0, 0)
    assert run.thresholds == {"recency": [None] * 4, "frequency": [None] * 4,
                              "monetary": [None] * 4}


def test_naive_cutoff_is_refused(db):
    with pytest.raises(ValueError, match="timezone-aware"):
        metrics_recompute_all(cutoff=dt.datetime(2025, 6, 30))


def test_command_recomputes_everyone_and_reports_it(population):
    out = StringIO()

    call_command("recompute_metrics", stdout=out)

    assert CustomerMetrics.objects.count() == 12
    assert "aggregated orders per customer" in out.getvalue()
    assert ("12 customers, 10 with a paid order, 12 metrics rows changed, "
            "12 lifecycle stage changes") in out.getvalue()


def test_command_refreshes_only_the_named_customers(population):
    metrics_recompute_all(cutoff=C)
    OrderFactory(customer=population["kai"], storefront=population["anna"].orders.first()
                 .storefront, amount=Decimal("5.00"))
    out = StringIO()

    call_command("recompute_metrics", "--customer", "kai", stdout=out)

    assert "Done: 1 metrics row(s) changed." in out.getvalue()
    assert _metrics()["kai"].order_count == 1
    assert _metrics()["anna"].computed_at == C


def test_command_names_unknown_customers(population):
    with pytest.raises(CommandError, match="Unknown customer external id\\(s\\): nobody"):
        call_command("recompute_metrics", "--customer", "kai", "--customer", "nobody")


def test_command_reports_bad_settings(population):
    _use_settings(scoring=MetricsSettings.Scoring.FIXED, fixed_thresholds={})

    with pytest.raises(CommandError, match="fixed_thresholds is empty"):
        call_command("recompute_metrics")


def _metrics_lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND objid = %s AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())", [METRICS_LOCK_KEY])
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_full_recompute_waits_while_another_holds_the_metrics_lock(transactional_db):
    CustomerFactory()
    db = connection.settings_dict
    runs = []

    def recompute() -> None:
        try:
            runs.append(metrics_recompute_all(cutoff=C).pk)
        finally:
            connections.close_all()

    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"],
                         port=db["PORT"] or 5432) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [METRICS_LOCK_KEY])
        worker = threading.Thread(target=recompute)
        worker.start()
        wait_for(lambda: _metrics_lock_waiters() == 1, timeout=10)
        assert not MetricsRun.objects.exists()
        holder.commit()
    worker.join(timeout=30)

    assert MetricsRun.objects.filter(pk__in=runs).count() == 1


BULK_TABLES = (CustomerMetrics._meta.db_table, LifecycleChange._meta.db_table)


def _set_aside_recorder(monkeypatch) -> list[str]:
    """Every population is large enough to set aside; returns the tables set aside."""
    monkeypatch.setattr(metrics_module, "SET_ASIDE_MIN_CUSTOMERS", 0)
    set_aside = []
    original = metrics_module.set_aside

    def recording(cursor, table):
        aside = original(cursor, table)
        if aside:
            set_aside.append(table)
        return aside

    monkeypatch.setattr(metrics_module, "set_aside", recording)
    return set_aside


@pytest.mark.postgres
def test_a_large_first_run_builds_indexes_and_keys_after_the_rows(population, monkeypatch):
    before = [table_schema(table) for table in BULK_TABLES]
    set_aside = _set_aside_recorder(monkeypatch)

    run = metrics_recompute_all(cutoff=C)

    assert set_aside == list(BULK_TABLES)
    assert [table_schema(table) for table in BULK_TABLES] == before
    assert (run.rows_written, run.stage_changes) == (12, 12)
    assert {k: m.lifecycle_stage for k, m in _metrics().items()} == STAGES
    assert {k: (m.r_score, m.f_score, m.m_score, m.rfm_class)
            for k, m in _metrics().items()} == SCORES


@pytest.mark.postgres
def test_a_first_run_keeps_the_indexes_of_a_change_log_longer_than_it_adds(
    population, monkeypatch
):
    metrics_recompute_all(cutoff=C)
    CustomerMetrics.objects.all().delete()  # the log keeps 12 rows; 12 more are coming
    LifecycleChange.objects.bulk_create(
        LifecycleChange(customer=c.customer, from_stage=None, to_stage="new", changed_at=C)
        for c in LifecycleChange.objects.select_related("customer")[:1])
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # what the commit would check
    set_aside = _set_aside_recorder(monkeypatch)

    metrics_recompute_all(cutoff=C)

    assert set_aside == [CustomerMetrics._meta.db_table]
    assert LifecycleChange.objects.count() == 13 + 12


@pytest.mark.postgres
def test_a_first_run_writes_through_the_indexes_when_a_reader_holds_the_table(
    transactional_db, monkeypatch
):
    CustomerFactory.create_batch(3)
    set_aside = _set_aside_recorder(monkeypatch)
    monkeypatch.setattr(bulk, "LOCK_TIMEOUT", "100ms")
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"],
                         port=db["PORT"] or 5432) as reader:
        reader.execute(f"SELECT count(*) FROM {CustomerMetrics._meta.db_table}")

        run = metrics_recompute_all(cutoff=C)

    assert set_aside == [LifecycleChange._meta.db_table]
    assert run.rows_written == 3
    assert CustomerMetrics.objects.count() == 3


def _vacuums_of(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = %s",
                       [table])
        return cursor.fetchone()[0]


@pytest.fixture
def eager_celery():
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.postgres
def test_the_nightly_task_vacuums_the_metrics_before_the_segments_evaluate(transactional_db,
                                                                            eager_celery):
    CustomerFactory.create_batch(3)
    table = CustomerMetrics._meta.db_table
    before = _vacuums_of(table)

    metrics_recompute_task()

    assert _vacuums_of(table) == before + 1
    assert CustomerMetrics.objects.count() == 3


def test_no_vacuum_inside_a_transaction(population):
    metrics_recompute_all(cutoff=C)

    assert metrics_vacuum() is False  # the test's transaction: VACUUM cannot run in it
