"""The settings page (admins only): the delivery controls (campaigns), the lifecycle and RFM
thresholds and the value model's settings (customers), and storefront API keys. Composed
here, in the highest app; each form and service belongs to the app that owns the model."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.forms import DeliverySettingsPageForm
from campaigns.models import DeliverySettings
from customers.forms import MetricsSettingsForm, StorefrontKeyForm, ValueModelSettingsForm
from customers.models import MetricsSettings, StorefrontKey, ValueModelSettings
from customers.roles import Role, role_required
from customers.services.storefronts import storefront_key_create, storefront_keys_revoke

KEYS_PER_PAGE = 20
SECTIONS = {  # name: (form class, the settings row, what the success message calls it)
    "delivery": (DeliverySettingsPageForm, DeliverySettings.load,
                 gettext_lazy("Delivery controls")),
    "metrics": (MetricsSettingsForm, MetricsSettings.load,
                gettext_lazy("Lifecycle and RFM thresholds")),
    "value": (ValueModelSettingsForm, ValueModelSettings.load, gettext_lazy("Value model")),
}


def _forms(bound: str = "", data=None) -> dict:
    """One form per section; only `bound`'s carries the posted data."""
    return {name: form_class(data if name == bound else None, instance=load(), prefix=name)
            for name, (form_class, load, _label) in SECTIONS.items()}


def _page(request, forms: dict, *, key_form=None, new_key=None, status=200) -> HttpResponse:
    keys = StorefrontKey.objects.select_related("storefront").order_by("-created_at", "-pk")
    return render(request, "campaigns/settings/settings.html", {
        "forms": forms, "key_form": key_form or StorefrontKeyForm(), "new_key": new_key,
        "keys": Paginator(keys, KEYS_PER_PAGE).get_page(request.GET.get("keys"))},
        status=status)


@role_required(Role.ADMIN)
def settings_page(request):
    if request.method != "POST":
        return _page(request, _forms())
    section = request.POST.get("section", "")
    if section == "key-create":
        return _key_create(request)
    if section == "key-revoke":
        return _key_revoke(request)
    if section not in SECTIONS:
        return _page(request, _forms(), status=400)
    forms = _forms(section, request.POST)
    if not forms[section].is_valid():
        return _page(request, forms, status=400)
    forms[section].save()
    messages.success(request, _("%(section)s saved.") % {"section": SECTIONS[section][2]})
    return redirect(f"{request.path}#{section}")


def _key_create(request) -> HttpResponse:
    form = StorefrontKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, _forms(), key_form=form, status=400)
    key, raw_key = storefront_key_create(storefront=form.cleaned_data["storefront"])
    # Only the hash is stored: this answer is the one time the key can be shown.
    return _page(request, _forms(), new_key={"key": key, "raw": raw_key})


def _key_revoke(request) -> HttpResponse:
    revoked = storefront_keys_revoke(keys=StorefrontKey.objects.filter(
        pk=request.POST.get("key") if str(request.POST.get("key", "")).isdigit() else None))
    if revoked:
        messages.success(request, _("The key was revoked: storefronts using it are refused "
                                    "from now on."))
    else:
        messages.error(request, _("No such active key."))
    return redirect(f"{request.path}#keys")
