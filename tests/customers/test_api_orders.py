import datetime as dt
import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Customer, Order, OrderStatus
from customers.tasks import metrics_refresh_customers_task
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

URL, BATCH_URL = "/api/v1/orders/", "/api/v1/orders/batch/"


def order(**fields):
    return {"external_id": "o1", "customer": "c1", "amount": "25.50",
            "placed_at": "2024-05-01T10:00:00Z", **fields}


def orders(n, **fields):
    return [order(external_id=f"o{i}", customer=f"c{i % 3}", **fields) for i in range(n)]


def test_new_order_is_created_with_the_storefront_currency(api, storefront):
    storefront.currency = "CNY"
    storefront.save()

    response = api.post(URL, order(coupon_code="WELCOME"), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["external_id"] == "o1"
    assert body["customer"] == "c1"
    assert body["amount"] == "25.50"
    assert body["currency"] == "CNY"
    assert body["status"] == "paid"
    assert body["coupon_code"] == "WELCOME"
    assert body["storefront"] == storefront.name
    stored = Order.objects.get()
    assert (stored.amount, stored.placed_at) == (
        Decimal("25.50"), dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC))


def test_same_order_sent_twice_is_one_order(api):
    first = api.post(URL, order(), format="json")
    second = api.post(URL, order(), format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert Order.objects.count() == 1


def test_status_change_updates_the_order(api):
    api.post(URL, order(), format="json")

    response = api.post(URL, order(status="refunded", refunded_amount="25.50"), format="json")

    assert response.status_code == 200
    stored = Order.objects.get()
    assert stored.status == OrderStatus.REFUNDED
    assert stored.refunded_amount == Decimal("25.50")


REFUND_OVER_AMOUNT = ("refunded_amount 5.00 would exceed amount 3.00 (fields left out keep "
                      "their stored value): send both")


def test_an_amount_below_the_stored_refund_is_a_400_naming_it(api):
    api.post(URL, order(amount="10.00", refunded_amount="5.00"), format="json")

    response = api.post(URL, order(amount="3.00"), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "refunded_amount", "message": REFUND_OVER_AMOUNT}]
    stored = Order.objects.get()
    assert (stored.amount, stored.refunded_amount) == (Decimal("10.00"), Decimal("5.00"))


