"""Population figures (customers/selectors.py) on a population small enough to check by eye,
plus a property test against a plain-Python reference.

The population, period = March 2024 (UTC), [2024-03-01, 2024-04-01):

| customer | channel | city   | birthday   | band  | in March                                     |
|----------|---------|--------|------------|-------|----------------------------------------------|
| alice    | ads     | Berlin | 1990-05-10 | 25-34 | paid 100 (web, 5th), paid 50 refunded 20     |
|          |         |        |            |       | (web, 20th), visit (5th)                     |
| bob      | ads     | Paris  | 2006-04-01 | 18-24 | paid 80 (pos, 10th), refunded 60 (web, 11th) |
| carol    | ""      | Berlin | -          | ""    | visit (15th); paid 200 in February (20th)    |
| dave     | social  | ""     | 1960-01-01 | 55+   | cancelled 40; paid 30 at 04-01 00:00 (out);  |
|          |         |        |            |       | login 02-29 23:59:59 (out)                   |
| erin     | social  | Paris  | 1980-06-15 | 35-44 | cart_add (26th); pending 25                  |

March: revenue 100 + (50 - 20) + 80 = 210.00 from 3 paid orders; GMV 100 + 50 + 80 + 60 = 290.00;
active alice, bob, carol, erin = 4; paying alice, bob = 2; alice repeats.
Bob turns 18 on 2024-04-01, the period's end, so he is 18-24.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import (
    Customer,
    CustomerMetrics,
    Event,
    MetricsSettings,
    Order,
    OrderStatus,
    RfmClass,
)
from customers.selectors import (
    Period,
    arpu_by,
    arpu_trend,
    count_up_to,
    customer_search,
    customer_timeline,
    lifecycle_distribution,
    period_last_days,
    rfm_distribution,
    value_summary,
)
from tests.customers.factories import (
    CustomerFactory,
    EventFactory,
    OrderFactory,
    StorefrontFactory,
)
from tests.customers.schema import plan_without_sequential_scans

UTC = dt.UTC
MARCH = Period(dt.datetime(2024, 3, 1, tzinfo=UTC), dt.datetime(2024, 4, 1, tzinfo=UTC))


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, minute, second, tzinfo=UTC)


def money(value: str) -> Decimal:
    return Decimal(value)


def set_activity_events(names: list[str]) -> None:
    MetricsSettings.objects.update_or_create(pk=1, defaults={"activity_events": names})


@pytest.fixture
def population(db):
    web, pos = StorefrontFactory(name="web"), StorefrontFactory(name="pos")
    alice = CustomerFactory(external_id="alice", acquisition_channel="ads", city="Berlin",
                            birthday=dt.date(1990, 5, 10))
    bob = CustomerFactory(external_id="bob", acquisition_channel="ads", city="Paris",
                          birthday=dt.date(2006, 4, 1))
    carol = CustomerFactory(external_id="carol", acquisition_channel="", city="Berlin")
    dave = CustomerFactory(external_id="dave", acquisition_channel="social", city="",
                           birthday=dt.date(1960, 1, 1))
    erin = CustomerFactory(external_id="erin", acquisition_channel="social", city="Paris",
                           birthday=dt.date(1980, 6, 15))

    def order(customer, amount, when, storefront=web, **fields):
        return OrderFactory(customer=customer, storefront=storefront, amount=money(amount),
                            placed_at=when, **fields)

    order(alice, "100.00", at(3, 5))
    order(alice, "50.00", at(3, 20), refunded_amount=money("20.00"))
    order(bob, "80.00", at(3, 10), storefront=pos)
    order(bob, "60.00", at(3, 11), status=OrderStatus.REFUNDED, refunded_amount=money("60.00"))
    order(carol, "200.00", at(2, 20))
    order(dave, "40.00", at(3, 8), status=OrderStatus.CANCELLED)
    order(dave, "30.00", at(4, 1, 0))
    order(erin, "25.00", at(3, 9), status=OrderStatus.PENDING)
    EventFactory(customer=alice, storefront=web, name="visit", occurred_at=at(3, 5, 14))
    EventFactory(customer=carol, storefront=web, name="visit", occurred_at=at(3, 15))
    EventFactory(customer=dave, storefront=web, name="login", occurred_at=at(2, 29, 23, 59, 59))
    EventFactory(customer=erin, storefront=web, name="cart_add", occurred_at=at(3, 26))
    set_activity_events([])
    return {c.external_id: c for c in (alice, bob, carol, dave, erin)}


# --- period_last_days ----------------------------------------------------------------------


def test_period_last_days_ends_at_now_and_spans_the_days():
    now = at(3, 31, 18)
    assert period_last_days(30, now=now) == Period(at(3, 1, 18), now)


def test_period_last_days_rejects_a_non_positive_length():
    with pytest.raises(ValueError, match="days"):
        period_last_days(0)


# --- value_summary -------------------------------------------------------------------------


def test_revenue_is_net_of_partial_refunds_and_excludes_refunded_orders(population):
    summary = value_summary(period=MARCH)
    assert summary["revenue"] == money("210.00")
    assert summary["orders"] == 3


def test_gmv_is_gross_amount_of_paid_and_refunded_orders(population):
    assert value_summary(period=MARCH)["gmv"] == money("290.00")


def test_customer_with_only_an_activity_event_counts_as_active(population):
    summary = value_summary(period=MARCH)
    assert summary["active_customers"] == 4  # alice, bob (paid), carol, erin (events)
    assert summary["paying_customers"] == 2


def test_arpu_divides_by_active_and_arppu_by_paying_customers(population):
    summary = value_summary(period=MARCH)
    assert summary["arpu"] == money("52.50")  # 210 / 4
    assert summary["arppu"] == money("105.00")  # 210 / 2


def test_aov_divides_revenue_by_paid_orders(population):
    assert value_summary(period=MARCH)["aov"] == money("70.00")  # 210 / 3


def test_repurchase_rate_is_repeat_buyers_over_buyers(population):
    assert value_summary(period=MARCH)["repurchase_rate"] == Decimal("0.5000")


def test_customers_total_counts_everyone(population):
    assert value_summary(period=MARCH)["customers_total"] == 5


def test_only_configured_activity_events_make_a_customer_active(population):
    set_activity_events(["visit", "login"])
    summary = value_summary(period=MARCH)
    assert summary["active_customers"] == 3  # erin's cart_add no longer counts
    assert summary["arpu"] == money("70.00")


def test_empty_period_has_zero_totals_and_no_ratios(population):
    empty = Period(dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2020, 2, 1, tzinfo=UTC))
    assert value_summary(period=empty) == {
        "revenue": money("0.00"), "orders": 0, "gmv": money("0.00"), "active_customers": 0,
        "paying_customers": 0, "arpu": None, "arppu": None, "aov": None,
        "repurchase_rate": None, "customers_total": 5,
    }


def test_ratios_round_half_up_to_cents(db):
    customers = CustomerFactory.create_batch(3)
    OrderFactory(customer=customers[0], amount=money("0.05"), placed_at=at(3, 2))
    for customer in customers[1:]:
        EventFactory(customer=customer, occurred_at=at(3, 2))
    assert value_summary(period=MARCH)["arpu"] == money("0.02")  # 0.0166.. -> 0.02


# --- arpu_by -------------------------------------------------------------------------------


def rows_by_key(rows: list[dict]) -> list[tuple]:
    return [(r["key"], r["revenue"], r["active_customers"], r["paying_customers"], r["arpu"],
             r["arppu"]) for r in rows]


def test_arpu_by_channel_groups_active_customers_with_blank_channel_as_empty_key(population):
    assert rows_by_key(arpu_by(period=MARCH, dimension="acquisition_channel")) == [
        ("ads", money("210.00"), 2, 2, money("105.00"), money("105.00")),
        ("", money("0.00"), 1, 0, money("0.00"), None),  # carol
        ("social", money("0.00"), 1, 0, money("0.00"), None),  # erin; dave was not active
    ]


def test_arpu_by_city_sorts_by_revenue(population):
    assert rows_by_key(arpu_by(period=MARCH, dimension="city")) == [
        ("Berlin", money("130.00"), 2, 1, money("65.00"), money("130.00")),
        ("Paris", money("80.00"), 2, 1, money("40.00"), money("80.00")),
    ]


def test_arpu_by_age_band_uses_age_at_period_end(population):
    assert rows_by_key(arpu_by(period=MARCH, dimension="age_band")) == [
        ("25-34", money("130.00"), 1, 1, money("130.00"), money("130.00")),
        ("18-24", money("80.00"), 1, 1, money("80.00"), money("80.00")),  # 18 on 04-01
        ("", money("0.00"), 1, 0, money("0.00"), None),
        ("35-44", money("0.00"), 1, 0, money("0.00"), None),
    ]


def test_age_band_on_29_february_counts_28_february_birthdays_as_had(db):
    adult = CustomerFactory(birthday=dt.date(2006, 2, 28))
    minor = CustomerFactory(birthday=dt.date(2006, 3, 1))
    for customer in (adult, minor):
        EventFactory(customer=customer, occurred_at=at(2, 10))
    period = Period(at(2, 1, 0), at(2, 29, 12))
    keys = {row["key"]: row["active_customers"] for row in arpu_by(period=period,
                                                                    dimension="age_band")}
    assert keys == {"18-24": 1, "<18": 1}


def test_arpu_by_storefront_counts_only_that_storefronts_payers(population):
    assert rows_by_key(arpu_by(period=MARCH, dimension="storefront")) == [
        ("web", money("130.00"), 1, 1, money("130.00"), money("130.00")),
        ("pos", money("80.00"), 1, 1, money("80.00"), money("80.00")),
    ]


def test_arpu_by_rejects_an_unknown_dimension(db):
    with pytest.raises(ValueError, match="gender"):
        arpu_by(period=MARCH, dimension="gender")


# --- arpu_trend ----------------------------------------------------------------------------


def trend_rows(rows: list[dict]) -> list[tuple]:
    return [(r["bucket_start"], r["revenue"], r["active_customers"], r["paying_customers"],
             r["arpu"], r["arppu"]) for r in rows]


def test_monthly_trend_has_one_row_per_month(population):
    period = Period(at(2, 1, 0), at(4, 1, 0))
    assert trend_rows(arpu_trend(period=period, bucket="month")) == [
        # carol paid 200, dave logged in at 23:59:59 on the 29th
        (dt.date(2024, 2, 1), money("200.00"), 2, 1, money("100.00"), money("200.00")),
        (dt.date(2024, 3, 1), money("210.00"), 4, 2, money("52.50"), money("105.00")),
    ]


def test_weekly_trend_starts_on_monday_and_fills_empty_weeks(population):
    assert trend_rows(arpu_trend(period=MARCH, bucket="week")) == [
        (dt.date(2024, 2, 26), money("0.00"), 0, 0, None, None),
        (dt.date(2024, 3, 4), money("180.00"), 2, 2, money("90.00"), money("90.00")),
        (dt.date(2024, 3, 11), money("0.00"), 1, 0, money("0.00"), None),  # bob's refund
        (dt.date(2024, 3, 18), money("30.00"), 1, 1, money("30.00"), money("30.00")),
        (dt.date(2024, 3, 25), money("0.00"), 1, 0, money("0.00"), None),
    ]


def test_daily_trend_counts_a_customer_with_order_and_event_once(population):
    period = Period(at(3, 4, 0), at(3, 6, 0))
    assert trend_rows(arpu_trend(period=period, bucket="day")) == [
        (dt.date(2024, 3, 4), money("0.00"), 0, 0, None, None),
        (dt.date(2024, 3, 5), money("100.00"), 1, 1, money("100.00"), money("100.00")),
    ]


def test_trend_buckets_follow_the_current_time_zone(db, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    OrderFactory(amount=money("10.00"), placed_at=at(2, 29, 20))  # 1 March, 04:00 in Shanghai
    shanghai = timezone.get_current_timezone()
    period = Period(dt.datetime(2024, 2, 1, tzinfo=shanghai),
                    dt.datetime(2024, 4, 1, tzinfo=shanghai))
    rows = arpu_trend(period=period, bucket="month")
    assert [(r["bucket_start"], r["revenue"]) for r in rows] == [
        (dt.date(2024, 2, 1), money("0.00")),
        (dt.date(2024, 3, 1), money("10.00")),
    ]


def test_trend_rejects_an_unknown_bucket(db):
    with pytest.raises(ValueError, match="year"):
        arpu_trend(period=MARCH, bucket="year")


# --- query counts do not grow with the population ------------------------------------------


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


@pytest.mark.parametrize("call", [
    lambda: value_summary(period=MARCH),
    lambda: arpu_by(period=MARCH, dimension="city"),
    lambda: arpu_by(period=MARCH, dimension="age_band"),
    lambda: arpu_trend(period=MARCH, bucket="day"),
], ids=["summary", "by_city", "by_age_band", "trend"])
def test_query_count_does_not_grow_with_customers(population, call):
    before = count_queries(call)
    for n in range(20):
        OrderFactory(customer=CustomerFactory(city=f"city-{n}"), placed_at=at(3, 1 + n))
        EventFactory(occurred_at=at(3, 1 + n))
    assert count_queries(call) == before <= 4


# --- distributions -------------------------------------------------------------------------


def metrics(stage: str, rfm_class: str | None = None, monetary: str = "0") -> CustomerMetrics:
    return CustomerMetrics.objects.create(
        customer=CustomerFactory(), lifecycle_stage=stage, rfm_class=rfm_class,
        monetary=money(monetary), computed_at=at(3, 1),
    )


def test_lifecycle_distribution_lists_every_stage_in_order(db):
    for stage in ("new", "new", "dormant", "prospect"):
        metrics(stage)
    assert [(r["stage"], r["count"], r["share"]) for r in lifecycle_distribution()] == [
        ("prospect", 1, 0.25), ("new", 2, 0.5), ("active", 0, 0.0), ("dormant", 1, 0.25),
        ("churned", 0, 0.0),
    ]
    assert lifecycle_distribution()[0]["label"] == "Prospect"


def test_rfm_distribution_lists_every_class_with_average_monetary(db):
    metrics("active", "important_value", "100.00")
    metrics("active", "important_value", "300.00")
    metrics("dormant", "general_winback", "10.50")
    metrics("prospect")
    rows = {r["rfm_class"]: r for r in rfm_distribution()}
    assert list(rows) == [rfm_class.value for rfm_class in RfmClass]
    assert (rows["important_value"]["count"], rows["important_value"]["share"],
            rows["important_value"]["avg_monetary"]) == (2, 0.6667, money("200.00"))
    assert (rows["general_winback"]["count"], rows["general_winback"]["share"],
            rows["general_winback"]["avg_monetary"]) == (1, 0.3333, money("10.50"))
    assert (rows["general_value"]["count"], rows["general_value"]["avg_monetary"]) == (0, None)


def test_distributions_are_all_zero_without_metrics(db):
    assert {r["count"] for r in lifecycle_distribution() + rfm_distribution()} == {0}
    assert {r["share"] for r in lifecycle_distribution() + rfm_distribution()} == {0.0}


# --- customer_timeline ---------------------------------------------------------------------


@pytest.fixture
def timeline_customer(db):
    shop = StorefrontFactory(name="web")
    customer = CustomerFactory()
    OrderFactory(customer=customer, storefront=shop, external_id="o-1", amount=money("50.00"),
                 refunded_amount=money("5.00"), coupon_code="SPRING",
                 items=[{"sku": "a"}, {"sku": "b"}], placed_at=at(3, 2))
    OrderFactory(customer=customer, storefront=shop, external_id="o-2", placed_at=at(3, 4),
                 status=OrderStatus.REFUNDED, refunded_amount=money("100.00"))
    EventFactory(customer=customer, storefront=shop, name="visit", occurred_at=at(3, 1),
                 properties={"page": "/home", "ref": "ads"})
    EventFactory(customer=customer, storefront=shop, name="cart_add", occurred_at=at(3, 4))
    OrderFactory()  # someone else's
    return customer


def test_timeline_merges_orders_and_events_newest_first(timeline_customer):
    entries = customer_timeline(customer=timeline_customer)
    assert [(e["kind"], e["at"]) for e in entries] == [
        ("order", at(3, 4)), ("event", at(3, 4)),  # same instant: the order first
        ("order", at(3, 2)), ("event", at(3, 1)),
    ]


def test_timeline_entries_describe_the_order_and_the_event(timeline_customer):
    entries = customer_timeline(customer=timeline_customer)
    assert entries[2] == {
        "kind": "order", "at": at(3, 2), "title": "Order o-1 · 50.00 USD",
        "detail": "web · coupon SPRING · refunded 5.00 USD · 2 items",
        "amount": money("50.00"), "status": "paid",
    }
    assert entries[0]["status"] == "refunded"
    assert entries[3] == {
        "kind": "event", "at": at(3, 1), "title": "visit", "detail": "web · page=/home, ref=ads",
        "amount": None, "status": None,
    }


def test_timeline_keeps_the_newest_entries_up_to_the_limit(timeline_customer):
    entries = customer_timeline(customer=timeline_customer, limit=3)
    assert [e["at"] for e in entries] == [at(3, 4), at(3, 4), at(3, 2)]


# --- customer_search -----------------------------------------------------------------------


@pytest.fixture
def searchable(db):
    jane = CustomerFactory(external_id="VIP-001", email="jane@shop.test", name="Jane Doe",
                           phone="+49 151 1234")
    CustomerFactory(external_id="x-VIP", email="max@else.test", name="Max Mustermann",
                    phone="+49 30 9999")
    return jane


@pytest.mark.parametrize("query", ["VIP-0", "JANE@SHOP", "jane d", "+49 151", "  jane  "])
def test_search_finds_by_id_email_name_or_phone_prefix(searchable, query):
    assert list(customer_search(query=query)) == [searchable]


@pytest.mark.parametrize("query", ["-001", "shop.test", "doe", "151 12"])
def test_search_matches_only_prefixes_which_its_indexes_serve(searchable, query):
    assert list(customer_search(query=query)) == []


@pytest.mark.postgres
def test_external_ids_compare_byte_by_byte_whatever_the_database_collation(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, collation_name FROM information_schema.columns "
                       "WHERE column_name = 'external_id' AND table_name = ANY(%s) ORDER BY 1",
                       [["customers_customer", "customers_order"]])
        assert cursor.fetchall() == [("customers_customer", "C"), ("customers_order", "C")]


@pytest.mark.postgres
def test_event_names_compare_byte_by_byte_whatever_the_database_collation(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT collation_name FROM information_schema.columns "
                       "WHERE table_name = 'customers_event' AND column_name = 'name'")
        assert cursor.fetchall() == [("C",)]


@pytest.mark.postgres
def test_events_by_storefront_read_the_client_id_index(db):
    """The client-id constraint's index, whole since migration 0017, serves lookups by
    storefront alone (a storefront's deletion check), events without a client id included."""
    event = EventFactory(event_id=None)
    by_storefront = Event.objects.filter(storefront_id=event.storefront_id).values("pk")
    assert "event_unique_client_id" in plan_without_sequential_scans(by_storefront)
    assert list(by_storefront) == [{"pk": event.pk}]


@pytest.mark.postgres
def test_an_external_id_prefix_search_reads_the_unique_index(searchable):
    """The external id's unique index is the search's index for it too (migration 0015)."""
    prefixed = Customer.objects.filter(external_id__startswith="VIP-0").values("pk")
    assert "customer_unique_external_id" in plan_without_sequential_scans(prefixed)
    assert list(prefixed) == [{"pk": searchable.pk}]


def test_search_filters_by_rfm_class_and_stage(searchable):
    CustomerMetrics.objects.create(customer=searchable, lifecycle_stage="active",
                                   rfm_class="important_value", computed_at=at(3, 1))
    assert list(customer_search(query="", rfm_class="important_value")) == [searchable]
    assert list(customer_search(query="", stage="active")) == [searchable]
    assert list(customer_search(query="", stage="dormant")) == []


def test_count_up_to_stops_at_the_cap(searchable):
    CustomerFactory.create_batch(3)
    assert count_up_to(Customer.objects.all(), 2) == 3  # "more than 2"
    assert count_up_to(Customer.objects.all(), 10) == 5


def test_empty_search_lists_newest_customers_up_to_the_limit(searchable):
    newest = CustomerFactory()
    assert list(customer_search(query="", limit=2)) == [newest, Customer.objects.get(
        external_id="x-VIP")]


def test_search_without_limit_returns_every_match(searchable):
    CustomerFactory.create_batch(3, name="Jane Roe")
    assert customer_search(query="jane", limit=None).count() == 4


def test_search_loads_metrics_in_the_same_query(searchable, django_assert_num_queries):
    CustomerMetrics.objects.create(customer=searchable, lifecycle_stage="new",
                                   computed_at=at(3, 1))
    with django_assert_num_queries(1):
        [found] = customer_search(query="jane")
        assert found.metrics.lifecycle_stage == "new"


# --- property: the SQL path agrees with a plain-Python reference ---------------------------

PROPERTY_PERIOD = Period(at(3, 1, 0), at(3, 11, 0))
EVENT_NAMES = ["visit", "login", "cart_add"]
# Hour 0 is the first hour in, hour 240 the first out; the edges are drawn often on purpose.
HOURS = st.one_of(st.sampled_from([-1, 0, 239, 240]), st.integers(min_value=-48, max_value=288))


def hours_after_start(hours: int) -> dt.datetime:
    return PROPERTY_PERIOD.start + dt.timedelta(hours=hours)


orders_strategy = st.lists(st.tuples(
    st.integers(0, 3),  # customer
    st.sampled_from(list(OrderStatus)),
    st.integers(0, 50_000),  # amount in cents
    st.integers(0, 100),  # refunded percent of the amount, for paid orders
    HOURS,
), max_size=12)
events_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(EVENT_NAMES), HOURS), max_size=8)


