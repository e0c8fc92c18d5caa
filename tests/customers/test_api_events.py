import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, Event, MetricsSettings
from customers.tasks import metrics_refresh_customers_task
from tests.customers.factories import CustomerFactory, EventFactory, StorefrontFactory

pytestmark = pytest.mark.django_db

URL, BATCH_URL = "/api/v1/events/", "/api/v1/events/batch/"
MAY_1 = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)


def event(**fields):
    return {"customer": "c1", "name": "visit", "occurred_at": "2024-05-01T10:00:00Z", **fields}


def test_event_is_recorded_with_201(api, storefront):
    response = api.post(URL, event(properties={"page": "/sale"}, event_id="e1"), format="json")

    assert response.status_code == 201
    assert response.json() == {"recorded": 1, "duplicates": 0}
    stored = Event.objects.get()
    assert (stored.name, stored.occurred_at, stored.properties, stored.event_id) == (
        "visit", MAY_1, {"page": "/sale"}, "e1")
    assert stored.storefront == storefront


def test_occurred_at_defaults_to_now(api):
    before = timezone.now()

    api.post(URL, {"customer": "c1", "name": "login"}, format="json")

    assert before <= Event.objects.get().occurred_at <= timezone.now()


def test_naive_occurred_at_is_read_in_the_storefront_time_zone(api, storefront):
    storefront.time_zone = "Asia/Tokyo"
    storefront.save()

    api.post(URL, event(occurred_at="2024-05-01T19:00:00"), format="json")

    assert Event.objects.get().occurred_at == MAY_1


def test_event_sent_again_with_its_event_id_is_a_duplicate(api):
    api.post(URL, event(event_id="e1"), format="json")

    response = api.post(URL, event(event_id="e1", name="login"), format="json")

    assert response.status_code == 200
    assert response.json() == {"recorded": 0, "duplicates": 1}
    assert list(Event.objects.values_list("name", flat=True)) == ["visit"]


def test_repeated_event_id_within_a_batch_is_recorded_once(api):
    response = api.post(BATCH_URL, {"items": [event(event_id="e1"), event(event_id="e2"),
                                              event(event_id="e1")]}, format="json")

    assert response.json() == {"recorded": 2, "duplicates": 1}
    assert Event.objects.count() == 2


def test_batch_resent_records_nothing(api):
    items = [event(event_id=f"e{i}") for i in range(5)]
    api.post(BATCH_URL, {"items": items}, format="json")

    response = api.post(BATCH_URL, {"items": items}, format="json")

    assert response.json() == {"recorded": 0, "duplicates": 5}
    assert Event.objects.count() == 5


def test_same_event_id_from_another_storefront_is_a_different_event(api):
    EventFactory(event_id="e1", storefront=StorefrontFactory(name="pos"))

    response = api.post(URL, event(event_id="e1"), format="json")

    assert response.json() == {"recorded": 1, "duplicates": 0}
    assert Event.objects.count() == 2


def test_events_without_event_id_are_always_recorded(api):
    api.post(URL, event(), format="json")
    api.post(URL, event(), format="json")

    assert Event.objects.count() == 2


def test_event_for_an_unknown_customer_creates_that_customer(api):
    api.post(URL, event(customer="visitor-9"), format="json")

    assert Event.objects.get().customer == Customer.objects.get(external_id="visitor-9")


def test_activity_event_moves_last_seen_forward(api):
    customer = CustomerFactory(external_id="c1", last_seen_at=MAY_1 - dt.timedelta(days=1))

    api.post(BATCH_URL, {"items": [event(occurred_at="2024-05-01T08:00:00Z"), event()]},
             format="json")

    customer.refresh_from_db()
    assert customer.last_seen_at == MAY_1


def test_older_event_never_moves_last_seen_back(api):
    customer = CustomerFactory(external_id="c1", last_seen_at=MAY_1)

    api.post(URL, event(occurred_at="2024-04-01T10:00:00Z"), format="json")

    customer.refresh_from_db()
    assert customer.last_seen_at == MAY_1


def test_only_configured_activity_events_move_last_seen(api):
    settings = MetricsSettings.load()
    settings.activity_events = ["login"]
    settings.save()
    CustomerFactory(external_id="c1")
    CustomerFactory(external_id="c2")

    api.post(BATCH_URL, {"items": [event(customer="c1", name="visit"),
                                   event(customer="c2", name="login")]}, format="json")

    assert dict(Customer.objects.values_list("external_id", "activity__last_seen_at")) == {
        "c1": None, "c2": MAY_1}


def test_duplicate_event_enqueues_no_metrics_refresh(api, django_capture_on_commit_callbacks):
    api.post(URL, event(event_id="e1"), format="json")
    with mock.patch.object(metrics_refresh_customers_task, "delay") as delay, \
            django_capture_on_commit_callbacks(execute=True):
        api.post(URL, event(event_id="e1"), format="json")

    delay.assert_not_called()


def test_activity_events_enqueue_one_refresh_for_their_customers(
        api, django_capture_on_commit_callbacks):
    settings = MetricsSettings.load()
    settings.activity_events = ["login"]
    settings.save()
    with mock.patch.object(metrics_refresh_customers_task, "delay") as delay, \
            django_capture_on_commit_callbacks(execute=True):
        api.post(BATCH_URL, {"items": [event(customer="c1", name="login"),
                                       event(customer="c2", name="cart_add"),
                                       event(customer="c3", name="login")]}, format="json")

    delay.assert_called_once_with(sorted(
        Customer.objects.filter(external_id__in=["c1", "c3"]).values_list("pk", flat=True)))


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"name": "add to cart"}, "name"),
        ({"name": ""}, "name"),
        ({"event_id": ""}, "event_id"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"properties": ["not", "an", "object"]}, "properties"),
        ({"properties": {f"k{i}": i for i in range(101)}}, "properties"),
        ({"properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}},
         "properties"),
        ({"customer_id": 7}, "customer_id"),
    ],
)
def test_bad_event_field_is_rejected_naming_the_field(api, fields, bad_field):
    response = api.post(URL, event(**fields), format="json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [bad_field]
    assert Event.objects.count() == 0


def test_properties_nested_eight_levels_deep_are_accepted(api):
    eight_levels = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}

    response = api.post(URL, event(properties=eight_levels), format="json")

    assert response.status_code == 201


def test_event_batch_with_one_bad_item_writes_nothing(api):
    response = api.post(BATCH_URL, {"items": [event(event_id="e1"), event(name="bad name!")]},
                        format="json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["items[1].name"]
    assert Event.objects.count() == 0
    assert Customer.objects.count() == 0


def test_event_batch_of_1001_is_rejected(api):
    response = api.post(BATCH_URL, {"items": [event()] * 1001}, format="json")

    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_event_batch_uses_the_same_number_of_queries_for_5_and_45(api):
    # 45 new customers: SQLite's bulk_create takes 999 parameters per INSERT, 49 rows of the
    # 20 customer columns; PostgreSQL writes any batch in one.
    MetricsSettings.load()

    def queries(n):
        items = [event(customer=f"{n}-c{i}", event_id=f"{n}-e{i}") for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            assert api.post(BATCH_URL, {"items": items}, format="json").status_code == 200
        return len(captured)

    assert queries(5) == queries(45)
