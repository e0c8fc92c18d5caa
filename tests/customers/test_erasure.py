"""Erasing a customer's personal data (the right to erasure): the service, the storefront
API's DELETE, the operator's button on the customer's page and the admin action. What
segments and campaigns do on an erasure: tests/segments/test_erasure.py and
tests/campaigns/test_erasure.py."""

import datetime as dt
import io
import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from customers.models import (
    Customer,
    CustomerActivity,
    CustomerMetrics,
    Erasure,
    Event,
    LifecycleStage,
    Order,
)
from customers.roles import Role, role_group
from customers.services.erasure import ERASED_ID_PREFIX, customer_erase
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db

PERSONAL = {
    "email": "", "phone": "", "name": "", "gender": "", "birthday": None, "city": "",
    "time_zone": "", "language": "", "attributes": {}, "tags": [],
    "email_consent": False, "sms_consent": False,
}


@pytest.fixture
def ann(storefront):
    """A customer with everything personal filled in, orders, events and metrics."""
    ann = CustomerFactory(
        external_id="ann", email="ann@example.com", phone="+8613800000000", name="Ann Lee",
        gender="female", birthday=dt.date(1990, 2, 28), city="Hangzhou",
        time_zone="Asia/Shanghai", language="zh-hans", attributes={"vip": True},
        tags=["tea"], email_consent=True, sms_consent=True,
        last_seen_at=timezone.now())
    OrderFactory(customer=ann, storefront=storefront, external_id="A-1", amount=Decimal("80"))
    EventFactory(customer=ann, storefront=storefront, name="search",
                 properties={"query": "ann's address"})
    CustomerMetrics.objects.create(customer=ann, order_count=1, ltv=Decimal("80"),
                                   lifecycle_stage=LifecycleStage.NEW, computed_at=timezone.now())
    return ann


@pytest.fixture
def bob(storefront):
    bob = CustomerFactory(external_id="bob", email="bob@example.com", last_seen_at=timezone.now())
    EventFactory(customer=bob, storefront=storefront)
    return bob


def personal(customer: Customer) -> dict:
    customer.refresh_from_db()
    return {name: getattr(customer, name) for name in PERSONAL}


# --- the service -----------------------------------------------------------------------------

def test_erasing_empties_everything_personal_and_keeps_the_orders(ann, bob):
    erasure = customer_erase(customer_id=ann.pk, requested_by="operator alice")

    assert personal(ann) == PERSONAL
    assert ann.external_id.startswith(ERASED_ID_PREFIX)
    assert ann.external_id != "ann"
    assert ann.email_consent_at == ann.sms_consent_at == erasure.erased_at
    assert not Event.objects.filter(customer=ann).exists()
    assert not CustomerActivity.objects.filter(customer=ann).exists()
    # The orders and metrics stay: revenue figures of the past do not move.
    assert list(Order.objects.filter(customer=ann).values_list("external_id", "amount")) == [
        ("A-1", Decimal("80.00"))]
    assert CustomerMetrics.objects.get(customer=ann).ltv == Decimal("80")
    assert (erasure.customer_id, erasure.requested_by) == (ann.pk, "operator alice")
    # Bob is untouched.
    bob.refresh_from_db()
    assert (bob.external_id, bob.email) == ("bob", "bob@example.com")
    assert Event.objects.filter(customer=bob).count() == 1
    assert CustomerActivity.objects.filter(customer=bob).exists()


def test_erasing_twice_changes_nothing_the_second_time(ann):
    first = customer_erase(customer_id=ann.pk, requested_by="storefront web")
    ann.refresh_from_db()
    erased_id = ann.external_id

    assert customer_erase(customer_id=ann.pk, requested_by="operator bob") is None
    ann.refresh_from_db()
    assert ann.external_id == erased_id
    assert list(Erasure.objects.values_list("requested_by", "erased_at")) == [
        ("storefront web", first.erased_at)]


def test_erasing_an_unknown_customer_does_nothing(ann):
    assert customer_erase(customer_id=ann.pk + 1000, requested_by="x") is None
    assert not Erasure.objects.exists()


def test_every_erased_customer_gets_an_id_of_its_own(ann, bob):
    customer_erase(customer_id=ann.pk, requested_by="x")
    customer_erase(customer_id=bob.pk, requested_by="x")
    ids = set(Customer.objects.values_list("external_id", flat=True))
    assert len(ids) == 2
    assert all(i.startswith(ERASED_ID_PREFIX) for i in ids)


# --- the storefront API ----------------------------------------------------------------------

def test_delete_erases_and_the_old_id_no_longer_finds_the_customer(api, ann):
    response = api.delete("/api/v1/customers/ann/")
    assert response.status_code == 204, response.content
    assert Erasure.objects.get().requested_by.startswith("storefront ")
    assert personal(ann) == PERSONAL

    missing = api.get("/api/v1/customers/ann/")
    assert missing.status_code == 404
    again = api.delete("/api/v1/customers/ann/")
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"


