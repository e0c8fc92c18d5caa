import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, CustomerMetrics, LifecycleStage, RfmClass
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

BATCH_URL = "/api/v1/customers/batch/"


def url(external_id):
    return f"/api/v1/customers/{external_id}/"


PROFILE = {
    "email": "Ada@Example.com", "phone": "+44 20 7946 0000", "name": "Ada Lovelace",
    "gender": "female", "birthday": "1990-02-28", "city": "London",
    "signup_at": "2024-01-15T09:30:00Z", "acquisition_channel": "referral",
    "time_zone": "Europe/London", "attributes": {"tier": "gold", "pets": ["cat"]},
    "tags": ["vip", "newsletter"],
}


def test_put_creates_a_customer_with_201(api):
    response = api.put(url("c1"), PROFILE, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["external_id"] == "c1"
    assert body["email"] == "ada@example.com"
    assert body["birthday"] == "1990-02-28"
    assert body["signup_at"] == "2024-01-15T09:30:00Z"
    assert body["attributes"] == {"tier": "gold", "pets": ["cat"]}
    assert body["tags"] == ["vip", "newsletter"]
    assert body["metrics"] is None
    stored = Customer.objects.get(external_id="c1")
    assert (stored.name, stored.city, stored.time_zone) == ("Ada Lovelace", "London",
                                                            "Europe/London")


def test_put_of_an_existing_customer_updates_it_with_200(api):
    api.put(url("c1"), PROFILE, format="json")

    response = api.put(url("c1"), {"city": "Paris"}, format="json")

    assert response.status_code == 200
    assert Customer.objects.get().city == "Paris"


def test_fields_left_out_keep_their_stored_value(api):
    api.put(url("c1"), PROFILE, format="json")

    response = api.put(url("c1"), {"name": "Ada King"}, format="json")

    body = response.json()
    assert body["name"] == "Ada King"
    assert body["email"] == "ada@example.com"
    assert body["tags"] == ["vip", "newsletter"]
    assert body["attributes"] == {"tier": "gold", "pets": ["cat"]}
    assert body["birthday"] == "1990-02-28"


def test_a_field_sent_empty_is_cleared(api):
    api.put(url("c1"), PROFILE, format="json")

    api.put(url("c1"), {"city": "", "birthday": None, "tags": []}, format="json")

    stored = Customer.objects.get()
    assert (stored.city, stored.birthday, stored.tags) == ("", None, [])


def test_body_external_id_must_match_the_url(api):
    response = api.put(url("c1"), {"external_id": "c2"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "external_id"
    assert Customer.objects.count() == 0


def test_body_external_id_equal_to_the_url_is_accepted(api):
    response = api.put(url("c1"), {"external_id": "c1", "name": "Ada"}, format="json")

    assert response.status_code == 201


def test_external_id_may_contain_a_slash(api):
    api.put(url("shop/42"), {"name": "Ada"}, format="json")

    response = api.get(url("shop/42"))

    assert response.json()["name"] == "Ada"


def test_get_unknown_customer_is_a_json_404(api):
    response = api.get(url("nobody"))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_get_finds_an_external_id_with_a_line_break(api):
    CustomerFactory(external_id="line\nbreak")

    response = api.get("/api/v1/customers/line%0Abreak/")

    assert response.status_code == 200
    assert response.json()["external_id"] == "line\nbreak"


def test_get_returns_profile_with_null_metrics_before_computation(api):
    CustomerFactory(external_id="c1", name="Ada")

    response = api.get(url("c1"))

    assert response.status_code == 200
    assert response.json()["name"] == "Ada"
    assert response.json()["metrics"] is None


def test_get_returns_profile_with_metrics(api):
    customer = CustomerFactory(external_id="c1")
    computed = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    # Recency is derived from the last paid order, as of the request: 5 days and 1 hour ago.
    last_order_at = timezone.now() - dt.timedelta(days=5, hours=1)
    CustomerMetrics.objects.create(
        customer=customer, order_count=3, first_order_at=computed - dt.timedelta(days=100),
        last_order_at=last_order_at, frequency=3,
        monetary=Decimal("150.00"), ltv=Decimal("120.00"), aov=Decimal("50.00"), r_score=5,
        f_score=4, m_score=3, rfm_class=RfmClass.IMPORTANT_VALUE,
        lifecycle_stage=LifecycleStage.ACTIVE, computed_at=computed,
    )

    metrics = api.get(url("c1")).json()["metrics"]

    assert metrics == {
        "recency_days": 5, "frequency": 3, "monetary": "150.00", "ltv": "120.00",
        "aov": "50.00", "order_count": 3, "first_order_at": "2024-02-22T00:00:00Z",
        "last_order_at": last_order_at.isoformat().replace("+00:00", "Z"),
        "r_score": 5, "f_score": 4, "m_score": 3,
        "rfm_class": "important_value", "lifecycle_stage": "active",
        "computed_at": "2024-06-01T00:00:00Z",
    }


def test_new_consent_is_stamped_now(api):
    before = timezone.now()

    api.put(url("c1"), {"email_consent": True}, format="json")

    stored = Customer.objects.get()
    assert stored.email_consent is True
    assert before <= stored.email_consent_at <= timezone.now()
    assert (stored.sms_consent, stored.sms_consent_at) == (False, None)


def test_consent_change_takes_the_time_sent_with_it(api):
    api.put(url("c1"), {"sms_consent": True, "sms_consent_at": "2024-03-01T12:00:00Z"},
            format="json")

    assert Customer.objects.get().sms_consent_at == dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def test_withdrawn_consent_is_stamped(api):
    api.put(url("c1"), {"email_consent": True, "email_consent_at": "2024-03-01T12:00:00Z"},
            format="json")

    api.put(url("c1"), {"email_consent": False, "email_consent_at": "2024-04-01T12:00:00Z"},
            format="json")

    stored = Customer.objects.get()
    assert (stored.email_consent, stored.email_consent_at) == (
        False, dt.datetime(2024, 4, 1, 12, tzinfo=dt.UTC))


def test_unchanged_consent_keeps_its_stored_time(api):
    api.put(url("c1"), {"email_consent": True, "email_consent_at": "2024-03-01T12:00:00Z"},
            format="json")

    api.put(url("c1"), {"email_consent": True, "email_consent_at": "2024-05-01T12:00:00Z"},
            format="json")

    assert Customer.objects.get().email_consent_at == dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def test_naive_signup_at_is_read_in_the_storefront_time_zone(api, storefront):
    storefront.time_zone = "America/New_York"
    storefront.save()

    api.put(url("c1"), {"signup_at": "2024-01-15T09:30:00"}, format="json")

    assert Customer.objects.get().signup_at == dt.datetime(2024, 1, 15, 14, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"phone": "call me"}, "phone"),
        ({"gender": "robot"}, "gender"),
        ({"birthday": "1850-01-01"}, "birthday"),
        ({"birthday": "2024-02-30"}, "birthday"),
        ({"name": "x" * 201}, "name"),
        ({"tags": ["ok", ""]}, "tags[1]"),
        ({"attributes": {f"k{i}": i for i in range(101)}}, "attributes"),
        ({"email_consent": "maybe"}, "email_consent"),
        ({"loyalty_points": 10}, "loyalty_points"),
        ({"language": "Chinese (Simplified)"}, "language"),
        ({"language": "zh-hans-cn-toolongsubtag"}, "language"),
    ],
)
def test_bad_customer_field_is_rejected_naming_the_field(api, fields, bad_field):
    response = api.put(url("c1"), fields, format="json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [bad_field]
    assert Customer.objects.count() == 0


def test_too_long_external_id_in_the_url_is_rejected(api):
    response = api.put(url("x" * 129), {}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "external_id"


def test_batch_upserts_customers_and_counts_them(api):
    CustomerFactory(external_id="c1", name="Old")

    response = api.post(BATCH_URL, {"items": [
        {"external_id": "c1", "name": "New"},
        {"external_id": "c2", "city": "Lyon"},
    ]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 1}
    assert dict(Customer.objects.values_list("external_id", "name")) == {"c1": "New", "c2": ""}


def test_batch_items_giving_different_fields_each_keep_the_rest(api):
    CustomerFactory(external_id="c1", name="Ada", city="London")
    CustomerFactory(external_id="c2", name="Bob", city="Leeds")

    api.post(BATCH_URL, {"items": [{"external_id": "c1", "name": "Ada K"},
                                   {"external_id": "c2", "city": "York"}]}, format="json")

    assert set(Customer.objects.values_list("external_id", "name", "city")) == {
        ("c1", "Ada K", "London"), ("c2", "Bob", "York")}


def test_repeated_customer_within_a_batch_is_applied_in_order(api):
    api.post(BATCH_URL, {"items": [
        {"external_id": "c1", "name": "Ada", "city": "London"},
        {"external_id": "c1", "name": "Ada K"},
    ]}, format="json")

    assert Customer.objects.values_list("name", "city").get() == ("Ada K", "London")


def test_customer_batch_with_one_bad_item_writes_nothing(api):
    response = api.post(BATCH_URL, {"items": [
        {"external_id": "c1", "name": "Ada"},
        {"external_id": "c2", "email": "nope"},
    ]}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "items[1].email", "message": "is not a valid email address"}]
    assert Customer.objects.count() == 0


def test_customer_batch_of_1001_is_rejected(api):
    response = api.post(BATCH_URL, {"items": [{"external_id": f"c{i}"} for i in range(1001)]},
                        format="json")

    assert response.status_code == 400
    assert Customer.objects.count() == 0


def test_customer_batch_uses_the_same_number_of_queries_for_5_and_45(api):
    # 45: SQLite's bulk_create takes 999 parameters per INSERT, 49 rows of the 20 customer
    # columns; PostgreSQL writes any batch in one.
    def queries(n):
        Customer.objects.all().delete()
        items = [{"external_id": f"c{i}", "name": f"n{i}", "email_consent": True}
                 for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            assert api.post(BATCH_URL, {"items": items}, format="json").status_code == 200
        return len(captured)

    assert queries(5) == queries(45)


def test_language_is_stored_in_lower_case_and_returned(api):
    response = api.put(url("c1"), {"language": "zh-Hans-CN"}, format="json")

    assert response.status_code == 201
    assert response.json()["language"] == "zh-hans-cn"
    assert Customer.objects.get().language == "zh-hans-cn"


def test_language_sent_empty_is_cleared(api):
    CustomerFactory(external_id="c1", language="en")

    api.put(url("c1"), {"language": ""}, format="json")

    assert Customer.objects.get().language == ""
