"""Input and output shapes of the coupon APIs: the operator's definitions (DRF serializers)
and the storefront's validate/redeem (pydantic input, as the storefront API's other calls)."""

from typing import Annotated

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from rest_framework import serializers

from campaigns.models import Coupon, CouponDefinition
from campaigns.services.coupons import definition_problems, definition_values, display_code
from customers.schemas import Currency, ExternalId, Money
from segments.api.serializers import StrictSerializer

# --- operator API: definitions --------------------------------------------------------------

MONEY = {"max_digits": 12, "decimal_places": 2}


class CouponDefinitionInputSerializer(StrictSerializer):
    """A coupon definition. PUT replaces it (fields left out take their defaults), PATCH
    changes the fields sent. Unknown fields are rejected by name."""

    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=CouponDefinition.Kind.choices)
    value = serializers.DecimalField(
        **MONEY, help_text="Percentage: more than 0, at most 100. Fixed: an amount above 0.")
    currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True, default="",
        help_text="ISO 4217; blank: any. Orders in another currency are refused.")
    min_order_amount = serializers.DecimalField(**MONEY, required=False, default=0,
                                                min_value=0)
    max_discount = serializers.DecimalField(
        **MONEY, required=False, allow_null=True, default=None,
        help_text="Percentage coupons: the most one order may take off.")
    valid_from = serializers.DateTimeField(required=False, allow_null=True, default=None)
    valid_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    valid_days = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="A personal code is valid this many days from its issue (and never past "
                  "valid_until).")
    per_customer_limit = serializers.IntegerField(
        required=False, default=1, min_value=1,
        help_text="Personal codes one customer may hold; for a shared code, the times one "
                  "customer may use it.")
    shared_code = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default="",
        help_text="A code anyone may use (SUMMER20). Stored upper case without dashes or "
                  "spaces; unique among all codes.")
    shared_limit = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1,
        help_text="How many times the shared code may be used in all; null: no limit.")
    max_codes = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1,
        help_text="Budget: personal codes issued at most.")
    max_discount_total = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True, default=None,
        help_text="Budget: total discount granted at most.")
    stackable = serializers.BooleanField(
        required=False, default=False,
        help_text="May be combined with other coupons on one order.")
    code_prefix = serializers.CharField(max_length=8, required=False, allow_blank=True,
                                        default="", help_text="Letters and digits.")
    is_active = serializers.BooleanField(required=False, default=True)

    def validate_name(self, name):
        others = CouponDefinition.objects.filter(name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("a coupon definition with this name already "
                                              "exists")
        return name

    def validate(self, attrs):
        attrs = super().validate(attrs)
        problems = definition_problems(definition_values(self.instance, attrs), self.instance)
        if problems:
            raise serializers.ValidationError(
                {field: [str(message)] for field, message in problems.items()})
        return attrs


class BudgetLeftOutputSerializer(serializers.Serializer):
    codes = serializers.IntegerField(allow_null=True, help_text="null: no code budget")
    discount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                        help_text="null: no discount budget")
    uses = serializers.IntegerField(allow_null=True,
                                    help_text="Shared code: uses left; null: unlimited")


class DefinitionStatsOutputSerializer(serializers.Serializer):
    issued = serializers.IntegerField(help_text="Personal codes issued.")
    redeemed = serializers.IntegerField(help_text="Uses of all of its codes.")
    discount_spent = serializers.DecimalField(max_digits=14, decimal_places=2)
    budget_left = BudgetLeftOutputSerializer()


def definition_stats(definition: CouponDefinition) -> dict:
    """Needs the annotations of coupon_definitions_with_stats."""
    shared_left = None
    if definition.shared_code and definition.shared_limit is not None:
        shared_left = max(definition.shared_limit - definition.redeemed, 0)
    return {
        "issued": definition.issued,
        "redeemed": definition.redeemed,
        "discount_spent": definition.discount_spent,
        "budget_left": {
            "codes": None if definition.max_codes is None
            else max(definition.max_codes - definition.issued, 0),
            "discount": None if definition.max_discount_total is None
            else max(definition.max_discount_total - definition.discount_total, 0),
            "uses": shared_left,
        },
    }


class CouponDefinitionOutputSerializer(serializers.ModelSerializer):
    stats = serializers.SerializerMethodField()

    class Meta:
        model = CouponDefinition
        fields = ["id", "name", "kind", "value", "currency", "min_order_amount",
                  "max_discount", "valid_from", "valid_until", "valid_days",
                  "per_customer_limit", "shared_code", "shared_limit", "max_codes",
                  "max_discount_total", "stackable", "code_prefix", "is_active", "created_at",
                  "updated_at", "stats"]

    @extend_schema_field(DefinitionStatsOutputSerializer)
    def get_stats(self, definition) -> dict:
        return DefinitionStatsOutputSerializer(definition_stats(definition)).data


