"""Everything held about one customer, for their request for their data: the JSON document
(customers.services.personal_data with what segments and campaigns register), the admin's
download on the customer's page and the storefront API's GET."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Delivery, Suppression
from customers.models import CustomerMetrics, LifecycleStage
from customers.roles import Role, role_group
from customers.services.erasure import customer_erase
from customers.services.personal_data import customer_personal_data
from segments.models import Segment, SegmentChange
from tests.campaigns.factories import DeliveryFactory
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def ann(storefront):
    ann = CustomerFactory(external_id="ann", email="Ann@Example.com", phone="+8613800000000",
                          name="Ann Lee", city="Hangzhou", tags=["tea"],
                          attributes={"vip": True}, last_seen_at=T0)
    OrderFactory(customer=ann, storefront=storefront, external_id="A-2", amount=Decimal("20.50"),
                 placed_at=T0 + dt.timedelta(days=1), items=[{"sku": "TEA-01", "quantity": 2}])
    OrderFactory(customer=ann, storefront=storefront, external_id="A-1", amount=Decimal("80"),
                 placed_at=T0)
    EventFactory(customer=ann, storefront=storefront, name="search", occurred_at=T0,
                 properties={"query": "oolong"})
    CustomerMetrics.objects.create(customer=ann, order_count=2, ltv=Decimal("100.50"),
                                   lifecycle_stage=LifecycleStage.ACTIVE, computed_at=T0)
    segment = Segment.objects.create(name="Tea lovers", rule={"==": [1, 1]})
    SegmentChange.objects.create(segment=segment, customer=ann, kind="entered", at=T0)
    DeliveryFactory(customer=ann, status=Delivery.Status.SENT, due_at=T0, created_at=T0,
                    sent_at=T0, address="ann@example.com", subject="Hello Ann",
                    body="<p>Dear Ann</p>")
    Suppression.objects.create(channel="email", address="ann@example.com",
                               reason=Suppression.Reason.UNSUBSCRIBED)
    return ann


@pytest.fixture
def bob(storefront):
    bob = CustomerFactory(external_id="bob", email="bob@example.com")
    OrderFactory(customer=bob, storefront=storefront, external_id="B-1")
    EventFactory(customer=bob, storefront=storefront, name="visit")
    DeliveryFactory(customer=bob, status=Delivery.Status.SENT, due_at=T0, created_at=T0,
                    address="bob@example.com", subject="Hello Bob")
    Suppression.objects.create(channel="email", address="bob@example.com",
                               reason=Suppression.Reason.BOUNCED)
    return bob


def as_json(document: dict) -> dict:
    """What the customer receives: the document through Django's JSON encoder."""
    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))


def test_the_document_holds_everything_about_the_customer_and_nobody_else(ann, bob):
    doc = as_json(customer_personal_data(ann))

    assert doc["format"] == 1
    assert doc["customer"]["external_id"] == "ann"
    assert doc["customer"]["email"] == "Ann@Example.com"
    assert doc["customer"]["tags"] == ["tea"]
    assert doc["customer"]["attributes"] == {"vip": True}
    assert doc["last_seen_at"] == "2026-11-01T09:00:00Z"
    assert doc["erasure"] is None
    assert [o["external_id"] for o in doc["orders"]] == ["A-1", "A-2"]  # oldest first
    assert doc["orders"][1]["amount"] == "20.50"
    assert doc["orders"][1]["items"] == [{"sku": "TEA-01", "quantity": 2}]
    assert doc["orders"][0]["storefront"] == ann.orders.first().storefront.name
    assert [(e["name"], e["properties"]) for e in doc["events"]] == [
        ("search", {"query": "oolong"})]
    assert doc["metrics"]["ltv"] == "100.50"
    assert doc["metrics"]["lifecycle_stage"] == "active"
    assert [(c["segment_name"], c["kind"]) for c in doc["segment_changes"]] == [
        ("Tea lovers", "entered")]
    assert [(m["address"], m["subject"]) for m in doc["messages"]] == [
        ("ann@example.com", "Hello Ann")]
    # Found by her address, lower-cased as the list keeps it.
    assert [(s["address"], s["reason"]) for s in doc["suppressed_addresses"]] == [
        ("ann@example.com", "unsubscribed")]
    assert doc["journeys"] == []
    assert doc["coupons"] == []
    assert "bob" not in json.dumps(doc).lower()


