"""customers.models.month_day: the MMDD number that anniversary rules compare and index."""

import datetime as dt

import pytest
from django.db.models import Q
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual

from customers.models import Customer, CustomerMetrics, UtcDate, month_day

from .factories import CustomerFactory
from .schema import plan_without_sequential_scans

BIRTHDAYS = {"leap": dt.date(2024, 2, 29), "new-year": dt.date(1990, 1, 1),
             "eve": dt.date(2000, 12, 31), "none": None}


@pytest.fixture
def born(db):
    return {key: CustomerFactory(external_id=key, birthday=day) for key, day in BIRTHDAYS.items()}


@pytest.mark.parametrize(("value", "expected"), [(229, ["leap"]), (101, ["new-year"]),
                                                 (1231, ["eve"]), (228, [])])
def test_month_day_is_the_month_times_100_plus_the_day(born, value, expected):
    matched = Customer.objects.filter(Exact(month_day("birthday"), value))
    assert sorted(matched.values_list("external_id", flat=True)) == expected


def test_month_day_of_a_datetime_takes_its_utc_date(born):
    computed = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    CustomerMetrics.objects.create(customer=born["leap"], computed_at=computed,
                                   first_order_at=dt.datetime(2025, 3, 1, 1, 30, tzinfo=dt.UTC))
    CustomerMetrics.objects.create(  # 1 March in Shanghai, still 28 February in UTC
        customer=born["eve"], computed_at=computed,
        first_order_at=dt.datetime(2025, 2, 28, 17, tzinfo=dt.UTC))
    matched = CustomerMetrics.objects.filter(Exact(month_day(UtcDate("first_order_at")), 301))
    assert list(matched.values_list("customer__external_id", flat=True)) == ["leap"]


def _within(expression, low: int, high: int) -> Q:
    return Q(GreaterThanOrEqual(expression, low)) & Q(LessThanOrEqual(expression, high))


@pytest.mark.postgres
def test_the_month_day_ranges_read_their_indexes(born):
    birthdays = Customer.objects.filter(_within(month_day("birthday"), 228, 301))
    assert "customer_birthday_month_day" in plan_without_sequential_scans(birthdays.values("pk"))
    assert list(birthdays.values_list("external_id", flat=True)) == ["leap"]
    first_orders = CustomerMetrics.objects.filter(
        _within(month_day(UtcDate("first_order_at")), 1201, 1231))
    plan = plan_without_sequential_scans(first_orders.values("pk"))
    assert "metrics_first_order_month_day" in plan
