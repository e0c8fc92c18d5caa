"""Admin for the campaigns app. Each area keeps to its own section."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.channels import CHANNELS
from campaigns.models import (
    Delivery,
    DeliverySettings,
    MessageTemplate,
    Suppression,
    WebhookEndpoint,
)
from campaigns.services.messages import webhook_secret
from campaigns.services.rendering import template_problems
from customers.admin import ReadOnlyAdmin

# --- Messages: templates, webhook endpoints, deliveries, suppressions, delivery settings ---


class MessageTemplateForm(forms.ModelForm):
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


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ("name", "channel", "subject", "updated_at")
    list_filter = ("channel",)
    search_fields = ("name", "subject")


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


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("name", "url", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url")

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = webhook_secret()
            messages.warning(request, _("The signing secret of %(name)s is %(secret)s. Store "
                                        "it now: it is not shown again.")
                             % {"name": obj.name, "secret": obj.secret})
        super().save_model(request, obj, form, change)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "channel", "status", "reason", "customer", "campaign", "due_at",
                    "sent_at", "attempts", "test")
    list_filter = ("status", "channel", "reason", "test")
    search_fields = ("=id", "=customer__external_id", "address")
    raw_id_fields = ("campaign", "journey", "customer", "template", "webhook", "coupon")
    list_select_related = ("customer", "campaign")
    show_full_result_count = False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("channel", "address", "reason", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)
    show_full_result_count = False


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


@admin.register(DeliverySettings)
class DeliverySettingsAdmin(admin.ModelAdmin):
    """One row (DeliverySettings.load()): it can be added once and never deleted."""

    form = DeliverySettingsForm
    list_display = ("__str__", "cap_messages", "cap_days", "quiet_start", "quiet_end",
                    "updated_at")

    def has_add_permission(self, request):
        return not DeliverySettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