def test_a_later_profile_or_order_under_the_old_id_starts_a_new_customer(api, ann):
    assert api.delete("/api/v1/customers/ann/").status_code == 204
    response = api.put("/api/v1/customers/ann/", {"email": "new@example.com"}, format="json")
    assert response.status_code == 201
    order = api.post("/api/v1/orders/", {"external_id": "A-2", "customer": "ann",
                                         "amount": "10.00", "status": "paid",
                                         "placed_at": timezone.now().isoformat()},
                     format="json")
    assert order.status_code == 201, order.content

    fresh = Customer.objects.get(external_id="ann")
    assert fresh.pk != ann.pk
    assert list(fresh.orders.values_list("external_id", flat=True)) == ["A-2"]
    assert list(Order.objects.filter(customer=ann).values_list("external_id", flat=True)) == [
        "A-1"]


def test_delete_of_an_unknown_customer_is_a_404_naming_it(api, ann):
    response = api.delete("/api/v1/customers/nobody/")
    assert response.status_code == 404
    assert "nobody" in response.json()["message"]
    assert not Erasure.objects.exists()


def test_delete_needs_a_storefront_key(client, ann):
    response = client.delete("/api/v1/customers/ann/")
    assert response.status_code == 401
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"


def test_the_schema_documents_the_delete(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/customers/{external_id}/"]["delete"]
    assert operation["operationId"] == "customer_erase"
    assert {"204", "401", "404"} <= set(operation["responses"])


# --- the customer's page ---------------------------------------------------------------------

def sign_in(client, role: Role):
    user = get_user_model().objects.create_user(f"op-{role.name.lower()}")
    user.groups.add(role_group(role))
    client.force_login(user)
    return client


def page(external_id: str) -> str:
    return reverse("customer-detail", args=[external_id])


def test_an_admin_erases_from_the_page_after_typing_the_external_id(client, ann):
    admin = sign_in(client, Role.ADMIN)
    assert "data-erase-form" in admin.get(page("ann")).content.decode()

    response = admin.post(page("ann"), {"confirm": "ann"}, follow=True)

    assert response.status_code == 200
    ann.refresh_from_db()
    assert response.redirect_chain[-1][0] == page(ann.external_id)
    body = unescape(response.content.decode())
    assert "The customer's personal data was erased." in body
    assert "data-erased" in body
    assert "operator op-admin" in body
    assert "data-erase-form" not in body  # nothing left to erase
    assert personal(ann) == PERSONAL


def test_a_wrong_confirmation_erases_nothing_and_says_why(client, ann):
    admin = sign_in(client, Role.ADMIN)
    response = admin.post(page("ann"), {"confirm": "bob"})
    assert response.status_code == 400
    assert "That is not this customer&#x27;s external id" in response.content.decode()
    assert not Erasure.objects.exists()
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MARKETER, Role.MANAGER])
def test_only_admins_may_erase(client, ann, role):
    operator = sign_in(client, role)
    assert "data-erase-form" not in operator.get(page("ann")).content.decode()
    assert operator.post(page("ann"), {"confirm": "ann"}).status_code == 403
    assert not Erasure.objects.exists()


def test_the_admin_action_erases_the_selected_customers(client, ann, bob):
    user = get_user_model().objects.create_superuser("root", "root@example.com", None)
    client.force_login(user)
    response = client.post(reverse("admin:customers_customer_changelist"),
                           {"action": "erase_personal_data",
                            "_selected_action": [ann.pk, bob.pk]}, follow=True)
    assert "Erased the personal data of 2 customers." in response.content.decode()
    assert set(Erasure.objects.values_list("customer_id", "requested_by")) == {
        (ann.pk, "operator root"), (bob.pk, "operator root")}


# --- the command -----------------------------------------------------------------------------

def run_erase(*args) -> str:
    out = io.StringIO()
    call_command("erase_customers", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_erases_the_listed_customers_and_names_the_unknown(tmp_path, ann, bob):
    listing = tmp_path / "ids.txt"
    listing.write_text("\ufeff# privacy requests of the week\nann\n\nnobody\nann\n",
                       encoding="utf-8")

    out = run_erase(str(listing), "--requested-by", "ticket 4711")

    assert "Erased the personal data of 1 customers; 1 unknown or already erased." in out
    assert "not found: nobody" in out
    assert Erasure.objects.get().requested_by == "ticket 4711 (erase_customers)"
    assert personal(ann) == PERSONAL
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"
    # Again: ann's id no longer finds her, nothing changes.
    assert "Erased the personal data of 0 customers" in run_erase(
        str(listing), "--requested-by", "ticket 4711")
    assert Erasure.objects.count() == 1


def test_the_command_dry_run_erases_nothing(tmp_path, ann):
    listing = tmp_path / "ids.txt"
    listing.write_text("ann\n", encoding="utf-8")
    assert "Would erase 1 customers; 0 unknown" in run_erase(
        str(listing), "--requested-by", "x", "--dry-run")
    assert not Erasure.objects.exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"\xff\xfe\x00binary", "Cannot read"),
    ("x" * 200 + "\nann\n", "Not an external id (over 128 characters)"),
])
def test_the_command_refuses_a_bad_file_before_erasing_anything(tmp_path, ann, content,
                                                                 message):
    listing = tmp_path / "ids.txt"
    if isinstance(content, bytes):
        listing.write_bytes(content)
    else:
        listing.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape(message)):
        run_erase(str(listing), "--requested-by", "x")
    assert not Erasure.objects.exists()


def test_the_command_needs_to_know_who_asked(tmp_path, ann):
    listing = tmp_path / "ids.txt"
    listing.write_text("ann\n", encoding="utf-8")
    with pytest.raises(CommandError, match="who asked"):
        run_erase(str(listing), "--requested-by", "  ")