def reference_summary(orders, events, activity_events) -> dict:
    def in_period(when):
        return PROPERTY_PERIOD.start <= when < PROPERTY_PERIOD.end

    paid = [o for o in orders if o.status == OrderStatus.PAID and in_period(o.placed_at)]
    revenue = sum((o.amount - o.refunded_amount for o in paid), Decimal("0.00"))
    per_customer = {o.customer_id: sum(p.customer_id == o.customer_id for p in paid)
                    for o in paid}
    active = set(per_customer) | {
        e.customer_id for e in events
        if in_period(e.occurred_at) and (not activity_events or e.name in activity_events)}

    def ratio(n, d, places="0.01"):
        return (Decimal(n) / d).quantize(Decimal(places), rounding="ROUND_HALF_UP") if d else None

    gross = [o for o in orders if o.status in (OrderStatus.PAID, OrderStatus.REFUNDED)
             and in_period(o.placed_at)]
    return {
        "revenue": revenue, "orders": len(paid), "active_customers": len(active),
        "paying_customers": len(per_customer), "arpu": ratio(revenue, len(active)),
        "arppu": ratio(revenue, len(per_customer)), "aov": ratio(revenue, len(paid)),
        "repurchase_rate": ratio(sum(n >= 2 for n in per_customer.values()),
                                 len(per_customer), "0.0001"),
        "gmv": sum((o.amount for o in gross), Decimal("0.00")),
        "customers_total": 4,
    }


