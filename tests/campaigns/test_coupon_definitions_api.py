"""Operator API for coupon definitions: /api/v1/coupon-definitions/..."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Coupon, CouponDefinition
from campaigns.services.coupons import codes_issued
from tests.campaigns.coupons import DAY, REDEEM, definition, personal, redeem_body, shared
from tests.customers.factories import CustomerFactory
from tests.segments.operators import errors, staff_user, token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/coupon-definitions/"


@pytest.fixture
def operator() -> APIClient:
    return token_client(staff_user())


def percent(**fields) -> dict:
    return {"name": "Welcome", "kind": "percentage", "value": "15", **fields}


# --- create and read ------------------------------------------------------------------------

def test_create_answers_the_definition_with_empty_stats(operator):
    response = operator.post(URL, percent(valid_days=7, code_prefix="welcome"), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["kind"], body["value"]) == ("Welcome", "percentage", "15.00")
    assert (body["code_prefix"], body["valid_days"], body["stackable"]) == ("WELCOME", 7, False)
    assert body["stats"] == {"issued": 0, "redeemed": 0, "discount_spent": "0.00",
                             "budget_left": {"codes": None, "discount": None, "uses": None}}
    assert CouponDefinition.objects.get().name == "Welcome"


def test_a_shared_code_gets_its_one_coupon_row(operator):
    response = operator.post(URL, percent(shared_code="summer-20", shared_limit=100),
                             format="json")

    assert response.status_code == 201, response.content
    assert response.json()["shared_code"] == "SUMMER20"
    coupon = Coupon.objects.get()
    assert (coupon.code, coupon.customer, coupon.max_redemptions) == ("SUMMER20", None, 100)


def test_a_shared_code_without_a_limit_is_unlimited(operator):
    operator.post(URL, percent(shared_code="FOREVER"), format="json")

    assert Coupon.objects.get().max_redemptions is None


@pytest.mark.parametrize(("fields", "bad"), [
    ({"value": "0"}, "value"),
    ({"value": "100.01"}, "value"),
    ({"kind": "fixed", "value": "0"}, "value"),
    ({"kind": "bogus"}, "kind"),
    ({"valid_from": "2026-05-01T00:00:00Z", "valid_until": "2026-04-01T00:00:00Z"},
     "valid_until"),
    ({"valid_days": 0}, "valid_days"),
    ({"shared_code": "ABCD", "valid_days": 3}, "valid_days"),
    ({"shared_limit": 5}, "shared_limit"),
    ({"shared_code": "ABCD", "max_codes": 5}, "max_codes"),
    ({"shared_code": "AB"}, "shared_code"),
    ({"shared_code": "ÄBCD!"}, "shared_code"),
    ({"code_prefix": "WEL/"}, "code_prefix"),
    ({"kind": "fixed", "value": "5", "max_discount": "2"}, "max_discount"),
    ({"per_customer_limit": 0}, "per_customer_limit"),
    ({"min_order_amount": "-1"}, "min_order_amount"),
    ({"colour": "red"}, "colour"),
])
def test_bad_definition_is_a_400_naming_the_field(operator, fields, bad):
    response = operator.post(URL, percent(**fields), format="json")

    assert bad in errors(response)
    assert CouponDefinition.objects.count() == 0


def test_shared_code_taken_by_any_code_is_refused(operator):
    coupon = personal()

    response = operator.post(URL, percent(name="Copy", shared_code=coupon.code.lower()),
                             format="json")

    assert "shared_code" in errors(response)


def test_duplicate_name_is_refused(operator):
    definition(name="Welcome")

    assert "name" in errors(operator.post(URL, percent(), format="json"))


def test_list_is_paginated_by_name(operator):
    for name in ("b", "a", "c"):
        definition(name=name)

    body = operator.get(URL, {"page_size": 2}).json()

    assert body["count"] == 3
    assert [each["name"] for each in body["results"]] == ["a", "b"]
    assert body["next"] is not None


def test_detail_stats_count_issued_redeemed_and_budget_left(operator, api):
    defined = definition(kind="fixed", value=Decimal(10), max_codes=5,
                         max_discount_total=Decimal(100))
    owners = [CustomerFactory(), CustomerFactory()]
    coupons = [personal(owner, defined) for owner in owners]
    api.post(REDEEM, redeem_body(coupons[0], owners[0], amount="25.00"), format="json")

    stats = operator.get(f"{URL}{defined.pk}/").json()["stats"]

    assert stats == {"issued": 2, "redeemed": 1, "discount_spent": "10.00",
                     "budget_left": {"codes": 3, "discount": "90.00", "uses": None}}


def test_shared_code_stats_count_uses_left(operator, api):
    coupon = shared("THREE", shared_limit=3)
    api.post(REDEEM, redeem_body(coupon, "ann"), format="json")

    stats = operator.get(f"{URL}{coupon.definition_id}/").json()["stats"]

    assert (stats["redeemed"], stats["budget_left"]["uses"]) == (1, 2)


def test_unknown_definition_is_404(operator):
    assert operator.get(f"{URL}999/").status_code == 404


# --- change and delete ----------------------------------------------------------------------

def test_patch_changes_only_what_is_sent(operator):
    defined = definition(name="Keep", min_order_amount=Decimal(30))

    response = operator.patch(f"{URL}{defined.pk}/", {"is_active": False}, format="json")

    assert response.status_code == 200
    defined.refresh_from_db()
    assert (defined.is_active, defined.min_order_amount, defined.name) == (
        False, Decimal(30), "Keep")


def test_put_replaces_and_resets_what_is_left_out(operator):
    defined = definition(name="Old", min_order_amount=Decimal(30), stackable=True)

    response = operator.put(f"{URL}{defined.pk}/", percent(name="New"), format="json")

    assert response.status_code == 200, response.content
    defined.refresh_from_db()
    assert (defined.name, defined.min_order_amount, defined.stackable) == ("New", 0, False)


def test_put_without_the_required_fields_is_a_400(operator):
    defined = definition()

    assert {"kind", "value"} <= set(errors(operator.put(f"{URL}{defined.pk}/", {"name": "x"},
                                                        format="json")))


def test_patch_is_checked_with_the_stored_values(operator):
    defined = definition(kind="fixed", value=Decimal(500))

    response = operator.patch(f"{URL}{defined.pk}/", {"kind": "percentage"}, format="json")

    assert "value" in errors(response)


def test_changing_the_shared_code_and_limit_updates_its_coupon(operator):
    coupon = shared("FIRST", shared_limit=5)

    response = operator.patch(f"{URL}{coupon.definition_id}/",
                              {"shared_code": "second", "shared_limit": 9,
                               "valid_until": "2030-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 200, response.content
    coupon.refresh_from_db()
    assert (coupon.code, coupon.max_redemptions) == ("SECOND", 9)
    assert coupon.expires_at == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def test_a_used_shared_code_cannot_be_removed(operator, api):
    coupon = shared("USED")
    api.post(REDEEM, redeem_body(coupon, "ann"), format="json")

    response = operator.patch(f"{URL}{coupon.definition_id}/", {"shared_code": ""},
                              format="json")

    assert "shared_code" in errors(response)
    assert Coupon.objects.filter(code="USED").exists()


def test_a_definition_with_personal_codes_cannot_get_a_shared_code(operator):
    coupon = personal()

    response = operator.patch(f"{URL}{coupon.definition_id}/", {"shared_code": "LATE"},
                              format="json")

    assert "shared_code" in errors(response)


def test_delete_of_an_unused_definition_removes_it_and_its_shared_code(operator):
    coupon = shared("UNUSED")

    response = operator.delete(f"{URL}{coupon.definition_id}/")

    assert response.status_code == 204
    assert not CouponDefinition.objects.exists()
    assert not Coupon.objects.exists()


def test_delete_after_codes_were_issued_is_409(operator):
    coupon = personal()

    response = operator.delete(f"{URL}{coupon.definition_id}/")

    assert response.status_code == 409
    assert response.json()["code"] == "in_use"
    assert CouponDefinition.objects.exists()


def test_a_change_from_a_stale_copy_is_refused_and_writes_nothing(operator):
    url = f"{URL}{operator.post(URL, percent(), format='json').json()['id']}/"
    read = operator.get(url)
    assert read["ETag"] == f'"{read.json()["updated_at"]}"'
    first = operator.patch(url, {"value": "20"}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert first.status_code == 200, first.content
    assert first["ETag"] != read["ETag"]

    # A second manager, still on the first read, saves over it.
    stale = operator.patch(url, {"value": "10"}, format="json", HTTP_IF_MATCH=read["ETag"])

    assert stale.status_code == 412
    assert stale.json()["code"] == "changed_elsewhere"
    assert "changed since you read it" in stale.json()["message"]
    assert CouponDefinition.objects.get().value == Decimal("20.00")
    again = operator.put(url, percent(value="10"), format="json", HTTP_IF_MATCH=first["ETag"])
    assert again.status_code == 200, again.content
    assert again.json()["value"] == "10.00"


def test_a_change_without_if_match_is_applied(operator):
    url = f"{URL}{operator.post(URL, percent(), format='json').json()['id']}/"

    assert operator.patch(url, {"value": "25"}, format="json").status_code == 200
    assert CouponDefinition.objects.get().value == Decimal("25.00")


def test_a_redeem_against_the_budget_does_not_move_the_version(operator, api):
    created = operator.post(URL, percent(shared_code="SPRING", max_discount_total="500"),
                            format="json").json()
    url = f"{URL}{created['id']}/"
    read = operator.get(url)

    redeemed = api.post(REDEEM, redeem_body("SPRING"), format="json")

    assert redeemed.status_code == 200, redeemed.content
    assert CouponDefinition.objects.get().discount_total == Decimal("15.00")
    assert operator.patch(url, {"name": "Spring"}, format="json",
                          HTTP_IF_MATCH=read["ETag"]).status_code == 200


# --- codes ----------------------------------------------------------------------------------

def test_codes_are_listed_with_their_status(operator, api):
    defined = definition(code_prefix="VIP")
    used_by, expired_for, fresh_for = CustomerFactory(), CustomerFactory(), CustomerFactory()
    used, expired, fresh = (personal(owner, defined)
                            for owner in (used_by, expired_for, fresh_for))
    api.post(REDEEM, redeem_body(used, used_by), format="json")
    Coupon.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - DAY)

    body = operator.get(f"{URL}{defined.pk}/coupons/").json()

    statuses = {each["customer_external_id"]: each["status"] for each in body["results"]}
    assert statuses == {used_by.external_id: "redeemed", expired_for.external_id: "expired",
                        fresh_for.external_id: "active"}
    assert body["count"] == 3
    assert all(each["code"].startswith("VIP-") for each in body["results"])
    assert fresh.code.startswith("VIP")


# --- issue by hand --------------------------------------------------------------------------

def test_issue_by_hand_gives_the_customer_a_code(operator):
    defined = definition(code_prefix="CS", valid_days=30)
    customer = CustomerFactory()

    response = operator.post(f"{URL}{defined.pk}/issue/",
                             {"customer_external_id": customer.external_id}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"].startswith("CS-")
    assert body["status"] == "active"
    coupon = Coupon.objects.get()
    assert (coupon.customer, coupon.campaign, coupon.max_redemptions) == (customer, None, 1)
    assert coupon.expires_at - coupon.issued_at == 30 * DAY
    defined.refresh_from_db()
    assert codes_issued(defined) == 1


def issue(operator, defined, customer):
    return operator.post(f"{URL}{defined.pk}/issue/",
                         {"customer_external_id": customer.external_id}, format="json")


def test_issue_beyond_the_per_customer_limit_is_409(operator):
    defined, customer = definition(per_customer_limit=1), CustomerFactory()
    issue(operator, defined, customer)

    response = issue(operator, defined, customer)

    assert (response.status_code, response.json()["code"]) == (409, "per_customer_limit")
    assert Coupon.objects.count() == 1


def test_issue_beyond_the_code_budget_is_409(operator):
    defined = definition(max_codes=1)
    issue(operator, defined, CustomerFactory())

    response = issue(operator, defined, CustomerFactory())

    assert (response.status_code, response.json()["code"]) == (409, "budget_exhausted")


@pytest.mark.parametrize(("values", "code"), [
    ({"is_active": False}, "inactive"),
    ({"valid_until": timezone.now() - DAY}, "expired"),
    ({"shared_code": "SHARED1"}, "shared_code"),
])
def test_issue_refused_by_the_definition_is_409(operator, values, code):
    response = issue(operator, definition(**values), CustomerFactory())

    assert (response.status_code, response.json()["code"]) == (409, code)


def test_issue_to_an_unknown_customer_is_404(operator):
    response = operator.post(f"{URL}{definition().pk}/issue/",
                             {"customer_external_id": "nobody"}, format="json")

    assert response.status_code == 404


# --- who may call ---------------------------------------------------------------------------

def test_storefront_keys_do_not_open_the_operator_api(api):
    assert api.get(URL).status_code == 401


def test_non_staff_users_are_403():
    client = token_client(staff_user("clerk", is_staff=False))

    assert client.get(URL).status_code == 403
