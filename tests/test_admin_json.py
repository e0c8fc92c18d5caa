"""Every JSON field the Django admin edits reads its text safely (customers.admin.JSONFormField):
what jsonb cannot store or Python's json module cannot parse is a field error, not a 500."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.test import RequestFactory
from django.urls import reverse

from customers.admin import JSONFormField
from customers.models import Customer
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _admins():
    for model, model_admin in admin.site._registry.items():
        yield model, model_admin
        for inline in model_admin.inlines:
            yield inline.model, inline(model, admin.site)


def test_every_json_field_the_admin_edits_is_a_json_form_field():
    superuser = get_user_model().objects.create_superuser("admin", "a@example.com", None)
    request = RequestFactory().get("/")
    request.user = superuser
    checked = []
    for model, model_admin in _admins():
        json_fields = [f.name for f in model._meta.fields if isinstance(f, models.JSONField)]
        form = model_admin.get_formset(request).form if hasattr(model_admin, "get_formset") \
            else model_admin.get_form(request)
        for name in json_fields:
            if name in form.base_fields:
                checked.append(f"{model.__name__}.{name}")
                assert isinstance(form.base_fields[name], JSONFormField), checked[-1]
    assert {"Customer.attributes", "Segment.rule", "MessageTemplate.translations"} <= set(checked)


@pytest.mark.parametrize(("attributes", "message"), [
    ("[" * 5000 + "]" * 5000, "Enter a valid JSON."),
    ('{"note": "a\\u0000b"}', "must not contain NUL"),
    ('{"score": NaN}', "Enter a valid JSON."),
])
def test_the_admin_refuses_json_it_cannot_store_as_a_field_error(client, attributes, message):
    client.force_login(get_user_model().objects.create_superuser("admin", "a@example.com", None))
    customer = CustomerFactory(external_id="c1", attributes={"tier": "gold"})
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    fields = client.get(url).context["adminform"].form.initial

    response = client.post(url, {
        **{name: value for name, value in fields.items() if isinstance(value, str | int)},
        "attributes": attributes, "tags": "[]"})

    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors["attributes"][0]
    assert Customer.objects.get().attributes == {"tier": "gold"}
