"""Input and output shapes of the messages API: templates, webhook endpoints, test sends,
and the storefront's offers."""

from rest_framework import serializers

from campaigns.models import Channel, Delivery, MessageTemplate, WebhookEndpoint
from segments.api.serializers import StrictSerializer

VARIABLES_HELP = (
    "Django template syntax with the variables customer.* (external_id, name, email, phone, "
    "city, birthday, language, attributes, tags), metrics.* (ltv, order_count, aov, "
    "rfm_class, lifecycle_stage, recency_days, ...), coupon.* (code, discount, expires_at, "
    "name, ...), campaign.name and unsubscribe_url. A missing variable renders empty. Email "
    "bodies are HTML (variables escaped); webhook bodies must render to JSON.")
TRANSLATIONS_HELP = ('By lower-case language tag: {"zh-hans": {"subject": "...", "body": '
                     '"..."}}. A customer gets the translation of their language (exact, then '
                     "its base language: zh-hans for zh-hans-cn), else the default text.")


class UniqueNameMixin:
    model: type

    def validate_name(self, name):
        others = self.model.objects.filter(name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("this name is taken")
        return name


class TemplateFieldsInputSerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                    default="", help_text="Email only (and inbox titles).")
    body = serializers.CharField(help_text=VARIABLES_HELP, trim_whitespace=False)
    translations = serializers.JSONField(required=False, default=dict,
                                         help_text=TRANSLATIONS_HELP)


class MessageTemplateInputSerializer(UniqueNameMixin, TemplateFieldsInputSerializer):
    model = MessageTemplate
    name = serializers.CharField(max_length=200)


class MessageTemplateOutputSerializer(serializers.ModelSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    translations = serializers.JSONField(help_text=TRANSLATIONS_HELP)

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "channel", "subject", "body", "translations", "created_at",
                  "updated_at"]
        read_only_fields = fields


class PreviewForInputSerializer(StrictSerializer):
    customer_external_id = serializers.CharField(
        required=False, max_length=128,
        help_text="Render for this customer; left out: a sample customer.")
    language = serializers.RegexField(
        r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", required=False, max_length=16,
        help_text="Render in this language instead of the customer's (e.g. zh-hans).")


class DraftPreviewInputSerializer(TemplateFieldsInputSerializer, PreviewForInputSerializer):
    """The editor's live preview: unsaved template fields, rendered the same way."""


class TemplatePreviewOutputSerializer(serializers.Serializer):
    subject = serializers.CharField()
    body = serializers.CharField(help_text="As sent: HTML for email, text otherwise.")
    text = serializers.CharField(help_text="Email: the plain-text alternative.")
    language = serializers.CharField(help_text='The translation used; "" for the default '
                                               "text.")
    customer = serializers.CharField(allow_null=True,
                                     help_text="The customer's external id; null: a sample.")


class TestSendInputSerializer(StrictSerializer):
    address = serializers.CharField(required=False, allow_blank=True, max_length=320,
                                    help_text="Email address or phone number to send to "
                                              "(email and SMS templates).")
    customer_external_id = serializers.CharField(
        required=False, max_length=128,
        help_text="Render for this customer (an inbox template goes to their inbox); left "
                  "out: a sample customer.")
    webhook = serializers.IntegerField(required=False, min_value=1,
                                       help_text="Webhook templates: the endpoint's id.")


class DeliveryOutputSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    customer = serializers.CharField(source="customer.external_id", allow_null=True,
                                     default=None)

    class Meta:
        model = Delivery
        fields = ["id", "channel", "status", "reason", "error", "address", "subject", "body",
                  "attempts", "sent_at", "test", "customer"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(UniqueNameMixin, StrictSerializer):
    model = WebhookEndpoint
    name = serializers.CharField(max_length=200)
    url = serializers.URLField(max_length=500)
    secret = serializers.CharField(
        required=False, min_length=16, max_length=128, write_only=True,
        help_text="Signing secret (write-only). Left out on creation: a random one, shown "
                  "once in the answer.")
    is_active = serializers.BooleanField(required=False, default=True)


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointCreatedOutputSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(help_text="Shown this once: store it to verify "
                                             "X-Retentio-Signature.")

    class Meta(WebhookEndpointOutputSerializer.Meta):
        fields = [*WebhookEndpointOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


# --- storefront ------------------------------------------------------------------------------

class OfferCampaignOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CouponOfferOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="As the customer types it (WELCOME-7KQ4D-MX2PB).")
    kind = serializers.ChoiceField(choices=["percentage", "fixed"])
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    min_order_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount = serializers.CharField(help_text="In words, in the customer's language.")
    name = serializers.CharField()
    starts_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    campaign = OfferCampaignOutputSerializer(allow_null=True)


class InboxMessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.CharField()
    body = serializers.CharField(help_text="Text as rendered; escape it when showing it.")
    sent_at = serializers.DateTimeField()
    coupon_code = serializers.CharField(allow_null=True)
    campaign = OfferCampaignOutputSerializer(allow_null=True)


class OffersOutputSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external id.")
    coupons = CouponOfferOutputSerializer(many=True)
    messages = InboxMessageOutputSerializer(many=True, help_text="The last 30 days.")
