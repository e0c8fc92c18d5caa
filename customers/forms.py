"""Forms of the customers app's settings as the operator settings page edits them (admins):
lifecycle and RFM thresholds, the value model's settings, and a new storefront API key."""

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import MetricsSettings, Storefront, ValueModelSettings
from customers.services.metrics import MetricsSettingsError, fixed_thresholds


class MetricsSettingsForm(forms.ModelForm):
    class Meta:
        model = MetricsSettings
        fields = ["new_days", "active_days", "churn_days", "window_days", "scoring",
                  "fixed_thresholds", "high_rule", "activity_events"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scoring") == MetricsSettings.Scoring.FIXED:
            probe = MetricsSettings(fixed_thresholds=cleaned.get("fixed_thresholds") or {})
            try:
                fixed_thresholds(probe)  # the recompute's own check, before it is stored
            except MetricsSettingsError as exc:
                self.add_error("fixed_thresholds", str(exc))
        events = cleaned.get("activity_events")
        if events is not None and not (isinstance(events, list)
                                       and all(isinstance(e, str) for e in events)):
            self.add_error("activity_events", _('A list of event names: ["visit", "login"].'))
        return cleaned


class ValueModelSettingsForm(forms.ModelForm):
    class Meta:
        model = ValueModelSettings
        fields = ["horizon_days", "annual_discount_rate", "min_repeat_buyers", "weight_clv",
                  "weight_repurchase", "weight_engagement", "weight_referrals",
                  "engagement_days", "referral_attribute"]

    def clean(self):
        cleaned = super().clean()
        weights = [cleaned.get(name) for name in ("weight_clv", "weight_repurchase",
                                                  "weight_engagement", "weight_referrals")]
        if all(w is not None for w in weights) and sum(weights) == 0:
            raise forms.ValidationError(_("At least one weight must be above 0."))
        return cleaned


class StorefrontKeyForm(forms.Form):
    storefront = forms.ModelChoiceField(label=_("Storefront"),
                                        queryset=Storefront.objects.order_by("name"))


class ErasureForm(forms.Form):
    """The confirmation of an erasure: the operator types the customer's external id."""

    confirm = forms.CharField(label=_("Type the customer's external id to confirm"),
                              max_length=200, strip=False)

    def __init__(self, *args, external_id: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.external_id = external_id

    def clean_confirm(self) -> str:
        confirm = self.cleaned_data["confirm"]
        if confirm.strip() != self.external_id:
            raise forms.ValidationError(
                _("That is not this customer's external id: nothing was erased."))
        return confirm
