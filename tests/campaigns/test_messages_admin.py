"""The admin's messages section: templates checked on save, webhook secrets write-only,
deliveries read-only, delivery settings a single row."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import DeliverySettings, MessageTemplate, Suppression, WebhookEndpoint
from tests.campaigns.factories import DeliveryFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db
MODELS = ["messagetemplate", "webhookendpoint", "delivery", "suppression", "deliverysettings"]


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", None)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model_name", MODELS)
def test_changelist_loads(admin_client, model_name):
    DeliveryFactory(webhook=WebhookEndpointFactory())
    Suppression.objects.create(channel="email", address="x@example.com", reason="bounced")
    DeliverySettings.load()

    response = admin_client.get(reverse(f"admin:campaigns_{model_name}_changelist"))

    assert response.status_code == 200


def test_a_template_with_a_syntax_error_is_refused(admin_client):
    response = admin_client.post(reverse("admin:campaigns_messagetemplate_add"), {
        "name": "Broken", "channel": "email", "subject": "Hi", "body": "{% if %}",
        "translations": "{}"})

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not MessageTemplate.objects.exists()


def test_a_webhook_secret_is_never_shown_and_kept_when_left_empty(admin_client):
    endpoint = WebhookEndpointFactory(secret="the-stored-secret-value")
    url = reverse("admin:campaigns_webhookendpoint_change", args=[endpoint.pk])

    page = admin_client.get(url)
    admin_client.post(url, {"name": endpoint.name, "url": endpoint.url, "secret": "",
                            "is_active": "on"})

    assert b"the-stored-secret-value" not in page.content
    endpoint.refresh_from_db()
    assert endpoint.secret == "the-stored-secret-value"


def test_a_new_endpoint_without_a_secret_gets_one_shown_once(admin_client):
    response = admin_client.post(reverse("admin:campaigns_webhookendpoint_add"), {
        "name": "CRM", "url": "https://crm.example.com/hook", "secret": "", "is_active": "on"},
        follow=True)

    secret = WebhookEndpoint.objects.get().secret
    assert len(secret) >= 32
    assert secret.encode() in response.content


def test_deliveries_are_read_only(admin_client):
    delivery = DeliveryFactory()

    assert admin_client.get(reverse("admin:campaigns_delivery_add")).status_code == 403
    assert admin_client.post(reverse("admin:campaigns_delivery_delete",
                                     args=[delivery.pk]), {"post": "yes"}).status_code == 403


def test_delivery_settings_are_one_row(admin_client):
    DeliverySettings.load()

    assert admin_client.get(reverse("admin:campaigns_deliverysettings_add")).status_code == 403


def test_delivery_settings_refuse_an_unknown_quiet_channel(admin_client):
    settings = DeliverySettings.load()

    response = admin_client.post(
        reverse("admin:campaigns_deliverysettings_change", args=[settings.pk]),
        {"cap_messages": 3, "cap_days": 7, "channel_caps": '{"sms": [1, 7]}',
         "quiet_start": "21:00", "quiet_end": "09:00", "quiet_channels": '["fax"]'})

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert DeliverySettings.load().quiet_channels == ["email", "sms"]
