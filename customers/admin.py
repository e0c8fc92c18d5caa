"""The Django admin for every customers model.

Customers, orders and events run into the millions: foreign keys are raw ids, the changelists
skip the full count, and list filters stay on small, indexed choice fields. Metrics, lifecycle
changes and metrics runs are written by the recompute only, so they are read-only here.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from customers.models import (
    Customer,
    CustomerActivity,
    CustomerMetrics,
    CustomerPrediction,
    DashboardFigure,
    Erasure,
    Event,
    LifecycleChange,
    MetricsRun,
    MetricsSettings,
    OperatorPreference,
    Order,
    Storefront,
    StorefrontKey,
    ValueModelCheck,
    ValueModelFit,
    ValueModelSettings,
)
from customers.schemas import NulInJson, read_json
from customers.services.erasure import customer_erase
from customers.services.storefronts import storefront_key_create, storefront_keys_revoke


def _refused(text: str) -> bool:
    try:
        read_json(text)
    except ValueError:
        return True
    return False


class JSONFormField(forms.JSONField):
    """The admin's JSON fields, checked with jiter as the API reads bodies before Django's
    json.loads sees them: nesting past 200 levels is a field error instead of a RecursionError
    (a 500), and so are NaN and text with NUL, which jsonb cannot store."""

    default_error_messages = {"nul": _("Text must not contain NUL (\\u0000).")}

    def to_python(self, value):
        if isinstance(value, str) and value not in self.empty_values and not self.disabled:
            try:
                read_json(value)
            except NulInJson:
                raise ValidationError(self.error_messages["nul"], code="nul") from None
            except ValueError:
                raise ValidationError(self.error_messages["invalid"], code="invalid",
                                      params={"value": value}) from None
        return super().to_python(value)

    def bound_data(self, data, initial):
        if isinstance(data, str) and not self.disabled and _refused(data):
            return InvalidJSONInput(data)  # shown again as typed, with the field's error
        return super().bound_data(data, initial)


class ModelAdmin(admin.ModelAdmin):
    """The base of every model admin: JSON fields are JSONFormField."""

    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}


class ReadOnlyAdmin(ModelAdmin):
    """Rows written by the system: viewable, never added, edited or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Storefronts and their API keys ---------------------------------------------------------


class StorefrontKeyInline(admin.TabularInline):
    model = StorefrontKey
    fields = ("prefix", "created_at", "revoked_at")
    readonly_fields = fields  # the hash never shows; keys are made by the action below
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Storefront)
class StorefrontAdmin(ModelAdmin):
    list_display = ("name", "kind", "currency", "time_zone", "created_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    readonly_fields = ("created_at",)
    inlines = (StorefrontKeyInline,)
    actions = ("create_api_key",)

    @admin.action(description=_("Create a new API key"))
    def create_api_key(self, request, queryset: QuerySet[Storefront]):
        for storefront in queryset:
            _key, raw_key = storefront_key_create(storefront=storefront)
            # Shown once: only the key's hash is stored, so it can never be displayed again.
            self.message_user(
                request,
                gettext("New API key for %(storefront)s: %(key)s — copy it now, it will not be "
                  "shown again.") % {"storefront": storefront.name, "key": raw_key},
                messages.WARNING,
            )


@admin.register(StorefrontKey)
class StorefrontKeyAdmin(ModelAdmin):
    list_display = ("prefix", "storefront", "created_at", "revoked_at", "is_active")
    list_filter = ("storefront", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("storefront",)
    search_fields = ("prefix", "storefront__name")
    fields = ("storefront", "prefix", "created_at", "revoked_at")
    readonly_fields = ("storefront", "prefix", "created_at")
    actions = ("revoke_keys",)

    def has_add_permission(self, request):
        return False  # keys are created by the storefront action, which shows the raw key

    @admin.display(boolean=True, description=_("active"))
    def is_active(self, key: StorefrontKey) -> bool:
        return key.revoked_at is None

    @admin.action(description=_("Revoke selected keys"))
    def revoke_keys(self, request, queryset: QuerySet[StorefrontKey]):
        revoked = storefront_keys_revoke(keys=queryset)
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )


# --- Customers, orders, events --------------------------------------------------------------


class CustomerMetricsInline(admin.StackedInline):
    model = CustomerMetrics
    can_delete = False
    extra = 0
    fields = (
        ("lifecycle_stage", "rfm_class"),
        ("r_score", "f_score", "m_score"),
        ("recency_days", "frequency", "monetary"),
        ("ltv", "aov", "order_count"),
        ("first_order_at", "last_order_at", "computed_at"),
    )
    readonly_fields = [name for row in fields for name in row]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    list_display = ("external_id", "name", "email", "city", "acquisition_channel", "created_at")
    # Booleans only: a filter on city or channel would scan millions of rows for its choices.
    list_filter = ("email_consent", "sms_consent")
    search_fields = ("=external_id", "email", "name", "phone")
    show_full_result_count = False
    readonly_fields = ("last_seen_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("external_id", "name", "email", "phone", "gender", "birthday")}),
        (_("Acquisition and location"),
         {"fields": ("city", "time_zone", "language", "acquisition_channel", "signup_at")}),
        (_("Consent"),
         {"fields": (("email_consent", "email_consent_at"), ("sms_consent", "sms_consent_at"))}),
        (_("Attributes and tags"), {"fields": ("attributes", "tags")}),
        (_("Activity"), {"fields": ("last_seen_at", "created_at", "updated_at")}),
    )
    inlines = (CustomerMetricsInline,)
    actions = ("erase_personal_data",)

    @admin.action(description=_("Erase personal data of the selected customers"),
                  permissions=["change"])
    def erase_personal_data(self, request, queryset):
        who = f"operator {request.user.get_username()}"
        erased = sum(customer_erase(customer_id=pk, requested_by=who) is not None
                     for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, ngettext(
            "Erased the personal data of %(count)d customer.",
            "Erased the personal data of %(count)d customers.", erased) % {"count": erased})


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin):
    list_display = ("customer", "erased_at", "requested_by")
    list_select_related = ("customer",)


