"""The Django admin's coupon section: definitions with stats, edited through the same checks
and service as the API; codes and redemptions read-only."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import Coupon, CouponDefinition, CouponRedemption
from tests.campaigns.coupons import REDEEM, personal, redeem_body, shared
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("admin", "a@example.com",
                                                                 None))
    return client


def form(**values) -> dict:
    return {"name": "Spring", "kind": "percentage", "value": "10", "currency": "",
            "min_order_amount": "0", "per_customer_limit": "1", "code_prefix": "",
            "shared_code": "", "is_active": "on", **values}


@pytest.mark.parametrize("model", ["coupondefinition", "coupon", "couponredemption"])
def test_changelists_load(admin_client, api, model):
    owner = CustomerFactory()
    coupon = personal(owner)
    api.post(REDEEM, redeem_body(coupon, owner), format="json")

    response = admin_client.get(reverse(f"admin:campaigns_{model}_changelist"))

    assert response.status_code == 200


def test_definition_list_shows_its_stats(admin_client, api):
    coupon = shared("STATS", kind="fixed", value=Decimal(7), max_discount_total=Decimal(70))
    api.post(REDEEM, redeem_body(coupon, "ann"), format="json")

    page = admin_client.get(reverse("admin:campaigns_coupondefinition_changelist")).content

    assert b"63.00 discount" in page


def test_codes_are_found_as_customers_type_them(admin_client):
    coupon = personal(code_prefix="VIP")
    personal()  # another code, not found
    typed = f"vip-{coupon.code[3:8].lower()} {coupon.code[8:]}"

    page = admin_client.get(reverse("admin:campaigns_coupon_changelist"), {"q": typed})

    assert [each.pk for each in page.context["cl"].result_list] == [coupon.pk]


def test_adding_a_shared_code_definition_creates_its_code(admin_client):
    response = admin_client.post(reverse("admin:campaigns_coupondefinition_add"),
                                 form(shared_code="spring-10", shared_limit="50"))

    assert response.status_code == 302
    assert Coupon.objects.get().code == "SPRING10"
    assert CouponDefinition.objects.get().shared_code == "SPRING10"


def test_a_bad_definition_is_refused_with_the_field_named(admin_client):
    response = admin_client.post(reverse("admin:campaigns_coupondefinition_add"),
                                 form(value="150"))

    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    assert not CouponDefinition.objects.exists()


def test_codes_and_redemptions_cannot_be_edited(admin_client, api):
    owner = CustomerFactory()
    coupon = personal(owner)
    api.post(REDEEM, redeem_body(coupon, owner), format="json")
    redemption = CouponRedemption.objects.get()

    for url in (reverse("admin:campaigns_coupon_add"),
                reverse("admin:campaigns_couponredemption_delete", args=[redemption.pk])):
        assert admin_client.get(url).status_code == 403


def test_deleting_a_definition_with_codes_is_refused(admin_client):
    coupon = personal()

    admin_client.post(reverse("admin:campaigns_coupondefinition_delete",
                              args=[coupon.definition_id]), {"post": "yes"})

    assert CouponDefinition.objects.filter(pk=coupon.definition_id).exists()
