"""The operator pages for coupons, message templates, webhook endpoints, settings and a
campaign's results, as each role sees them: viewers read, marketers write templates,
managers coupons, admins settings, keys and webhooks; 403 otherwise; bad input is a form
error with nothing written."""

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from campaigns.models import (
    Coupon,
    CouponDefinition,
    CouponRedemption,
    Delivery,
    DeliverySettings,
    MessageTemplate,
    WebhookEndpoint,
)
from campaigns.services.coupons import coupon_definition_save
from customers.models import MetricsSettings, StorefrontKey, ValueModelSettings
from customers.roles import Role, role_group
from customers.services.storefronts import hash_key
from tests.campaigns.factories import (
    CampaignFactory,
    CouponDefinitionFactory,
    MessageTemplateFactory,
    WebhookEndpointFactory,
)
from tests.campaigns.results_shop import results_campaign
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def client_for(role: Role | None, username: str = "") -> Client:
    user = get_user_model().objects.create_user(username or f"op-{role.name if role else 'x'}")
    if role is not None:
        user.groups.add(role_group(role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer():
    return client_for(Role.VIEWER)


@pytest.fixture
def marketer():
    return client_for(Role.MARKETER)


@pytest.fixture
def manager():
    return client_for(Role.MANAGER)


@pytest.fixture
def admin():
    return client_for(Role.ADMIN)


def text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


# --- roles ------------------------------------------------------------------------------------

PAGES = {  # url name -> (needs an object?, least role)
    "coupon-list": (None, Role.VIEWER),
    "coupon-detail": ("definition", Role.VIEWER),
    "coupon-new": (None, Role.MANAGER),
    "coupon-edit": ("definition", Role.MANAGER),
    "template-list": (None, Role.VIEWER),
    "template-edit": ("template", Role.VIEWER),
    "template-new": (None, Role.MARKETER),
    "webhook-list": (None, Role.ADMIN),
    "settings": (None, Role.ADMIN),
    "campaign-results": ("campaign", Role.VIEWER),
}


def _url(name: str, needs: str | None) -> str:
    made = {"definition": lambda: CouponDefinitionFactory(),
            "template": lambda: MessageTemplateFactory(),
            "campaign": lambda: CampaignFactory()}
    return reverse(name, args=[made[needs]().pk]) if needs else reverse(name)


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role", list(Role))
def test_each_page_opens_for_its_roles_and_refuses_the_others(name, role):
    needs, least = PAGES[name]
    response = client_for(role).get(_url(name, needs))

    assert response.status_code == (200 if role >= least else 403)


@pytest.mark.parametrize("name", PAGES)
def test_a_signed_out_visitor_is_sent_to_the_login_page(client, name):
    response = client.get(_url(name, PAGES[name][0]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_operator_without_a_role_is_refused():
    assert client_for(None).get(reverse("coupon-list")).status_code == 403


# --- coupons ----------------------------------------------------------------------------------

COUPON = {"name": "Win-back 15%", "kind": "percentage", "value": "15", "currency": "",
          "min_order_amount": "50", "max_discount": "30", "valid_days": "14",
          "per_customer_limit": "1", "code_prefix": "BACK", "max_codes": "100",
          "max_discount_total": "2000", "is_active": "on"}


def test_a_manager_creates_a_coupon_definition(manager):
    response = manager.post(reverse("coupon-new"), COUPON)

    definition = CouponDefinition.objects.get(name="Win-back 15%")
    assert response.status_code == 302
    assert response["Location"] == reverse("coupon-detail", args=[definition.pk])
    assert (definition.kind, definition.value, definition.max_codes, definition.code_prefix) \
        == ("percentage", Decimal("15.00"), 100, "BACK")


def test_a_validity_typed_with_any_iso_offset_is_kept_as_that_moment(manager):
    """ISO 8601 allows offsets up to 23:59; PostgreSQL reads at most 15:59."""
    response = manager.post(reverse("coupon-new"), {
        **COUPON, "valid_from": "2026-01-01T00:00:00+20:00",
        "valid_until": "2026-02-01T00:00:00-23:00"})

    assert response.status_code == 302
    definition = CouponDefinition.objects.get(name="Win-back 15%")
    assert (definition.valid_from, definition.valid_until) == (
        dt.datetime(2025, 12, 31, 4, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, 23, tzinfo=dt.UTC))


def test_a_bad_definition_shows_the_api_s_message_and_writes_nothing(manager):
    response = manager.post(reverse("coupon-new"), {**COUPON, "value": "150"})

    assert response.status_code == 400
    assert "a percentage must be more than 0 and at most 100" in text(response)
    assert not CouponDefinition.objects.exists()


def test_a_shared_code_with_a_code_budget_is_refused_by_field(manager):
    response = manager.post(reverse("coupon-new"), {**COUPON, "shared_code": "SUMMER20",
                                                    "valid_days": ""})

    assert response.status_code == 400
    assert "a shared code is one code: limit its uses with shared_limit" in text(response)
    assert not CouponDefinition.objects.exists()


def test_a_manager_edits_a_definition(manager):
    definition = CouponDefinitionFactory(name="Old name")

    response = manager.post(reverse("coupon-edit", args=[definition.pk]),
                            {**COUPON, "name": "New name", "is_active": ""})

    definition.refresh_from_db()
    assert response.status_code == 302
    assert (definition.name, definition.is_active) == ("New name", False)


def test_a_marketer_cannot_post_a_definition(marketer):
    response = marketer.post(reverse("coupon-new"), COUPON)

    assert response.status_code == 403
    assert not CouponDefinition.objects.exists()


def test_the_list_shows_each_definition_s_stats(viewer):
    definition = CouponDefinitionFactory(name="Welcome", max_discount_total=Decimal("100"))
    customers = [CustomerFactory() for _ in range(3)]
    for number, customer in enumerate(customers):
        Coupon.objects.create(definition=definition, code=f"WELCOME{number}",
                              customer=customer, issued_at="2026-01-01T00:00Z",
                              redemptions=1 if number == 0 else 0)

    page = text(viewer.get(reverse("coupon-list")))

    row = re.search(r"Welcome</a>.*?</tr>", page).group(0)
    assert re.findall(r'class="num">([^<]*)<', row)[:3] == ["3", "1", "$0.00"]
    assert "0% of the discount budget spent" in row


def test_stats_leave_out_the_shared_code_and_sum_its_discounts(viewer):
    shared = coupon_definition_save(name="Summer", kind="fixed", value=Decimal("5"),
                                    shared_code="SUMMER20")
    budgeted = CouponDefinitionFactory(name="Budgeted", max_discount_total=Decimal("50"))
    buyer = CustomerFactory()
    code = Coupon.objects.get(definition=shared)
    for number, (coupon, discount) in enumerate([(code, "5.00"), (code, "5.00")]):
        CouponRedemption.objects.create(coupon=coupon, customer=buyer, order_amount=100,
                                        order_external_id=f"o{number}", discount=discount,
                                        redeemed_at="2026-01-01T00:00Z")
    Coupon.objects.filter(pk=code.pk).update(redemptions=2)
    CouponDefinition.objects.filter(pk=budgeted.pk).update(discount_total=Decimal("12.50"))

    page = text(viewer.get(reverse("coupon-list")))

    summer = re.search(r"Summer</a>.*?</tr>", page).group(0)
    assert re.findall(r'class="num">([^<]*)<', summer)[:3] == ["0", "2", "$10.00"]
    kept = re.search(r"Budgeted</a>.*?</tr>", page).group(0)  # the redeem service's total
    assert re.findall(r'class="num">([^<]*)<', kept)[:3] == ["0", "0", "$12.50"]
    assert "25% of the discount budget spent" in kept


def test_a_manager_issues_a_code_by_hand(manager):
    definition = CouponDefinitionFactory(code_prefix="CS")
    CustomerFactory(external_id="c42")

    response = manager.post(reverse("coupon-issue", args=[definition.pk]),
                            {"customer_external_id": "c42"}, follow=True)

    coupon = Coupon.objects.get(definition=definition)
    assert coupon.customer.external_id == "c42"
    assert "Issued CS-" in text(response)


def test_issuing_past_the_customer_limit_is_refused(manager):
    definition = CouponDefinitionFactory(per_customer_limit=1)
    CustomerFactory(external_id="c42")
    url = reverse("coupon-issue", args=[definition.pk])
    manager.post(url, {"customer_external_id": "c42"})

    response = manager.post(url, {"customer_external_id": "c42"}, follow=True)

    assert Coupon.objects.filter(definition=definition).count() == 1
    assert "the customer holds as many codes as allowed" in text(response)


def test_issuing_to_an_unknown_customer_writes_nothing(manager):
    definition = CouponDefinitionFactory()

    response = manager.post(reverse("coupon-issue", args=[definition.pk]),
                            {"customer_external_id": "nobody"}, follow=True)

    assert not Coupon.objects.exists()
    assert "No customer with external id “nobody”" in text(response)


def test_a_viewer_cannot_issue(viewer):
    definition = CouponDefinitionFactory()
    CustomerFactory(external_id="c42")

    response = viewer.post(reverse("coupon-issue", args=[definition.pk]),
                           {"customer_external_id": "c42"})

    assert response.status_code == 403
    assert not Coupon.objects.exists()


def test_a_definition_s_codes_are_paged_by_id_newest_first(viewer):
    definition = CouponDefinitionFactory()
    Coupon.objects.bulk_create(Coupon(definition=definition, code=f"CODE{n:03}",
                                      issued_at="2026-01-01T00:00Z") for n in range(55))
    url = reverse("coupon-detail", args=[definition.pk])

    first = viewer.get(url).content.decode()
    older = re.search(r'href="\?before=(\d+)" rel="next"', first).group(1)
    second = viewer.get(url, {"before": older}).content.decode()
    newer = re.search(r'href="\?after=(\d+)" rel="prev"', second).group(1)
    back = viewer.get(url, {"after": newer}).content.decode()

    assert first.count("<code>CODE") == 50
    assert "CODE0-54" in first  # shown grouped, newest first
    assert 'rel="prev"' not in first
    assert second.count("<code>CODE") == 5
    assert "CODE0-00" in second
    assert 'rel="next"' not in second
    assert re.findall(r"<code>(CODE[^<]+)<", back) == re.findall(r"<code>(CODE[^<]+)<", first)


def read_version(client, url: str) -> str:
    """The version an editor page says it showed (its hidden read_at)."""
    [read_at] = re.findall(r'<input type="hidden" name="read_at" value="([^"]+)"',
                           text(client.get(url)))
    return read_at


def test_a_save_over_a_newer_version_of_the_definition_is_refused(manager):
    definition = CouponDefinitionFactory(name="Welcome")
    read_at = read_version(manager, reverse("coupon-edit", args=[definition.pk]))
    saved = manager.post(reverse("coupon-edit", args=[definition.pk]),
                         {**COUPON, "name": "Mine", "read_at": read_at})
    assert saved.status_code == 302  # saved from the version it read

    stale = manager.post(reverse("coupon-edit", args=[definition.pk]),
                         {**COUPON, "name": "Theirs", "read_at": read_at})

    assert stale.status_code == 400
    assert "this coupon definition was changed elsewhere" in text(stale)
    assert "Theirs" in text(stale)  # what they typed is still on the page to copy
    assert CouponDefinition.objects.get(pk=definition.pk).name == "Mine"


def test_a_manager_deletes_an_unused_coupon_definition(manager):
    definition = CouponDefinitionFactory(name="Spring sale")
    page = text(manager.get(reverse("coupon-detail", args=[definition.pk])))
    assert reverse("coupon-delete", args=[definition.pk]) in page

    response = manager.post(reverse("coupon-delete", args=[definition.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("coupon-list")
    assert "Coupon definition “Spring sale” deleted." in text(response)
    assert not CouponDefinition.objects.filter(pk=definition.pk).exists()


def test_a_coupon_definition_with_issued_codes_is_kept_and_the_page_says_why(manager):
    definition = CouponDefinitionFactory(name="Welcome")
    Coupon.objects.create(definition=definition, code="WELCOME1", customer=CustomerFactory(),
                          issued_at="2026-01-01T00:00Z")

    response = manager.post(reverse("coupon-delete", args=[definition.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("coupon-detail", args=[definition.pk])
    assert "“Welcome” was not deleted: codes of it were issued or used" in text(response)
    assert CouponDefinition.objects.filter(pk=definition.pk).exists()
    assert Coupon.objects.filter(code="WELCOME1").exists()


def test_a_viewer_cannot_delete_a_coupon_definition(viewer):
    definition = CouponDefinitionFactory()

    assert viewer.post(reverse("coupon-delete", args=[definition.pk])).status_code == 403
    assert reverse("coupon-delete", args=[definition.pk]) not in text(
        viewer.get(reverse("coupon-detail", args=[definition.pk])))
    assert CouponDefinition.objects.filter(pk=definition.pk).exists()


# --- message templates ------------------------------------------------------------------------

TEMPLATE = {"name": "Welcome mail", "channel": "email", "subject": "Hi {{ customer.name }}",
            "body": "<p>Code {{ coupon.code }}</p>", "translations": "{}"}


def test_a_marketer_saves_a_template(marketer):
    response = marketer.post(reverse("template-new"), TEMPLATE)

    template = MessageTemplate.objects.get(name="Welcome mail")
    assert response.status_code == 302
    assert template.subject == "Hi {{ customer.name }}"


def test_a_template_with_a_syntax_error_is_not_saved(marketer):
    response = marketer.post(reverse("template-new"), {**TEMPLATE, "body": "{% if %}"})

    assert response.status_code == 400
    assert "body" in text(response)
    assert "Please correct the fields" in text(response)
    assert not MessageTemplate.objects.exists()


def test_a_save_over_another_operators_change_is_refused(marketer):
    template = MessageTemplateFactory(name="Shared")
    read_at = read_version(marketer, reverse("template-edit", args=[template.pk]))
    saved = marketer.post(reverse("template-edit", args=[template.pk]),
                          {**TEMPLATE, "name": "Mine", "read_at": read_at})
    assert saved.status_code == 302  # saved from the version it read

    stale = marketer.post(reverse("template-edit", args=[template.pk]),
                          {**TEMPLATE, "name": "Theirs", "read_at": read_at})

    assert stale.status_code == 400
    assert "this template was changed elsewhere" in text(stale)
    assert "Theirs" in text(stale)  # what they typed is still on the page to copy
    assert MessageTemplate.objects.get(pk=template.pk).name == "Mine"


def test_a_marketer_deletes_an_unused_template(marketer):
    template = MessageTemplateFactory(name="Old mail")
    page = text(marketer.get(reverse("template-edit", args=[template.pk])))
    assert reverse("template-delete", args=[template.pk]) in page

    response = marketer.post(reverse("template-delete", args=[template.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("template-list")
    assert "Template “Old mail” deleted." in text(response)
    assert not MessageTemplate.objects.filter(pk=template.pk).exists()


def test_a_template_a_campaign_uses_is_kept_and_the_page_says_which(marketer):
    template = MessageTemplateFactory(name="In use")
    CampaignFactory(name="Birthday mail", draft_graph={"nodes": [
        {"id": "mail", "type": "send_message", "config": {"channel": "email",
                                                           "template": template.pk}}],
        "edges": []})

    response = marketer.post(reverse("template-delete", args=[template.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("template-edit", args=[template.pk])
    assert "was not deleted: used by the campaigns Birthday mail" in text(response)
    assert MessageTemplate.objects.filter(pk=template.pk).exists()


def test_a_viewer_cannot_delete_a_template(viewer):
    template = MessageTemplateFactory()

    assert viewer.post(reverse("template-delete", args=[template.pk])).status_code == 403
    assert reverse("template-delete", args=[template.pk]) not in text(
        viewer.get(reverse("template-edit", args=[template.pk])))
    assert MessageTemplate.objects.filter(pk=template.pk).exists()


def test_a_viewer_reads_a_template_but_cannot_change_it(viewer):
    template = MessageTemplateFactory(name="Keep")

    page = viewer.get(reverse("template-edit", args=[template.pk]))
    response = viewer.post(reverse("template-edit", args=[template.pk]),
                           {**TEMPLATE, "name": "Changed"})

    assert page.status_code == 200
    assert re.search(r'<textarea[^>]*name="body"[^>]*readonly', text(page))
    assert f'<input type="hidden" name="channel" value="{template.channel}">' in text(page)
    assert response.status_code == 403
    assert MessageTemplate.objects.get(pk=template.pk).name == "Keep"


def test_the_preview_renders_the_draft_for_the_chosen_customer(viewer):
    CustomerFactory(external_id="ann-1", name="Ann Lee")

    response = viewer.post(reverse("template-preview"), {
        "channel": "sms", "subject": "", "body": "Hello {{ customer.name }}!",
        "translations": "", "customer_external_id": "ann-1", "language": ""})

    assert "Hello Ann Lee!" in text(response)
    assert "As ann-1 would get it" in text(response)


def test_the_preview_shows_a_syntax_error_inline(viewer):
    response = viewer.post(reverse("template-preview"), {
        "channel": "email", "subject": "Hi", "body": "{% for %}", "translations": "",
        "customer_external_id": "", "language": ""})

    page = text(response)
    assert response.status_code == 200
    assert 'id="render-errors"' in page
    assert "<code>body</code>" in page


def test_the_preview_names_bad_translations_json(viewer):
    response = viewer.post(reverse("template-preview"), {
        "channel": "sms", "body": "Hi", "translations": "{not json"})

    assert "Not valid JSON" in text(response)


@pytest.mark.parametrize(("translations", "problem"), [
    ("[" * 100_000 + "]" * 100_000, "Not valid JSON"),
    ('{"zh-hans": {"body": "a\\u0000b"}}', "must not contain NUL"),
])
def test_the_preview_names_translations_it_cannot_take(viewer, translations, problem):
    """Nesting Python's json module recursed on until the request failed, and NUL."""
    response = viewer.post(reverse("template-preview"), {
        "channel": "sms", "body": "Hi", "translations": translations})

    assert response.status_code == 200
    assert problem in text(response)


def test_the_customer_picker_offers_matching_external_ids(viewer):
    CustomerFactory(external_id="ann-1", name="Ann Lee")
    CustomerFactory(external_id="bob-2")

    response = viewer.get(reverse("template-customer-options"),
                          {"customer_external_id": "ann"})

    assert text(response).strip() == '<option value="ann-1">Ann Lee</option>'


def test_a_marketer_test_sends_to_an_address(marketer, settings, tmp_path):
    settings.EMAIL_FILE_PATH = str(tmp_path)
    template = MessageTemplateFactory(channel="email")

    response = marketer.post(reverse("template-test-send", args=[template.pk]),
                             {"address": "qa@example.com"})

    delivery = Delivery.objects.get()
    assert response.status_code == 200
    assert (delivery.test, delivery.status, delivery.address) == (True, "sent",
                                                                  "qa@example.com")
    assert "Sent to qa@example.com." in text(response)


def test_a_test_send_to_a_bad_address_says_why_and_sends_nothing(marketer):
    template = MessageTemplateFactory(channel="email")

    response = marketer.post(reverse("template-test-send", args=[template.pk]),
                             {"address": "not-an-address"})

    assert response.status_code == 400
    assert "not an email address" in text(response)
    assert not Delivery.objects.exists()


def test_a_viewer_cannot_test_send(viewer):
    template = MessageTemplateFactory(channel="email")

    response = viewer.post(reverse("template-test-send", args=[template.pk]),
                           {"address": "qa@example.com"})

    assert response.status_code == 403
    assert not Delivery.objects.exists()


def test_templates_are_listed_by_channel(viewer):
    MessageTemplateFactory(name="Mail one", channel="email")
    MessageTemplateFactory(name="Text one", channel="sms", subject="")

    page = text(viewer.get(reverse("template-list"), {"channel": "sms"}))

    assert "Text one" in page
    assert "Mail one" not in page


# --- webhook endpoints ------------------------------------------------------------------------

def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(admin):
    response = admin.post(reverse("webhook-list"), {"name": "CRM", "url": "https://crm.example.com/in",
                                                    "is_active": "on"})

    endpoint = WebhookEndpoint.objects.get(name="CRM")
    assert endpoint.secret
    assert endpoint.secret in text(response)
    assert endpoint.secret not in text(admin.get(reverse("webhook-list")))


def test_a_bad_endpoint_url_is_a_form_error(admin):
    response = admin.post(reverse("webhook-list"), {"name": "CRM", "url": "not a url"})

    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_a_manager_cannot_create_an_endpoint(manager):
    response = manager.post(reverse("webhook-list"), {"name": "CRM",
                                                      "url": "https://crm.example.com/in"})

    assert response.status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_an_admin_deactivates_an_endpoint(admin):
    endpoint = WebhookEndpointFactory()

    admin.post(reverse("webhook-toggle", args=[endpoint.pk]))

    endpoint.refresh_from_db()
    assert endpoint.is_active is False


def test_an_admin_deletes_an_unused_endpoint(admin):
    endpoint = WebhookEndpointFactory(name="Old CRM")
    assert reverse("webhook-delete", args=[endpoint.pk]) in text(admin.get(reverse("webhook-list")))

    response = admin.post(reverse("webhook-delete", args=[endpoint.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("webhook-list")
    assert "Webhook endpoint “Old CRM” deleted." in text(response)
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_a_campaign_calls_is_kept_and_the_page_says_which(admin):
    endpoint = WebhookEndpointFactory(name="CRM")
    CampaignFactory(name="Win-back", draft_graph={"nodes": [
        {"id": "hook", "type": "call_webhook", "config": {"webhook": endpoint.pk}}],
        "edges": []})

    response = admin.post(reverse("webhook-delete", args=[endpoint.pk]), follow=True)

    assert "“CRM” was not deleted: used by the campaigns Win-back" in text(response)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_manager_cannot_delete_an_endpoint(manager):
    endpoint = WebhookEndpointFactory()

    assert manager.post(reverse("webhook-delete", args=[endpoint.pk])).status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# --- settings ---------------------------------------------------------------------------------

def _delivery_form(**changes) -> dict:
    return {"section": "delivery", "delivery-cap_messages": "5", "delivery-cap_days": "10",
            "delivery-channel_caps": '{"sms": [1, 7]}', "delivery-quiet_start": "22:00",
            "delivery-quiet_end": "08:00", "delivery-quiet_channels": ["email", "sms"],
            **changes}


def test_an_admin_changes_the_frequency_cap_and_quiet_hours(admin):
    response = admin.post(reverse("settings"), _delivery_form())

    saved = DeliverySettings.load()
    assert response.status_code == 302
    assert (saved.cap_messages, saved.cap_days, saved.channel_caps) == (5, 10, {"sms": [1, 7]})
    assert (saved.quiet_start.hour, saved.quiet_end.hour, saved.quiet_channels) == (
        22, 8, ["email", "sms"])


def test_a_bad_channel_cap_is_a_form_error_and_nothing_changes(admin):
    response = admin.post(reverse("settings"),
                          _delivery_form(**{"delivery-channel_caps": '{"fax": [1]}'}))

    assert response.status_code == 400
    assert "per channel, at most N messages in D days" in text(response)
    assert DeliverySettings.load().cap_messages == 3


def test_an_admin_changes_the_lifecycle_thresholds(admin):
    response = admin.post(reverse("settings"), {
        "section": "metrics", "metrics-new_days": "60", "metrics-active_days": "45",
        "metrics-churn_days": "200", "metrics-window_days": "365",
        "metrics-scoring": "quintiles", "metrics-fixed_thresholds": "{}",
        "metrics-high_rule": "mean", "metrics-activity_events": "[]"})

    saved = MetricsSettings.load()
    assert response.status_code == 302
    assert (saved.new_days, saved.active_days, saved.churn_days) == (60, 45, 200)


def test_fixed_scoring_without_thresholds_is_refused(admin):
    response = admin.post(reverse("settings"), {
        "section": "metrics", "metrics-new_days": "60", "metrics-active_days": "45",
        "metrics-churn_days": "200", "metrics-window_days": "365",
        "metrics-scoring": "fixed", "metrics-fixed_thresholds": "{}",
        "metrics-high_rule": "mean", "metrics-activity_events": "[]"})

    assert response.status_code == 400
    assert "fixed_thresholds is empty" in text(response)
    assert MetricsSettings.load().scoring == "quintiles"


def test_value_model_weights_cannot_all_be_zero(admin):
    fields = {"horizon_days": "90", "annual_discount_rate": "0", "min_repeat_buyers": "30",
              "weight_clv": "0", "weight_repurchase": "0", "weight_engagement": "0",
              "weight_referrals": "0", "engagement_days": "90",
              "referral_attribute": "referred_by"}

    response = admin.post(reverse("settings"), {"section": "value",
                                                **{f"value-{k}": v for k, v in fields.items()}})

    assert response.status_code == 400
    assert "At least one weight must be above 0." in text(response)
    assert ValueModelSettings.load().weight_clv == 40


def test_an_admin_creates_a_storefront_key_shown_once(admin, storefront):
    response = admin.post(reverse("settings"), {"section": "key-create",
                                                "storefront": storefront.pk})

    raw = re.search(r'id="new-key-value">([^<]+)<', response.content.decode()).group(1)
    key = StorefrontKey.objects.get()
    assert key.key_hash == hash_key(raw)
    assert key.storefront == storefront
    assert raw not in text(admin.get(reverse("settings")))


def test_an_admin_revokes_a_key(admin, storefront_key):
    key = StorefrontKey.objects.get()

    admin.post(reverse("settings"), {"section": "key-revoke", "key": key.pk})

    key.refresh_from_db()
    assert key.revoked_at is not None


def test_a_manager_cannot_create_a_key(manager, storefront):
    response = manager.post(reverse("settings"), {"section": "key-create",
                                                  "storefront": storefront.pk})

    assert response.status_code == 403
    assert not StorefrontKey.objects.exists()


# --- campaign results -------------------------------------------------------------------------

def test_a_draft_shows_the_empty_state(viewer):
    campaign = CampaignFactory()

    page = text(viewer.get(reverse("campaign-results", args=[campaign.pk])))

    assert 'id="results-empty"' in page
    assert "this campaign is a draft" in page
    assert "results-figures" not in page


def test_results_show_reach_revenue_uplift_and_branches(viewer):
    campaign = results_campaign()

    shell = text(viewer.get(reverse("campaign-results", args=[campaign.pk])))
    figures = viewer.get(reverse("campaign-results-figures", args=[campaign.pk]))
    page = text(figures)

    assert 'hx-get="' + reverse("campaign-results-figures", args=[campaign.pk]) in shell
    assert re.search(r'data-kpi="reach"><dt>Reach</dt><dd>6<', page)
    assert re.search(r'data-kpi="revenue">.*?<dd>\$100\.00<', page)
    assert "ARPU uplift $11.67 per customer" in page
    charts = {name: figures.context[name] for name in ("uplift_chart", "funnel_chart")}
    uplift = charts["uplift_chart"]["series"][0]
    assert uplift["data"][0]["value"] == [pytest.approx(11.67, abs=0.01), "ARPU uplift"]
    assert uplift["markLine"]["data"][0][0]["coord"][0] < 0 < 11.67 < \
        uplift["markLine"]["data"][0][1]["coord"][0]  # the interval, around the dot
    # The trigger counts every entry, holdouts included; the nodes only the treated.
    assert charts["funnel_chart"]["series"][0]["data"] == [8, 6, 6, 6]
    [split] = figures.context["splits"]
    assert [b_["port"] for b_ in split["node"]["branches"]] == ["A", "B"]
    assert split["chart"]["series"][0]["data"] == [20.0, 15.0]
    assert 'data-island="charts"' in page


def test_running_campaigns_figures_are_kept_warm_so_the_page_only_reads_them(
        viewer, django_assert_max_num_queries):
    from campaigns.tasks import results_refresh_task

    campaign = results_campaign()  # published: active
    CampaignFactory(name="Still a draft")

    assert results_refresh_task() == 1

    with django_assert_max_num_queries(6):  # session, user, role, campaign: no aggregate
        figures = viewer.get(reverse("campaign-results-figures", args=[campaign.pk]))
    assert re.search(r'data-kpi="reach"><dt>Reach</dt><dd>6<', text(figures))


def test_an_unknown_version_is_not_found(viewer):
    campaign = results_campaign()

    response = viewer.get(reverse("campaign-results-figures", args=[campaign.pk]),
                          {"version": "9"})

    assert response.status_code == 404


# --- language ---------------------------------------------------------------------------------

def test_the_language_choice_follows_the_operator_to_another_session(viewer):
    response = viewer.post(reverse("language-switch"), {"language": "zh-hans",
                                                        "next": reverse("coupon-list")})
    user = get_user_model().objects.get(username="op-VIEWER")
    elsewhere = Client()  # another browser: no language cookie
    elsewhere.force_login(user)

    page = elsewhere.get(reverse("coupon-list"))

    assert response.status_code == 302
    assert user.operator_preference.language == "zh-hans"
    assert page["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in page.content.decode()


def test_russian_is_offered_and_money_follows_it(viewer):
    definition = CouponDefinitionFactory(kind="fixed", value=Decimal("1234.5"), currency="RUB")
    viewer.post(reverse("language-switch"), {"language": "ru"})

    page = viewer.get(reverse("coupon-detail", args=[definition.pk])).content.decode()

    assert '<option value="ru" selected>' in page
    assert "1\xa0234,50\xa0₽" in page


def test_an_unknown_language_is_not_stored(viewer):
    viewer.post(reverse("language-switch"), {"language": "xx"})

    user = get_user_model().objects.get(username="op-VIEWER")
    assert not hasattr(user, "operator_preference") or not user.operator_preference.language


def test_only_admins_see_the_settings_link(viewer, admin):
    settings_link = f'href="{reverse("settings")}"'

    assert settings_link not in viewer.get(reverse("coupon-list")).content.decode()
    assert settings_link in admin.get(reverse("coupon-list")).content.decode()


# --- paging -----------------------------------------------------------------------------------

def test_the_template_pages_keep_the_channel_filter(viewer):
    for n in range(26):  # TEMPLATES_PER_PAGE + 1
        MessageTemplateFactory(name=f"Email {n:02}", channel="email")
    MessageTemplateFactory(name="A text", channel="sms")

    first = viewer.get(reverse("template-list"), {"channel": "email"}).content.decode()
    second = viewer.get(reverse("template-list"), {"channel": "email", "page": 2})

    assert '<a href="?channel=email&amp;page=2" rel="next">' in first
    assert "Page 1 of 2" in first
    assert '<a href="?channel=email&amp;page=1" rel="prev">' in second.content.decode()
    assert "Email 25" in second.content.decode()
    assert "A text" not in second.content.decode()


def test_the_storefront_keys_page_on_their_own_parameter(admin, storefront):
    from customers.services.storefronts import storefront_key_create

    for _ in range(21):  # KEYS_PER_PAGE + 1
        storefront_key_create(storefront=storefront)

    page = admin.get(reverse("settings")).content.decode()

    assert '<a href="?keys=2#keys" rel="next">' in page