def build(order_specs, event_specs, storefront) -> tuple[list[Order], list[Event]]:
    customers = [CustomerFactory() for _ in range(4)]
    orders = Order.objects.bulk_create(
        Order(external_id=f"p{i}", customer=customers[c], storefront=storefront,
              amount=Decimal(cents) / 100, currency="USD", status=status,
              refunded_amount=(Decimal(cents * pct // 100) / 100
                               if status == OrderStatus.PAID else Decimal(0)),
              placed_at=hours_after_start(hours))
        for i, (c, status, cents, pct, hours) in enumerate(order_specs))
    events = Event.objects.bulk_create(
        Event(customer=customers[c], storefront=storefront, name=name,
              occurred_at=hours_after_start(hours))
        for c, name, hours in event_specs)
    return orders, events


@pytest.fixture
def property_storefront(db):
    return StorefrontFactory(name="property")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order_specs=orders_strategy, event_specs=events_strategy,
       activity_events=st.lists(st.sampled_from(EVENT_NAMES), unique=True, max_size=2))
def test_value_summary_agrees_with_python_reference(property_storefront, order_specs,
                                                     event_specs, activity_events):
    with transaction.atomic():
        set_activity_events(activity_events)
        orders, events = build(order_specs, event_specs, property_storefront)
        assert value_summary(period=PROPERTY_PERIOD) == reference_summary(
            orders, events, activity_events)
        transaction.set_rollback(True)