def test_a_batch_with_an_amount_below_a_stored_refund_writes_nothing(api):
    api.post(URL, order(amount="10.00", refunded_amount="5.00"), format="json")

    response = api.post(BATCH_URL, {"items": [order(external_id="o2"), order(amount="3.00")]},
                        format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "Invalid input: items[1].refunded_amount."
    assert response.json()["errors"][0]["message"] == REFUND_OVER_AMOUNT
    assert list(Order.objects.values_list("external_id", "amount")) == [("o1", Decimal("10.00"))]


def test_a_batch_refunding_more_than_its_later_amount_names_the_later_item(api):
    items = [order(amount="10.00", refunded_amount="5.00"), order(external_id="o2"),
             order(amount="3.00")]

    response = api.post(BATCH_URL, {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "items[2].refunded_amount", "message": REFUND_OVER_AMOUNT}]
    assert not Order.objects.exists()


def test_an_amount_lowered_together_with_its_refund_is_accepted(api):
    api.post(URL, order(amount="10.00", refunded_amount="5.00"), format="json")

    response = api.post(URL, order(amount="3.00", refunded_amount="1.00"), format="json")

    assert response.status_code == 200
    stored = Order.objects.get()
    assert (stored.amount, stored.refunded_amount) == (Decimal("3.00"), Decimal("1.00"))


def test_changed_amount_updates_the_order(api):
    api.post(URL, order(), format="json")

    api.post(URL, order(amount="30.00"), format="json")

    assert Order.objects.get().amount == Decimal("30.00")


def test_fields_left_out_of_an_update_keep_their_stored_value(api):
    api.post(URL, order(coupon_code="SPRING", currency="EUR",
                        items=[{"sku": "A1", "quantity": 2, "price": "12.75"}]), format="json")

    api.post(URL, order(status="cancelled"), format="json")

    stored = Order.objects.get()
    assert stored.status == OrderStatus.CANCELLED
    assert (stored.coupon_code, stored.currency) == ("SPRING", "EUR")
    assert stored.items == [{"sku": "A1", "name": "", "quantity": 2, "price": "12.75",
                             "category": ""}]


def test_order_for_an_unknown_customer_creates_that_customer(api):
    api.post(URL, order(customer="new-buyer"), format="json")

    customer = Customer.objects.get(external_id="new-buyer")
    assert Order.objects.get().customer == customer
    assert (customer.email, customer.name) == ("", "")


def test_order_for_a_known_customer_uses_that_customer(api):
    customer = CustomerFactory(external_id="c1")

    api.post(URL, order(), format="json")

    assert Order.objects.get().customer == customer
    assert Customer.objects.count() == 1


def test_order_keeps_the_storefront_that_first_sent_it(api, storefront):
    other = OrderFactory(external_id="o1", amount=Decimal("25.50"))

    api.post(URL, order(status="refunded"), format="json")

    other.refresh_from_db()
    assert other.storefront != storefront
    assert other.status == OrderStatus.REFUNDED


def test_naive_placed_at_is_read_in_the_storefront_time_zone(api, storefront):
    storefront.time_zone = "Asia/Shanghai"
    storefront.save()

    api.post(URL, order(placed_at="2024-05-01T10:00:00"), format="json")

    assert Order.objects.get().placed_at == dt.datetime(2024, 5, 1, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "Infinity"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "10.00", "refunded_amount": "10.01"}, ""),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "12$"}, "currency"),
        ({"status": "shipped"}, "status"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"customer": ""}, "customer"),
        ({"external_id": "x" * 129}, "external_id"),
        ({"discount": "5.00"}, "discount"),
        ({"items": [{"sku": "A1", "quantity": 0}]}, "items[0].quantity"),
    ],
)
def test_bad_order_field_is_rejected_naming_the_field(api, fields, bad_field):
    response = api.post(URL, order(**fields), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert [error["field"] for error in body["errors"]] == [bad_field]
    assert Order.objects.count() == 0


def test_placed_at_in_the_future_is_rejected(api):
    future = (timezone.now() + dt.timedelta(days=3)).isoformat()

    response = api.post(URL, order(placed_at=future), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "placed_at", "message": "is in the future"}]


@pytest.mark.parametrize(("placed_at", "utc"), [
    ("2024-05-01T10:00:00+20:00", dt.datetime(2024, 4, 30, 14, tzinfo=dt.UTC)),
    ("2024-05-01T10:00:00-23:59", dt.datetime(2024, 5, 2, 9, 59, tzinfo=dt.UTC)),
])
def test_offsets_beyond_postgresql_s_range_are_stored_as_the_same_moment(api, placed_at, utc):
    """ISO 8601 allows offsets up to 23:59; PostgreSQL reads at most 15:59."""
    response = api.post(URL, order(placed_at=placed_at), format="json")

    assert response.status_code == 201
    assert Order.objects.get().placed_at == utc


def test_a_moment_before_the_first_year_is_rejected(api):
    response = api.post(URL, order(placed_at="0001-01-01T00:30:00+01:00"), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "placed_at", "message": "is out of range"}]
    assert Order.objects.count() == 0


def test_nan_literal_amount_is_rejected(api):
    body = b'{"external_id": "o1", "customer": "c1", "amount": NaN, "placed_at": "2024-05-01"}'

    response = api.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_batch_reports_created_and_updated(api):
    api.post(BATCH_URL, {"items": orders(2)}, format="json")

    response = api.post(BATCH_URL, {"items": orders(5)}, format="json")

    assert response.status_code == 200
    assert response.json() == {"created": 3, "updated": 2}
    assert Order.objects.count() == 5
    assert Customer.objects.count() == 3


def test_batch_resent_changes_nothing(api):
    api.post(BATCH_URL, {"items": orders(4)}, format="json")
    before = list(Order.objects.order_by("pk").values("pk", "external_id", "amount", "status"))

    response = api.post(BATCH_URL, {"items": orders(4)}, format="json")

    assert response.json() == {"created": 0, "updated": 4}
    assert list(Order.objects.order_by("pk").values("pk", "external_id", "amount",
                                                    "status")) == before


