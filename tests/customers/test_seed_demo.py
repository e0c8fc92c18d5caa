import datetime as dt
import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max, Q, Sum

from customers.models import Customer, Event, Order, Storefront
from customers.services.demo import demo_delete
from tests.customers.factories import CustomerFactory

ANCHOR = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)
N = 1200


def seed(*args: str, customers: int = N, seed: int = 7) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--customers", str(customers), "--seed", str(seed),
                 "--anchor", ANCHOR.date().isoformat(), *args, stdout=out)
    return out.getvalue()


def rows() -> list[tuple]:
    """Everything seeded, without database ids and insertion times."""
    return [
        *Customer.objects.order_by("external_id").values_list(
            "external_id", "email", "phone", "name", "gender", "birthday", "city", "signup_at",
            "acquisition_channel", "time_zone", "email_consent", "email_consent_at",
            "sms_consent", "attributes", "tags", "activity__last_seen_at"),
        *Order.objects.order_by("external_id").values_list(
            "external_id", "customer__external_id", "storefront__name", "amount",
            "refunded_amount", "currency", "status", "placed_at", "coupon_code", "items"),
        *Event.objects.order_by("event_id").values_list(
            "event_id", "customer__external_id", "storefront__name", "name", "occurred_at",
            "properties"),
    ]


@pytest.fixture
def shop(db):
    seed()


def test_same_seed_and_anchor_give_identical_rows(db):
    seed()
    first = rows()
    demo_delete()

    seed()

    assert rows() == first


def test_different_seed_gives_different_rows(db):
    seed(seed=7)
    first = rows()
    demo_delete()

    seed(seed=8)

    assert rows() != first


def test_reports_what_it_created(db):
    output = seed()

    assert f"Seeded {N:,} customers" in output
    assert Customer.objects.count() == N
    assert Storefront.objects.count() == 3


def test_prospects_one_time_and_heavy_repeat_buyers(shop):
    orders = Counter(Order.objects.values_list("customer_id", flat=True))
    prospects = N - len(orders)
    one_timers = sum(1 for n in orders.values() if n == 1)
    assert 0.2 * N <= prospects <= 0.3 * N
    assert one_timers > len(orders) / 2  # Pareto: most buyers buy once
    assert max(orders.values()) >= 10


def test_spend_is_concentrated_in_few_customers(shop):
    spend = sorted(Order.objects.values("customer_id").annotate(total=Sum("amount"))
                   .values_list("total", flat=True), reverse=True)
    top_fifth = spend[:len(spend) // 5]
    assert sum(top_fifth) > sum(spend) / 2  # the top 20% of buyers bring most revenue


def test_buyers_are_active_dormant_and_churned_on_the_anchor_day(shop):
    last = Order.objects.values("customer_id").annotate(last=Max("placed_at"))
    days = [(ANCHOR - row["last"]).days for row in last]
    assert any(d < 60 for d in days)
    assert any(60 <= d < 180 for d in days)
    assert any(d >= 180 for d in days)


def test_orders_have_every_status_partial_refunds_coupons_and_items(shop):
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses == {"paid", "refunded", "cancelled", "pending"}
    assert Order.objects.filter(status="paid", refunded_amount__gt=0).exists()
    assert Order.objects.exclude(coupon_code="").exists()
    assert not Order.objects.filter(items=[]).exists()
    item = Order.objects.first().items[0]
    assert set(item) == {"sku", "name", "quantity", "price", "category"}


def test_birthdays_spread_over_the_year_including_29_february(shop):
    birthdays = list(Customer.objects.exclude(birthday=None).values_list("birthday", flat=True))
    assert {b.month for b in birthdays} == set(range(1, 13))
    leap_days = [b for b in birthdays if (b.month, b.day) == (2, 29)]
    assert leap_days
    assert all(b.year % 4 == 0 for b in leap_days)


def test_profiles_vary_in_channel_city_and_consent(shop):
    assert Customer.objects.values("acquisition_channel").distinct().count() >= 3
    assert set(Customer.objects.filter(city="Shanghai").values_list("time_zone", flat=True)) \
        == {"Asia/Shanghai"}
    assert set(Customer.objects.filter(city="New York").values_list("time_zone", flat=True)) \
        == {"America/New_York"}
    assert Customer.objects.filter(email_consent=True).exists()
    assert Customer.objects.filter(email_consent=False).exists()
    assert {"female", "male"} <= set(Customer.objects.values_list("gender", flat=True))


def test_events_of_every_kind_and_last_seen_is_the_latest_event(shop):
    names = set(Event.objects.values_list("name", flat=True))
    assert names == {"visit", "login", "product_view", "cart_add", "checkout_start"}
    latest = Customer.objects.select_related("activity").annotate(latest=Max("events__occurred_at"))
    assert all(c.last_seen_at == c.latest for c in latest)


def test_everything_happens_before_the_anchor(shop):
    assert Order.objects.filter(placed_at__gte=ANCHOR).count() == 0
    assert Event.objects.filter(occurred_at__gte=ANCHOR).count() == 0
    assert not Customer.objects.filter(Q(signup_at__gte=ANCHOR) | Q(signup_at=None)).exists()


def test_refuses_a_database_that_holds_data(db):
    CustomerFactory(external_id="real-1")

    with pytest.raises(CommandError, match="already holds 1 customers"):
        seed()
    assert Customer.objects.count() == 1


def test_force_seeds_anyway_and_replaces_an_earlier_demo(db):
    CustomerFactory(external_id="real-1")
    seed("--force", customers=50)

    seed("--force", customers=30)

    assert Customer.objects.filter(external_id__startswith="demo-").count() == 30
    assert Customer.objects.filter(external_id="real-1").exists()