@admin.register(CustomerActivity)
class CustomerActivityAdmin(ReadOnlyAdmin):
    list_display = ("customer", "last_seen_at")
    list_select_related = ("customer",)
    search_fields = ("=customer__external_id",)
    raw_id_fields = ("customer",)
    show_full_result_count = False


@admin.register(Order)
class OrderAdmin(ModelAdmin):
    list_display = ("external_id", "customer", "storefront", "amount", "refunded_amount",
                    "currency", "status", "placed_at")
    list_filter = ("status", "storefront")
    list_select_related = ("customer", "storefront")
    search_fields = ("=external_id", "=customer__external_id", "coupon_code")
    raw_id_fields = ("customer",)
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")


@admin.register(Event)
class EventAdmin(ModelAdmin):
    list_display = ("name", "customer", "storefront", "occurred_at", "event_id")
    list_filter = ("storefront",)
    list_select_related = ("customer", "storefront")
    search_fields = ("=customer__external_id", "=name", "=event_id")
    raw_id_fields = ("customer",)
    show_full_result_count = False
    readonly_fields = ("created_at",)


# --- Metrics --------------------------------------------------------------------------------


@admin.register(CustomerMetrics)
class CustomerMetricsAdmin(ReadOnlyAdmin):
    list_display = ("customer", "lifecycle_stage", "rfm_class", "r_score", "f_score", "m_score",
                    "recency_days", "frequency", "monetary", "ltv", "computed_at")
    list_filter = ("lifecycle_stage", "rfm_class")
    list_select_related = ("customer",)
    search_fields = ("=customer__external_id",)
    raw_id_fields = ("customer",)
    show_full_result_count = False


@admin.register(LifecycleChange)
class LifecycleChangeAdmin(ReadOnlyAdmin):
    list_display = ("customer", "from_stage", "to_stage", "changed_at")
    list_filter = ("to_stage", "from_stage")
    list_select_related = ("customer",)
    search_fields = ("=customer__external_id",)
    raw_id_fields = ("customer",)
    show_full_result_count = False


@admin.register(MetricsRun)
class MetricsRunAdmin(ReadOnlyAdmin):
    list_display = ("cutoff", "customers", "buyers", "duration_ms", "created_at")


@admin.register(MetricsSettings)
class MetricsSettingsAdmin(ModelAdmin):
    """One row (MetricsSettings.load()): it can be added once and never deleted."""

    list_display = ("__str__", "window_days", "new_days", "active_days", "churn_days",
                    "scoring", "high_rule", "updated_at")
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request):
        return not MetricsSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


# --- Value predictions ----------------------------------------------------------------------


@admin.register(ValueModelSettings)
class ValueModelSettingsAdmin(ModelAdmin):
    """One row (ValueModelSettings.load()): horizon, discounting, weights."""

    list_display = ("__str__", "horizon_days", "annual_discount_rate", "min_repeat_buyers",
                    "weight_clv", "weight_repurchase", "weight_engagement", "weight_referrals",
                    "updated_at")
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request):
        return not ValueModelSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ValueModelFit)
class ValueModelFitAdmin(ReadOnlyAdmin):
    list_display = ("fitted_at", "status", "customers", "repeat_buyers", "histories", "scored",
                    "duration_ms")
    list_filter = ("status",)


@admin.register(ValueModelCheck)
class ValueModelCheckAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "cutoff", "end")


@admin.register(CustomerPrediction)
class CustomerPredictionAdmin(ReadOnlyAdmin):
    list_display = ("customer", "predicted_clv", "expected_purchases", "churn_probability",
                    "value_coefficient", "computed_at")
    raw_id_fields = ("customer", "fit")
    search_fields = ("=customer__external_id",)
    show_full_result_count = False


@admin.register(DashboardFigure)
class DashboardFigureAdmin(ReadOnlyAdmin):
    """The dashboard's precomputed figures (rewritten by customers.compute_dashboard)."""

    list_display = ("key", "dimension", "period", "computed_at")
    list_filter = ("key",)
    search_fields = ("key", "dimension")


# --- Operators ------------------------------------------------------------------------------


@admin.register(OperatorPreference)
class OperatorPreferenceAdmin(ModelAdmin):
    """Each operator's UI language (set by the language switch; editable here for support)."""

    list_display = ("user", "language", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