def test_repeated_order_within_a_batch_last_one_wins(api):
    items = [order(status="paid"), order(status="refunded", amount="40.00")]

    response = api.post(BATCH_URL, {"items": items}, format="json")

    assert response.json() == {"created": 1, "updated": 0}
    stored = Order.objects.get()
    assert (stored.status, stored.amount) == (OrderStatus.REFUNDED, Decimal("40.00"))


def test_batch_with_one_bad_item_writes_nothing(api):
    items = orders(5)
    items[3]["amount"] = "-5"

    response = api.post(BATCH_URL, {"items": items}, format="json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["items[3].amount"]
    assert "items[3].amount" in response.json()["message"]
    assert Order.objects.count() == 0
    assert Customer.objects.count() == 0


def test_batch_names_every_bad_item(api):
    items = orders(4)
    items[0]["currency"] = "dollars"
    items[2]["surprise"] = True

    response = api.post(BATCH_URL, {"items": items}, format="json")

    assert [error["field"] for error in response.json()["errors"]] == [
        "items[0].currency", "items[2].surprise"]


def test_batch_of_more_than_1000_orders_is_rejected(api):
    response = api.post(BATCH_URL, {"items": orders(1001)}, format="json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["items"]
    assert Order.objects.count() == 0


def test_empty_batch_is_rejected(api):
    response = api.post(BATCH_URL, {"items": []}, format="json")

    assert response.status_code == 400


def test_batch_items_must_be_a_list(api):
    response = api.post(BATCH_URL, {"items": order()}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "items"


def test_batch_uses_the_same_number_of_queries_for_5_and_45_orders(api):
    # 45 new customers: SQLite's bulk_create takes 999 parameters per INSERT, 49 rows of the
    # 20 customer columns; PostgreSQL writes any batch in one.
    def queries(n):
        Order.objects.all().delete()
        Customer.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            response = api.post(BATCH_URL, {"items": [
                order(external_id=f"o{i}", customer=f"c{i}") for i in range(n)]}, format="json")
        assert response.status_code == 200
        return len(captured)

    assert queries(5) == queries(45)


def test_order_write_enqueues_one_metrics_refresh_for_its_customers(
        api, django_capture_on_commit_callbacks):
    known = CustomerFactory(external_id="c0")
    with mock.patch.object(metrics_refresh_customers_task, "delay") as delay, \
            django_capture_on_commit_callbacks(execute=True):
        api.post(BATCH_URL, {"items": orders(4)}, format="json")

    ids = sorted(Customer.objects.values_list("pk", flat=True))
    assert known.pk in ids
    delay.assert_called_once_with(ids)


def test_rejected_batch_enqueues_nothing(api, django_capture_on_commit_callbacks):
    with mock.patch.object(metrics_refresh_customers_task, "delay") as delay, \
            django_capture_on_commit_callbacks(execute=True):
        api.post(BATCH_URL, {"items": [order(amount="-1")]}, format="json")

    delay.assert_not_called()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_creating_the_same_customers_do_not_fail(storefront_key):
    """Eight requests race to create the same 200 new customers; ON CONFLICT absorbs it."""
    barrier, statuses = threading.Barrier(8), []

    def send(worker):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {storefront_key}")
        items = [order(external_id=f"w{worker}-o{i}", customer=f"shared-{i}") for i in range(200)]
        barrier.wait()
        try:
            statuses.append(client.post(BATCH_URL, {"items": items}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * 8
    assert Customer.objects.count() == 200
    assert Order.objects.count() == 1600


@pytest.mark.postgres
def test_identical_resend_does_not_touch_the_row(api):
    api.post(BATCH_URL, {"items": [order()]}, format="json")
    before = Order.objects.get().updated_at

    api.post(BATCH_URL, {"items": [order()]}, format="json")
    unchanged = Order.objects.get().updated_at
    api.post(BATCH_URL, {"items": [order(status="refunded")]}, format="json")

    assert unchanged == before
    assert Order.objects.get().updated_at > before
