"""Admin for the campaigns app. Each area keeps to its own section."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from campaigns.flows import GraphError
from campaigns.forms import (
    CouponDefinitionForm,
    DeliverySettingsForm,
    MessageTemplateForm,
    WebhookEndpointForm,
)
from campaigns.models import (
    Campaign,
    CampaignVersion,
    Coupon,
    CouponDefinition,
    CouponRedemption,
    Delivery,
    DeliverySettings,
    Journey,
    JourneyStep,
    MessageTemplate,
    Suppression,
    WebhookEndpoint,
)
from campaigns.services.campaigns import (
    CampaignStateError,
    campaign_archive,
    campaign_pause,
    campaign_publish,
    campaign_resume,
    campaign_save,
    graph_check,
)
from campaigns.services.coupons import (
    DEFINITION_FIELDS,
    DefinitionInUse,
    DefinitionInvalid,
    canonical_code,
    coupon_definition_delete,
    coupon_definition_save,
    coupon_definitions_with_stats,
)
from campaigns.services.messages import webhook_secret
from customers.admin import ModelAdmin, ReadOnlyAdmin

# --- Campaigns, versions, journeys ----------------------------------------------------------
# The canvas is the place to draw a campaign; here operators can read everything, change the
# settings and the state, and publish. Journeys and versions are written by the engine only.


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "description", "draft_graph", "entry", "reentry_days",
                  "holdout_percent", "goal", "goal_days", "attribution_days", "priority"]

    def clean_draft_graph(self):
        graph = self.cleaned_data["draft_graph"]
        if graph:
            try:
                graph_check(graph)
            except GraphError as exc:
                raise forms.ValidationError([str(problem) for problem in exc.problems]) \
                    from exc
        return graph


def _state_action(change, description):
    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        for campaign in queryset:
            try:
                change(campaign)
            except (CampaignStateError, GraphError) as exc:
                modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{campaign}: {campaign.status}")

    action.__name__ = change.__name__
    return action


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    form = CampaignForm
    list_display = ("name", "status", "current_version", "entry", "holdout_percent",
                    "priority", "activated_at", "updated_at")
    list_filter = ("status", "entry")
    search_fields = ("name",)
    readonly_fields = ("status", "current_version", "activated_at", "created_by", "created_at",
                       "updated_at")
    actions = [
        _state_action(campaign_publish, _("Publish the draft")),
        _state_action(campaign_pause, _("Pause")),
        _state_action(campaign_resume, _("Resume")),
        _state_action(campaign_archive, _("Archive")),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        campaign_save(obj, **{name: form.cleaned_data[name] for name in form.Meta.fields})

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.versions.exists()  # published ones are archived


@admin.register(CampaignVersion)
class CampaignVersionAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "number", "published_at", "published_by")
    list_filter = ("campaign",)
    list_select_related = ("campaign", "published_by")


class JourneyStepInline(admin.TabularInline):
    model = JourneyStep
    fields = ("step", "node", "port", "note", "at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("step",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Journey)
class JourneyAdmin(ReadOnlyAdmin):
    list_display = ("id", "campaign", "customer", "status", "node", "due_at", "entered_at",
                    "finished_at")
    list_filter = ("status", "campaign")
    search_fields = ("=id", "=customer__external_id")
    raw_id_fields = ("campaign", "version", "customer")
    list_select_related = ("campaign", "customer")
    show_full_result_count = False
    inlines = [JourneyStepInline]


# --- Messages: templates, webhook endpoints, deliveries, suppressions, delivery settings ---


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ModelAdmin):
    form = MessageTemplateForm
    list_display = ("name", "channel", "subject", "updated_at")
    list_filter = ("channel",)
    search_fields = ("name", "subject")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ModelAdmin):
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
class SuppressionAdmin(ModelAdmin):
    list_display = ("channel", "address", "reason", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)
    show_full_result_count = False


@admin.register(DeliverySettings)
class DeliverySettingsAdmin(ModelAdmin):
    """One row (DeliverySettings.load()): it can be added once and never deleted."""

    form = DeliverySettingsForm
    list_display = ("__str__", "cap_messages", "cap_days", "quiet_start", "quiet_end",
                    "updated_at")

    def has_add_permission(self, request):
        return not DeliverySettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


# --- Coupons --------------------------------------------------------------------------------


@admin.register(CouponDefinition)
class CouponDefinitionAdmin(ModelAdmin):
    form = CouponDefinitionForm
    list_display = ("name", "kind", "value", "shared_code", "is_active", "issued",
                    "redeemed", "discount_spent", "budget")
    list_filter = ("kind", "is_active", "stackable")
    search_fields = ("name", "shared_code")
    readonly_fields = ("issued", "redeemed", "discount_spent", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "value", "currency", "min_order_amount",
                           "max_discount", "stackable", "is_active")}),
        (_("Validity"), {"fields": ("valid_from", "valid_until", "valid_days")}),
        (_("Codes"), {"fields": ("code_prefix", "per_customer_limit", "shared_code",
                                 "shared_limit")}),
        (_("Budget"), {"fields": ("max_codes", "max_discount_total")}),
        (_("Stats"), {"fields": ("issued", "redeemed", "discount_spent", "created_at")}),
    )

    def get_queryset(self, request):
        return coupon_definitions_with_stats(super().get_queryset(request))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, through the service's check
        return actions

    @admin.display(description=_("codes issued"), ordering="issued")
    def issued(self, definition) -> int:
        return definition.issued

    @admin.display(description=_("uses"), ordering="redeemed")
    def redeemed(self, definition) -> int:
        return definition.redeemed

    @admin.display(description=_("discount spent"), ordering="discount_spent")
    def discount_spent(self, definition):
        return definition.discount_spent

    @admin.display(description=_("budget left"))
    def budget(self, definition) -> str:
        left = []
        if definition.max_codes is not None:
            left.append(_("%(n)s codes") % {"n": max(definition.max_codes
                                                      - definition.issued, 0)})
        if definition.max_discount_total is not None:
            left.append(_("%(n)s discount") % {"n": max(definition.max_discount_total
                                                         - definition.discount_spent, 0)})
        return ", ".join(str(each) for each in left) or "-"

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in DEFINITION_FIELDS}
        try:
            saved = coupon_definition_save(obj if change else None, **changes)
        except DefinitionInvalid as exc:  # a concurrent change; the form had checked it
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        try:
            coupon_definition_delete(obj)
        except DefinitionInUse as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = ("code", "definition", "customer", "campaign", "node", "status",
                    "redemptions", "max_redemptions", "issued_at", "expires_at")
    list_filter = ("status", "definition")
    list_select_related = ("definition", "customer", "campaign")
    search_fields = ("=code",)
    ordering = ("-issued_at",)

    def get_search_results(self, request, queryset, search_term):
        # As typed by a customer: any case, dashes and spaces.
        return super().get_search_results(request, queryset, canonical_code(search_term))


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(ReadOnlyAdmin):
    list_display = ("coupon", "customer", "order_external_id", "order_amount", "discount",
                    "redeemed_at")
    list_select_related = ("coupon", "customer")
    search_fields = ("=order_external_id", "=coupon__code")
    ordering = ("-redeemed_at",)
