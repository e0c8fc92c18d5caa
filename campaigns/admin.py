"""Django admin for campaigns. Sections by area; each area keeps to its own section."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from campaigns.models import Coupon, CouponDefinition, CouponRedemption
from campaigns.services.coupons import (
    DEFINITION_FIELDS,
    DefinitionInUse,
    DefinitionInvalid,
    canonical_code,
    coupon_definition_delete,
    coupon_definition_save,
    coupon_definitions_with_stats,
    definition_problems,
    definition_values,
)
from customers.admin import ReadOnlyAdmin

# --- Coupons --------------------------------------------------------------------------------


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


@admin.register(CouponDefinition)
class CouponDefinitionAdmin(admin.ModelAdmin):
    form = CouponDefinitionForm
    list_display = ("name", "kind", "value", "shared_code", "is_active", "issued_count",
                    "redeemed", "discount_spent", "budget")
    list_filter = ("kind", "is_active", "stackable")
    search_fields = ("name", "shared_code")
    readonly_fields = ("issued_count", "redeemed", "discount_spent", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "value", "currency", "min_order_amount",
                           "max_discount", "stackable", "is_active")}),
        (_("Validity"), {"fields": ("valid_from", "valid_until", "valid_days")}),
        (_("Codes"), {"fields": ("code_prefix", "per_customer_limit", "shared_code",
                                 "shared_limit")}),
        (_("Budget"), {"fields": ("max_codes", "max_discount_total")}),
        (_("Stats"), {"fields": ("issued_count", "redeemed", "discount_spent", "created_at")}),
    )

    def get_queryset(self, request):
        return coupon_definitions_with_stats(super().get_queryset(request))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, through the service's check
        return actions

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
                                                      - definition.issued_count, 0)})
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
