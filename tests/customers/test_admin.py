"""The Django admin: every customers model has a working changelist, API keys are shown once
and stored hashed, keys can be revoked, and system-written rows are read-only."""

import datetime as dt
import hashlib
import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from customers.models import (
    CustomerMetrics,
    CustomerPrediction,
    DashboardFigure,
    Erasure,
    LifecycleChange,
    LifecycleStage,
    MetricsRun,
    MetricsSettings,
    OperatorPreference,
    StorefrontKey,
    ValueModelCheck,
    ValueModelFit,
    ValueModelSettings,
)
from customers.services.storefronts import storefront_key_create
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db

CUSTOMERS_MODELS = sorted(
    model._meta.model_name for model in apps.get_app_config("customers").get_models()
)


@pytest.fixture
def admin_client(client):
    """A logged-in superuser; pytest-django's own hashes a password, ~1 s per test here."""
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", None)
    client.force_login(user)
    return client


def changelist(model_name: str) -> str:
    return reverse(f"admin:customers_{model_name}_changelist")


@pytest.fixture
def populated(storefront):
    """One row of every model, so changelists render real rows and their columns."""
    customer = CustomerFactory(external_id="c-1", last_seen_at=timezone.now())
    OrderFactory(customer=customer, storefront=storefront)
    EventFactory(customer=customer, storefront=storefront)
    CustomerMetrics.objects.create(customer=customer, lifecycle_stage=LifecycleStage.NEW,
                                   computed_at=timezone.now())
    LifecycleChange.objects.create(customer=customer, to_stage=LifecycleStage.NEW,
                                   changed_at=timezone.now())
    MetricsRun.objects.create(cutoff=timezone.now())
    MetricsSettings.load()
    storefront_key_create(storefront=storefront)
    ValueModelSettings.load()
    fit = ValueModelFit.objects.create(fitted_at=timezone.now(), cutoff=timezone.now(),
                                       status=ValueModelFit.Status.OK)
    ValueModelCheck.objects.create(created_at=timezone.now(), cutoff=timezone.now(),
                                   end=timezone.now())
    CustomerPrediction.objects.create(customer=customer, fit=fit, computed_at=timezone.now())
    Erasure.objects.create(customer=customer, erased_at=timezone.now(), requested_by="test")
    DashboardFigure.objects.create(key="kpis", value={"customers": 1}, computed_at=timezone.now())
    OperatorPreference.objects.create(
        user=get_user_model().objects.create_user("zh-operator"), language="zh-hans")
    return customer


def test_every_customers_model_is_registered():
    registered = {model._meta.model_name for model in admin.site._registry
                  if model._meta.app_label == "customers"}
    assert registered == set(CUSTOMERS_MODELS)


@pytest.mark.parametrize("model_name", CUSTOMERS_MODELS)
def test_changelist_loads_for_a_superuser(admin_client, populated, model_name):
    response = admin_client.get(changelist(model_name))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


@pytest.mark.parametrize("model_name", CUSTOMERS_MODELS)
def test_changelist_search_loads(admin_client, populated, model_name):
    response = admin_client.get(changelist(model_name), {"q": "c-1"})
    assert response.status_code == 200


def test_customer_change_page_shows_its_metrics_read_only(admin_client, populated):
    response = admin_client.get(reverse("admin:customers_customer_change", args=[populated.pk]))
    assert response.status_code == 200
    assert '<div class="readonly">New</div>' in response.content.decode()


def test_create_key_action_shows_the_key_once_and_stores_only_its_hash(admin_client,
                                                                       storefront):
    response = admin_client.post(
        changelist("storefront"),
        {"action": "create_api_key", "_selected_action": [storefront.pk]},
        follow=True,
    )
    raw_key = re.search(r"(sk_[A-Za-z0-9_-]{40,})", response.content.decode()).group(1)
    key = StorefrontKey.objects.get(storefront=storefront)
    assert key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key.startswith(key.prefix)
    assert not any(raw_key in str(getattr(key, f.attname)) for f in key._meta.concrete_fields)
    assert raw_key not in admin_client.get(changelist("storefront")).content.decode()


def test_storefront_page_lists_keys_without_their_hash(admin_client, storefront):
    key, _raw = storefront_key_create(storefront=storefront)
    response = admin_client.get(reverse("admin:customers_storefront_change",
                                        args=[storefront.pk]))
    text = response.content.decode()
    assert key.prefix in text
    assert key.key_hash not in text


def test_revoke_action_revokes_only_the_selected_keys(admin_client, storefront):
    keep, _raw = storefront_key_create(storefront=storefront)
    revoke, _raw = storefront_key_create(storefront=storefront)
    response = admin_client.post(
        changelist("storefrontkey"),
        {"action": "revoke_keys", "_selected_action": [revoke.pk]},
        follow=True,
    )
    keep.refresh_from_db()
    revoke.refresh_from_db()
    assert revoke.revoked_at is not None
    assert keep.revoked_at is None
    assert "Revoked 1 key." in response.content.decode()


def test_revoking_an_already_revoked_key_keeps_its_revocation_time(admin_client, storefront):
    key, _raw = storefront_key_create(storefront=storefront)
    revoked_at = timezone.now() - dt.timedelta(days=3)
    StorefrontKey.objects.filter(pk=key.pk).update(revoked_at=revoked_at)
    admin_client.post(changelist("storefrontkey"),
                      {"action": "revoke_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at == revoked_at


def test_keys_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(reverse("admin:customers_storefrontkey_add")).status_code == 403


def test_metrics_settings_can_be_added_while_none_exists(admin_client):
    assert admin_client.get(reverse("admin:customers_metricssettings_add")).status_code == 200


def test_metrics_settings_is_a_singleton_that_cannot_be_deleted(admin_client):
    settings = MetricsSettings.load()
    assert admin_client.get(reverse("admin:customers_metricssettings_add")).status_code == 403
    delete_url = reverse("admin:customers_metricssettings_delete", args=[settings.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert MetricsSettings.objects.count() == 1


def test_metrics_settings_can_be_edited(admin_client):
    settings = MetricsSettings.load()
    url = reverse("admin:customers_metricssettings_change", args=[settings.pk])
    form = {"window_days": 180, "new_days": 90, "active_days": 60, "churn_days": 180,
            "scoring": "quintiles", "fixed_thresholds": "{}", "high_rule": "median",
            "activity_events": '["visit"]'}
    assert admin_client.post(url, form).status_code == 302
    settings.refresh_from_db()
    assert (settings.window_days, settings.high_rule, settings.activity_events) == (
        180, "median", ["visit"])


@pytest.mark.parametrize("model_name", ["metricsrun", "lifecyclechange", "customermetrics"])
def test_system_written_rows_are_read_only(admin_client, populated, model_name):
    model = apps.get_model("customers", model_name)
    obj = model.objects.get()
    url = reverse(f"admin:customers_{model_name}_change", args=[obj.pk])
    assert admin_client.get(url).status_code == 200  # viewable
    assert admin_client.post(url, {}).status_code == 403
    assert admin_client.get(reverse(f"admin:customers_{model_name}_add")).status_code == 403
