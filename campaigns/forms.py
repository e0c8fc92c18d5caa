"""Forms of the campaigns app's operator pages and of its admin: each runs the same checks as
the operator API (campaigns.services), so a page, the admin and the API refuse the same input
with the same message."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.channels import CHANNELS
from campaigns.models import (
    Channel,
    CouponDefinition,
    DeliverySettings,
    MessageTemplate,
    WebhookEndpoint,
)
from campaigns.services.coupons import DEFINITION_FIELDS, definition_problems, definition_values
from campaigns.services.rendering import template_problems
from customers.schemas import NulInJson, in_utc, read_json
from customers.versions import changed_since_read


class ReadVersionMixin:
    """For the form of an editor page: a hidden `read_at` with the version the page was
    opened on (the object's updated_at), so that a save over a newer one can be refused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["read_at"] = forms.CharField(widget=forms.HiddenInput, required=False)
        if self.instance.pk:
            self.fields["read_at"].initial = self.instance.updated_at.isoformat()

    def changed_elsewhere(self) -> bool:
        """Whether another save came in since the page was read; call it in the save's
        transaction (the row stays locked until it ends)."""
        return self.instance.pk is not None and changed_since_read(
            type(self.instance), self.instance.pk, self.cleaned_data["read_at"])


class MessageTemplateForm(ReadVersionMixin, forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["name", "channel", "subject", "body", "translations"]

    def clean(self):
        data = super().clean()
        if {"channel", "body"} <= set(data):
            for field, message in template_problems(
                    channel=data["channel"], subject=data.get("subject", ""),
                    body=data["body"], translations=data.get("translations") or {},
                    now=timezone.now()):
                name = field if field in self.fields else "translations"
                self.add_error(name, f"{field}: {message}" if name != field else message)
        return data


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    secret = forms.CharField(
        label=_("signing secret"), required=False, min_length=16, max_length=128,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Write-only. Leave empty to keep the current one (a new endpoint gets a "
                    "random one, shown once after saving)."))

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "secret", "is_active"]

    def clean_secret(self):
        return self.cleaned_data["secret"] or self.instance.secret or ""


class DeliverySettingsForm(forms.ModelForm):
    class Meta:
        model = DeliverySettings
        fields = ["cap_messages", "cap_days", "channel_caps", "quiet_start", "quiet_end",
                  "quiet_channels"]

    def clean_channel_caps(self):
        caps = self.cleaned_data["channel_caps"] or {}
        good = isinstance(caps, dict) and all(
            channel in CHANNELS and isinstance(cap, list) and len(cap) == 2
            and all(isinstance(n, int) and n >= 0 for n in cap) for channel, cap in caps.items())
        if not good:
            raise forms.ValidationError(_('{"sms": [1, 7]}: per channel, at most N messages '
                                          "in D days."))
        return caps

    def clean_quiet_channels(self):
        channels = self.cleaned_data["quiet_channels"] or []
        if not isinstance(channels, list) or not set(channels) <= set(CHANNELS):
            raise forms.ValidationError(_("A list of channels: %(channels)s.")
                                        % {"channels": ", ".join(CHANNELS)})
        return channels


class CouponDefinitionForm(forms.ModelForm):
    """Checked as the API checks a definition (campaigns.services.coupons)."""

    class Meta:
        model = CouponDefinition
        fields = DEFINITION_FIELDS

    def clean(self):
        cleaned = super().clean()
        instance = self.instance if self.instance.pk else None
        changes = {name: cleaned[name] for name in DEFINITION_FIELDS if name in cleaned}
        for field, message in definition_problems(definition_values(instance, changes),
                                                  instance).items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned


# --- the operator pages' variants -----------------------------------------------------------


def _moment_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class MomentField(forms.DateTimeField):
    """A moment typed in one field, kept in UTC: ISO 8601 allows offsets up to 23:59,
    PostgreSQL reads at most 15:59 (a time typed with +20:00 was a 500)."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return in_utc(moment)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") \
                from None


class CouponDefinitionPageForm(ReadVersionMixin, CouponDefinitionForm):
    """The coupon page's form: the admin's checks, the browser's date-time pickers, the
    fields in the admin's groups."""

    SECTIONS = (
        (_("Discount"), ("name", "kind", "value", "currency", "min_order_amount",
                         "max_discount", "stackable", "is_active")),
        (_("Validity"), ("valid_from", "valid_until", "valid_days")),
        (_("Codes"), ("code_prefix", "per_customer_limit", "shared_code", "shared_limit")),
        (_("Budget"), ("max_codes", "max_discount_total")),
    )

    class Meta(CouponDefinitionForm.Meta):
        field_classes = {"valid_from": MomentField, "valid_until": MomentField}
        widgets = {"valid_from": _moment_input(), "valid_until": _moment_input()}
        help_texts = {
            "currency": _("ISO 4217, e.g. CNY; empty: any. Orders in another currency are "
                          "refused."),
            "max_discount": _("Percentage coupons only: the most one order may take off."),
            "valid_days": _("A personal code is valid this many days from its issue."),
            "shared_code": _("One code for everyone (e.g. SUMMER20), instead of personal "
                             "codes."),
            "shared_limit": _("Uses of the shared code in all; empty: no limit."),
            "max_codes": _("Personal codes issued at most; empty: no limit."),
            "max_discount_total": _("Total discount granted at most, across all codes."),
            "code_prefix": _("Up to 8 letters and digits before generated codes."),
        }

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]


class CouponIssueForm(forms.Form):
    customer_external_id = forms.CharField(label=_("Customer (external id)"), max_length=128)


class DeliverySettingsPageForm(DeliverySettingsForm):
    quiet_channels = forms.MultipleChoiceField(
        label=_("Channels with quiet hours"), required=False,
        choices=[(key, label) for key, label in Channel.choices if key in CHANNELS],
        widget=forms.CheckboxSelectMultiple)

    class Meta(DeliverySettingsForm.Meta):
        widgets = {"quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


class TemplatePreviewForm(forms.Form):
    """The editor's fields as the live preview reads them (unsaved)."""

    channel = forms.ChoiceField(choices=Channel.choices)
    subject = forms.CharField(required=False, max_length=300)
    body = forms.CharField(required=False)
    translations = forms.CharField(required=False)
    customer_external_id = forms.CharField(required=False, max_length=128)
    language = forms.CharField(required=False, max_length=16)

    def clean_translations(self):
        raw = self.cleaned_data["translations"].strip()
        if not raw:
            return {}
        try:
            value = read_json(raw)  # as the API reads bodies: nesting limited, no NUL
        except NulInJson:
            raise forms.ValidationError(_("Text must not contain NUL (\\u0000).")) from None
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_('An object by language: {"zh-hans": {"subject": '
                                          '"...", "body": "..."}}'))
        return value


class TestSendForm(forms.Form):
    address = forms.CharField(label=_("Send to (email address or phone number)"),
                              required=False, max_length=320)
    customer_external_id = forms.CharField(label=_("Render for customer (external id)"),
                                           required=False, max_length=128)
    webhook = forms.ModelChoiceField(label=_("Webhook endpoint"), required=False,
                                     queryset=WebhookEndpoint.objects.order_by("name"))