def test_after_an_erasure_the_document_holds_nothing_personal(ann):
    customer_erase(customer_id=ann.pk, requested_by="operator dpo")
    ann.refresh_from_db()
    doc = as_json(customer_personal_data(ann))

    assert doc["erasure"]["requested_by"] == "operator dpo"
    assert doc["customer"]["email"] == doc["customer"]["name"] == ""
    assert doc["events"] == []
    assert doc["last_seen_at"] is None
    assert doc["messages"][0]["address"] == doc["messages"][0]["subject"] == ""
    assert doc["suppressed_addresses"] == []  # kept, but no longer theirs to find
    assert [o["external_id"] for o in doc["orders"]] == ["A-1", "A-2"]


# --- the operator's download -----------------------------------------------------------------

def sign_in(client, role: Role):
    user = get_user_model().objects.create_user(f"op-{role.name.lower()}")
    user.groups.add(role_group(role))
    client.force_login(user)
    return client


def test_an_admin_downloads_it_from_the_customer_page(client, ann):
    admin = sign_in(client, Role.ADMIN)
    url = reverse("customer-personal-data", args=["ann"])
    assert url in admin.get(reverse("customer-detail", args=["ann"])).content.decode()

    response = admin.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="customer-{ann.pk}-personal-data.json"')
    assert json.loads(response.content)["customer"]["name"] == "Ann Lee"


def test_an_id_with_slashes_reaches_its_own_download_and_page(client, storefront):
    CustomerFactory(external_id="shop/7/ann", name="Slashed")
    admin = sign_in(client, Role.ADMIN)
    download = admin.get(reverse("customer-personal-data", args=["shop/7/ann"]))
    assert json.loads(download.content)["customer"]["external_id"] == "shop/7/ann"
    assert admin.get(reverse("customer-detail", args=["shop/7/ann"])).status_code == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MARKETER, Role.MANAGER])
def test_only_admins_download_it(client, ann, role):
    operator = sign_in(client, role)
    assert "data-personal-data" not in operator.get(
        reverse("customer-detail", args=["ann"])).content.decode()
    assert operator.get(reverse("customer-personal-data", args=["ann"])).status_code == 403


def test_an_unknown_customer_is_a_404(client):
    admin = sign_in(client, Role.ADMIN)
    assert admin.get(reverse("customer-personal-data", args=["nobody"])).status_code == 404


# --- the storefront API ----------------------------------------------------------------------

def test_the_api_returns_the_same_document(api, ann, bob):
    response = api.get("/api/v1/personal-data/ann/")
    assert response.status_code == 200
    doc = response.json()
    assert doc["customer"]["external_id"] == "ann"
    assert doc["orders"][0]["amount"] == "80.00"  # exact, as a string
    assert len(doc["messages"]) == 1


def test_the_api_names_an_unknown_customer_and_needs_a_key(api, client, ann):
    missing = api.get("/api/v1/personal-data/nobody/")
    assert missing.status_code == 404
    assert "nobody" in missing.json()["message"]
    assert client.get("/api/v1/personal-data/ann/").status_code == 401


def test_the_schema_documents_it(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/personal-data/{external_id}/"]["get"]
    assert operation["operationId"] == "customer_personal_data"
    assert {"200", "401", "404"} <= set(operation["responses"])


def test_reading_it_costs_a_fixed_number_of_queries(django_assert_max_num_queries, ann):
    for n in range(20):
        OrderFactory(customer=ann, external_id=f"X-{n}", placed_at=timezone.now())
    with django_assert_max_num_queries(16):
        customer_personal_data(ann)