class CouponOutputSerializer(serializers.ModelSerializer):
    code = serializers.SerializerMethodField(help_text="As shown to customers (grouped).")
    customer_external_id = serializers.CharField(source="customer.external_id",
                                                 allow_null=True, default=None)
    status = serializers.SerializerMethodField(
        help_text="active, redeemed (used up), void, or expired (an active code past its "
                  "expiry).")

    class Meta:
        model = Coupon
        fields = ["id", "code", "customer_external_id", "campaign", "node", "status",
                  "redemptions", "max_redemptions", "issued_at", "starts_at", "expires_at"]

    def get_code(self, coupon) -> str:
        return public_code(coupon)

    def get_status(self, coupon) -> str:
        if coupon.status == Coupon.Status.ACTIVE and coupon.expires_at \
                and coupon.expires_at <= timezone.now():
            return "expired"
        return coupon.status


class IssueInputSerializer(StrictSerializer):
    customer_external_id = serializers.CharField(max_length=128)


def public_code(coupon: Coupon) -> str:
    """A personal code grouped for reading (WELCOME-7KQ4D-MX2PB); a shared code as chosen."""
    if coupon.customer_id is None:
        return coupon.code
    return display_code(coupon.code, coupon.definition.code_prefix)


# --- storefront API: validate and redeem ----------------------------------------------------

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class CouponCheckIn(BaseModel):
    """A code applied to an order, to check."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    code: Code = Field(description="As the customer typed it: any case, dashes and spaces "
                                   "ignored.")
    customer_external_id: ExternalId
    order_amount: Money = Field(description="The order's amount before this coupon.")
    currency: Currency | None = Field(default=None,
                                      description="Defaults to the storefront's.")
    other_codes: list[Code] = Field(
        default_factory=list, max_length=20,
        description="Codes already applied to the same order (for the stacking rule).")


class CouponRedeemIn(CouponCheckIn):
    """A code used on an order. Sending it again for the same order returns the same
    answer."""

    order_external_id: ExternalId


class CampaignRefOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CouponInfoOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The display form (WELCOME-7KQ4D-MX2PB).")
    kind = serializers.ChoiceField(choices=CouponDefinition.Kind.choices)
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    expires_at = serializers.DateTimeField(allow_null=True)
    campaign = CampaignRefOutputSerializer(allow_null=True,
                                           help_text="The campaign that issued it, if any.")


REASON_HELP = ("Empty when valid; otherwise one of not_found, inactive, not_started, expired, "
               "not_yours, already_used, budget_exhausted, per_customer_limit, "
               "currency_mismatch, minimum_not_met, not_stackable.")


class ValidateOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text=REASON_HELP)
    message = serializers.CharField(allow_blank=True)
    discount = serializers.DecimalField(max_digits=14, decimal_places=2,
                                        help_text="0.00 when not valid.")
    coupon = CouponInfoOutputSerializer(allow_null=True, help_text="null for not_found.")


class RedeemOutputSerializer(serializers.Serializer):
    redemption_id = serializers.IntegerField()
    order_external_id = serializers.CharField()
    customer_external_id = serializers.CharField()
    order_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    discount = serializers.DecimalField(max_digits=14, decimal_places=2)
    redeemed_at = serializers.DateTimeField()
    coupon = CouponInfoOutputSerializer()


def coupon_info(coupon: Coupon) -> dict:
    campaign, definition = coupon.campaign, coupon.definition
    ends = [moment for moment in (coupon.expires_at, definition.valid_until) if moment]
    return {"code": public_code(coupon), "kind": definition.kind, "value": definition.value,
            "expires_at": min(ends) if ends else None,
            "campaign": {"id": campaign.pk, "name": campaign.name} if campaign else None}


# The storefront's answers as plain dicts: on these hot paths a DRF output serializer cost
# ~0.4 ms of CPU per request, mostly deep-copying its fields (bench/coupons.py). The classes
# above document the same shapes; tests hold the answers to them.
_MOMENT = serializers.DateTimeField()


def _moment(value) -> str | None:
    return None if value is None else _MOMENT.to_representation(value)


def _money(value) -> str:
    return f"{value:.2f}"


def coupon_answer(coupon: Coupon) -> dict:
    info = coupon_info(coupon)
    return {**info, "value": _money(info["value"]), "expires_at": _moment(info["expires_at"])}


def validate_answer(verdict) -> dict:
    return {"valid": verdict.valid, "reason": verdict.reason, "message": verdict.message,
            "discount": _money(verdict.discount),
            "coupon": coupon_answer(verdict.coupon) if verdict.coupon else None}


def redeem_answer(verdict) -> dict:
    redemption = verdict.redemption
    return {"redemption_id": redemption.pk, "order_external_id": redemption.order_external_id,
            "customer_external_id": verdict.customer_external_id,
            "order_amount": _money(redemption.order_amount),
            "discount": _money(redemption.discount),
            "redeemed_at": _moment(redemption.redeemed_at),
            "coupon": coupon_answer(verdict.coupon)}
