"""The operator API for messages, as an operator sees it: /api/v1/message-templates/...
(CRUD, preview, live preview, test send) and /api/v1/webhook-endpoints/."""

import datetime as dt

import pytest
import sms
from django.core import mail
from django.utils import timezone

from campaigns.models import Delivery, MessageTemplate, WebhookEndpoint
from customers.models import Customer
from tests.campaigns.factories import (
    CampaignFactory,
    CouponDefinitionFactory,
    DeliveryFactory,
    MessageTemplateFactory,
    WebhookEndpointFactory,
    node,
)
from tests.customers.factories import CustomerFactory
from tests.segments.operators import errors, staff_user, token_client

pytestmark = pytest.mark.django_db
TEMPLATES = "/api/v1/message-templates/"
HOOKS = "/api/v1/webhook-endpoints/"


@pytest.fixture
def operator():
    return token_client(staff_user())


def created(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize(("method", "url"), [
    ("get", TEMPLATES), ("post", TEMPLATES), ("get", f"{TEMPLATES}1/"),
    ("patch", f"{TEMPLATES}1/"), ("delete", f"{TEMPLATES}1/"), ("post", f"{TEMPLATES}preview/"),
    ("post", f"{TEMPLATES}1/preview/"), ("post", f"{TEMPLATES}1/test-send/"),
    ("get", HOOKS), ("post", HOOKS), ("get", f"{HOOKS}1/"), ("delete", f"{HOOKS}1/"),
])
def test_a_storefront_key_is_refused_everywhere(api, method, url):
    MessageTemplateFactory(pk=1)

    response = getattr(api, method)(url, {}, format="json")

    assert response.status_code == 401
    assert MessageTemplate.objects.filter(pk=1).exists()


def test_a_non_staff_user_is_refused(db):
    client = token_client(staff_user("clerk", is_staff=False))

    assert client.get(TEMPLATES).status_code == 403


# --- templates -------------------------------------------------------------------------------

def test_create_then_read_a_template(operator):
    body = created(operator.post(TEMPLATES, {
        "name": "Welcome", "channel": "email", "subject": "Hi {{ customer.name }}",
        "body": "<p>{{ coupon.code }}</p>",
        "translations": {"zh-Hans": {"subject": "你好", "body": "<p>码</p>"}}}, format="json"))

    assert body["translations"] == {"zh-hans": {"subject": "你好", "body": "<p>码</p>"}}
    assert operator.get(f"{TEMPLATES}{body['id']}/").json()["name"] == "Welcome"
    assert operator.get(TEMPLATES).json()["count"] == 1


@pytest.mark.parametrize(("fields", "field"), [
    ({"body": "{% if %}"}, "body"),
    ({"subject": "{{ a|nofilter }}"}, "subject"),
    ({"translations": {"zh-hans": {"body": "{% for %}"}}}, "translations.zh-hans.body"),
    ({"channel": "fax"}, "channel"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_template_is_a_400_naming_the_field_and_writes_nothing(operator, fields, field):
    response = operator.post(TEMPLATES, {"name": "T", "channel": "email", "subject": "S",
                                         "body": "B", **fields}, format="json")

    assert field in errors(response)
    assert not MessageTemplate.objects.exists()


def test_a_taken_name_is_refused(operator):
    MessageTemplateFactory(name="Welcome")

    response = operator.post(TEMPLATES, {"name": "Welcome", "channel": "sms", "body": "x"},
                             format="json")

    assert "name" in errors(response)


def test_patch_changes_one_field_and_checks_it(operator):
    template = MessageTemplateFactory()

    assert operator.patch(f"{TEMPLATES}{template.pk}/", {"body": "{% endif %}"},
                          format="json").status_code == 400
    response = operator.patch(f"{TEMPLATES}{template.pk}/", {"body": "<p>New</p>"},
                              format="json")

    assert response.status_code == 200
    template.refresh_from_db()
    assert (template.body, template.subject) == ("<p>New</p>",
                                                  "A gift for you, {{ customer.name }}")


def test_a_template_change_from_a_stale_copy_is_refused(operator):
    url = f"{TEMPLATES}{MessageTemplateFactory().pk}/"
    read = operator.get(url)
    assert read["ETag"] == f'"{read.json()["updated_at"]}"'
    first = operator.patch(url, {"body": "<p>Mine</p>"}, format="json",
                           HTTP_IF_MATCH=read["ETag"])
    assert first.status_code == 200, first.content

    stale = operator.patch(url, {"body": "<p>Theirs</p>"}, format="json",
                           HTTP_IF_MATCH=read["ETag"])

    assert stale.status_code == 412
    assert stale.json()["code"] == "changed_elsewhere"
    assert MessageTemplate.objects.get().body == "<p>Mine</p>"
    assert operator.patch(url, {"body": "<p>Theirs</p>"}, format="json",
                          HTTP_IF_MATCH=first["ETag"]).status_code == 200


def test_delete_an_unused_template(operator):
    template = MessageTemplateFactory()

    assert operator.delete(f"{TEMPLATES}{template.pk}/").status_code == 204
    assert not MessageTemplate.objects.exists()


def test_a_template_in_a_campaign_graph_cannot_be_deleted(operator):
    template = MessageTemplateFactory()
    CampaignFactory(name="Winback", draft_graph={"nodes": [
        node("m", "send_message", channel="email", template=template.pk)], "edges": []})

    response = operator.delete(f"{TEMPLATES}{template.pk}/")

    assert response.status_code == 409
    assert "Winback" in response.json()["message"]


def test_a_template_with_sent_messages_cannot_be_deleted(operator):
    delivery = DeliveryFactory(status="sent")

    assert operator.delete(f"{TEMPLATES}{delivery.template_id}/").status_code == 409


def test_unknown_template_is_a_404(operator):
    assert operator.get(f"{TEMPLATES}999/").status_code == 404


# --- preview ---------------------------------------------------------------------------------

def test_preview_renders_for_the_customer_in_their_language(operator):
    template = MessageTemplateFactory(
        subject="Hi {{ customer.name }}", body="<p>{{ metrics.order_count }}</p>",
        translations={"zh-hans": {"subject": "你好 {{ customer.name }}"}})
    CustomerFactory(external_id="li", name="Li <3", language="zh-hans-cn")

    response = operator.post(f"{TEMPLATES}{template.pk}/preview/",
                             {"customer_external_id": "li"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["subject"], body["language"], body["customer"]) == ("你好 Li <3", "zh-hans",
                                                                     "li")
    assert body["body"].startswith("<p>0</p>")


def test_preview_in_a_chosen_language(operator):
    template = MessageTemplateFactory(translations={"zh-hans": {"subject": "你好"}})
    CustomerFactory(external_id="li", language="zh-hans")

    body = operator.post(f"{TEMPLATES}{template.pk}/preview/",
                         {"customer_external_id": "li", "language": "en"},
                         format="json").json()

    assert (body["language"], body["subject"].startswith("A gift")) == ("", True)


def test_preview_uses_the_customers_coupon_or_a_sample_one(operator):
    template = MessageTemplateFactory(body="{{ coupon.code }}|{{ coupon.discount }}")
    li = CustomerFactory(external_id="li")
    CustomerFactory(external_id="bo")
    CouponDefinitionFactory(code_prefix="VIP", value=20).coupons.create(
        code="VIP23456789AB", customer=li, issued_at=timezone.now(),
        expires_at=timezone.now() + dt.timedelta(days=3))

    mine = operator.post(f"{TEMPLATES}{template.pk}/preview/", {"customer_external_id": "li"},
                         format="json").json()
    sample = operator.post(f"{TEMPLATES}{template.pk}/preview/", {"customer_external_id": "bo"},
                           format="json").json()

    assert mine["body"].startswith("VIP-23456-789AB|20% off")
    assert sample["body"].startswith("SAMPLE-7KQ4D-MX2PB|15% off")


def test_preview_for_an_unknown_customer_is_a_400_naming_it(operator):
    template = MessageTemplateFactory()

    response = operator.post(f"{TEMPLATES}{template.pk}/preview/",
                             {"customer_external_id": "nobody"}, format="json")

    assert "customer_external_id" in errors(response)


def test_live_preview_renders_unsaved_fields_for_a_sample_customer(operator):
    response = operator.post(f"{TEMPLATES}preview/", {
        "channel": "sms", "body": "Hi {{ customer.name }}"}, format="json")

    assert response.status_code == 200
    assert response.json()["body"].startswith("Hi Alex Sample")
    assert not MessageTemplate.objects.exists()


def test_live_preview_names_a_syntax_error(operator):
    response = operator.post(f"{TEMPLATES}preview/", {
        "channel": "email", "subject": "S", "body": "{% if x %}"}, format="json")

    assert "body" in errors(response)


# --- test send -------------------------------------------------------------------------------

def test_test_send_emails_the_given_address_and_records_a_test_delivery(operator):
    template = MessageTemplateFactory(subject="Hi {{ customer.name }}")
    CustomerFactory(external_id="li", name="Li", email_consent=False)

    response = operator.post(f"{TEMPLATES}{template.pk}/test-send/",
                             {"address": "QA@Example.com", "customer_external_id": "li"},
                             format="json")

    body = created(response)
    assert (body["status"], body["test"], body["address"], body["customer"]) == (
        "sent", True, "qa@example.com", "li")
    [email] = mail.outbox
    assert (email.to, email.subject) == (["qa@example.com"], "Hi Li")
    delivery = Delivery.objects.get()
    assert (delivery.test, delivery.campaign_id, delivery.journey_id) == (True, None, None)


def test_the_unsubscribe_link_of_a_test_send_does_not_unsubscribe_the_customer(operator,
                                                                              client):
    template = MessageTemplateFactory()
    CustomerFactory(external_id="li", email_consent=True)
    created(operator.post(f"{TEMPLATES}{template.pk}/test-send/",
                          {"address": "qa@example.com", "customer_external_id": "li"},
                          format="json"))
    link = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>")

    response = client.post(link.removeprefix("http://127.0.0.1:8000"))

    assert response.status_code == 400
    assert Customer.objects.get(external_id="li").email_consent is True


def test_test_send_without_a_customer_renders_a_sample_one(operator):
    template = MessageTemplateFactory(channel="sms", body="Hi {{ customer.name }}")

    body = created(operator.post(f"{TEMPLATES}{template.pk}/test-send/",
                                 {"address": "+1 555 0199"}, format="json"))

    assert (body["status"], body["customer"]) == ("sent", None)
    assert sms.outbox[0].body == "Hi Alex Sample\nUnsubscribe: http://127.0.0.1:8000/u/preview/"


@pytest.mark.parametrize(("channel", "payload", "field"), [
    ("email", {"address": "not-an-address"}, "address"),
    ("email", {}, "address"),
    ("sms", {"address": "call me"}, "address"),
    ("inbox", {"address": "x"}, "customer_external_id"),
    ("webhook", {}, "webhook"),
    ("webhook", {"webhook": 999}, "webhook"),
])
def test_test_send_needs_a_target_fitting_the_channel(operator, channel, payload, field):
    body = '{"a": 1}' if channel == "webhook" else "x"
    template = MessageTemplateFactory(channel=channel, body=body)

    response = operator.post(f"{TEMPLATES}{template.pk}/test-send/", payload, format="json")

    assert field in errors(response)
    assert not Delivery.objects.exists()


def test_test_send_to_the_inbox_goes_to_the_customers_inbox(operator, api):
    template = MessageTemplateFactory(channel="inbox", subject="Hello", body="Welcome")
    CustomerFactory(external_id="li")

    created(operator.post(f"{TEMPLATES}{template.pk}/test-send/",
                          {"customer_external_id": "li"}, format="json"))

    messages = api.get("/api/v1/customers/li/offers/").json()["messages"]
    assert [(m["subject"], m["body"]) for m in messages] == [("Hello", "Welcome")]


# --- webhook endpoints -----------------------------------------------------------------------

def test_a_new_endpoint_shows_its_generated_secret_once(operator):
    body = created(operator.post(HOOKS, {"name": "CRM", "url": "https://crm.example.com/h"},
                                 format="json"))

    assert len(body["secret"]) >= 32
    assert WebhookEndpoint.objects.get().secret == body["secret"]
    assert "secret" not in operator.get(f"{HOOKS}{body['id']}/").json()
    assert "secret" not in operator.get(HOOKS).json()["results"][0]


def test_a_secret_can_be_set_and_rotated_but_never_read(operator):
    endpoint = WebhookEndpointFactory()

    response = operator.patch(f"{HOOKS}{endpoint.pk}/", {"secret": "a-brand-new-secret-value"},
                              format="json")

    assert response.status_code == 200
    assert "secret" not in response.json()
    endpoint.refresh_from_db()
    assert endpoint.secret == "a-brand-new-secret-value"


def test_an_endpoint_change_from_a_stale_copy_is_refused(operator):
    url = f"{HOOKS}{WebhookEndpointFactory(name='CRM').pk}/"
    read = operator.get(url)
    first = operator.patch(url, {"name": "CRM 2"}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert first.status_code == 200, first.content
    assert first["ETag"] != read["ETag"]

    stale = operator.patch(url, {"is_active": False}, format="json",
                           HTTP_IF_MATCH=read["ETag"])

    assert stale.status_code == 412
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.name, endpoint.is_active) == ("CRM 2", True)


def test_an_endpoint_needs_a_url(operator):
    assert "url" in errors(operator.post(HOOKS, {"name": "CRM", "url": "crm"}, format="json"))


def test_an_endpoint_in_use_cannot_be_deleted(operator):
    endpoint = WebhookEndpointFactory()
    DeliveryFactory(channel="webhook", webhook=endpoint, template=None)

    assert operator.delete(f"{HOOKS}{endpoint.pk}/").status_code == 409
    assert WebhookEndpoint.objects.exists()
