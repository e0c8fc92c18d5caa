"""Output shapes of the storefront API. Input is validated by the pydantic models in
customers.schemas, which the CSV import and the OpenAPI docs share."""

from rest_framework import serializers

from customers.models import (
    Customer,
    CustomerMetrics,
    CustomerPrediction,
    Gender,
    Order,
    OrderStatus,
)


class CustomerMetricsOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerMetrics
        fields = [
            "recency_days", "frequency", "monetary", "ltv", "aov", "order_count",
            "first_order_at", "last_order_at", "r_score", "f_score", "m_score", "rfm_class",
            "lifecycle_stage", "computed_at",
        ]
        read_only_fields = fields


class CustomerPredictionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerPrediction
        fields = [
            "predicted_clv", "expected_purchases", "churn_probability", "p_alive",
            "value_coefficient", "predicted_clv_percentile", "expected_purchases_percentile",
            "churn_probability_percentile", "value_coefficient_percentile", "computed_at",
        ]
        read_only_fields = fields


class CustomerOutputSerializer(serializers.ModelSerializer):
    # Plain values, as the input models (customers.schemas) declare them, so the API docs
    # show one enum for both directions.
    gender = serializers.ChoiceField(choices=Gender.values, read_only=True)
    # null until the first metrics computation that includes this customer.
    metrics = CustomerMetricsOutputSerializer(read_only=True, allow_null=True)
    # null until the value model first scored the customer; its model figures are null
    # without a paid order (docs: the README's "Value predictions").
    prediction = CustomerPredictionOutputSerializer(read_only=True, allow_null=True)
    # null until the first activity event (customers.models.CustomerActivity).
    last_seen_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = [
            "external_id", "email", "phone", "name", "gender", "birthday", "city", "signup_at",
            "acquisition_channel", "time_zone", "language", "email_consent", "email_consent_at",
            "sms_consent", "sms_consent_at", "attributes", "tags", "last_seen_at",
            "created_at", "updated_at", "metrics", "prediction",
        ]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True,
                                     help_text="The customer's external id.")
    storefront = serializers.CharField(source="storefront.name", read_only=True,
                                       help_text="The storefront that first sent the order.")
    status = serializers.ChoiceField(choices=OrderStatus.values, read_only=True)

    class Meta:
        model = Order
        fields = [
            "external_id", "customer", "storefront", "amount", "refunded_amount", "currency",
            "status", "placed_at", "coupon_code", "items", "created_at", "updated_at",
        ]
        read_only_fields = fields


class UpsertResultOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Items that were new.")
    updated = serializers.IntegerField(help_text="Items that already existed (sent again or "
                                                 "changed).")


class EventResultOutputSerializer(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="Events stored.")
    duplicates = serializers.IntegerField(help_text="Events whose event_id was already sent; "
                                                    "they change nothing.")


class FieldErrorOutputSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Path of the bad field, e.g. `items[3].amount`; "
                                            "empty for the request as a whole.")
    message = serializers.CharField()


class ErrorOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: invalid, parse_error, "
                                           "not_authenticated, throttled, not_found, ...")
    message = serializers.CharField()
    errors = FieldErrorOutputSerializer(many=True)
