"""Input and output shapes of the operator API for segments."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from segments.models import Segment, SegmentChange
from segments.selectors import HISTORY_POINTS, PREVIEW_SAMPLE, segment_history

RULE_HELP = ("The rule in JsonLogic, e.g. "
             '`{"and": [{"==": [{"var": "city"}, "Shanghai"]}, '
             '{">=": [{"var": "recency_days"}, 90]}]}`. '
             "GET /api/v1/segment-fields/ lists every field, operator and value schema.")


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, by name, so a typo never vanishes silently."""

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [f"unknown field (known: {', '.join(self.fields)})"] for name in unknown})
        return attrs


def rule_or_template(attrs):
    """A rule, or a template (with optional params): exactly one of the two."""
    if "rule" in attrs and "template" in attrs:
        raise serializers.ValidationError({"template": ["send either `rule` or `template`, "
                                                        "not both"]})
    if "rule" not in attrs and "template" not in attrs:
        raise serializers.ValidationError({"rule": ["send `rule` or `template`"]})
    if "params" in attrs and "template" not in attrs:
        raise serializers.ValidationError({"params": ["only with `template`"]})
    return attrs


class SegmentInputSerializer(StrictSerializer):
    """A segment: a name and a rule (or, when creating, a template to copy the rule from).
    Unknown fields are rejected by name."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    rule = serializers.JSONField(required=False, help_text=RULE_HELP)
    template = serializers.CharField(
        required=False, max_length=64,
        help_text="Create only: copy this template's rule (a key from "
                  "GET /api/v1/segment-templates/) instead of sending `rule`.")
    params = serializers.JSONField(
        required=False, help_text="The template's parameters; left out ones take their "
                                  "default.")
    is_active = serializers.BooleanField(required=False)
    refresh_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=5, max_value=7 * 24 * 60,
        help_text="Re-evaluate every N minutes; null: hourly for rules that move with the "
                  "clock, daily for the others.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None:
            return rule_or_template(attrs)
        if "template" in attrs or "params" in attrs:
            raise serializers.ValidationError({"template": [
                "only when creating; to change the rule of a segment, send `rule`"]})
        if not self.partial and "rule" not in attrs:
            raise serializers.ValidationError({"rule": ["This field is required."]})
        return attrs

    def validate_name(self, name):
        others = Segment.objects.filter(name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("a segment with this name already exists")
        return name


class SizePointOutputSerializer(serializers.Serializer):
    evaluated_at = serializers.DateTimeField()
    size = serializers.IntegerField()
    entered = serializers.IntegerField()
    exited = serializers.IntegerField()
    duration_ms = serializers.IntegerField()


class SegmentOutputSerializer(serializers.ModelSerializer):
    rule = serializers.JSONField(help_text=RULE_HELP)
    time_dependent = serializers.BooleanField(
        help_text="The rule moves with the clock alone (birthdays, 'within the last N days'), "
                  "so it is re-evaluated at least hourly.")
    refresh_interval_minutes = serializers.IntegerField(
        help_text="How often it is re-evaluated in full (refresh_minutes or the default).")
    size = serializers.IntegerField(help_text="Members after the last evaluation.")

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rule", "template", "is_active",
                  "refresh_minutes", "refresh_interval_minutes", "time_dependent", "size",
                  "last_evaluated_at", "last_duration_ms", "created_at", "updated_at"]
        read_only_fields = fields


class SegmentDetailOutputSerializer(SegmentOutputSerializer):
    history = serializers.SerializerMethodField(
        help_text=f"Size after each full evaluation (the last {HISTORY_POINTS}), oldest first.")

    class Meta(SegmentOutputSerializer.Meta):
        fields = [*SegmentOutputSerializer.Meta.fields, "history"]
        read_only_fields = fields

    @extend_schema_field(SizePointOutputSerializer(many=True))
    def get_history(self, segment: Segment) -> list:
        return SizePointOutputSerializer(segment_history(segment), many=True).data


class PreviewInputSerializer(StrictSerializer):
    """A rule, or a template with its parameters, to preview without saving."""

    rule = serializers.JSONField(required=False, help_text=RULE_HELP)
    template = serializers.CharField(required=False, max_length=64,
                                     help_text="Preview a template instead of a rule.")
    params = serializers.JSONField(required=False, help_text="The template's parameters.")

    def validate(self, attrs):
        return rule_or_template(super().validate(attrs))


class CustomerSampleOutputSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    city = serializers.CharField()


class PreviewOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Customers the rule selects now.")
    sample = CustomerSampleOutputSerializer(
        many=True, help_text=f"Up to {PREVIEW_SAMPLE} of them, in no particular order.")
    time_dependent = serializers.BooleanField()
    rule = serializers.JSONField(help_text="The rule previewed (a template's, filled in).")
    duration_ms = serializers.IntegerField()


class MemberOutputSerializer(serializers.Serializer):
    external_id = serializers.CharField(source="customer.external_id")
    name = serializers.CharField(source="customer.name")
    email = serializers.CharField(source="customer.email")
    city = serializers.CharField(source="customer.city")
    entered_at = serializers.DateTimeField()


class ChangesQueryInputSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0,
                                     help_text="Only changes with a greater id.")
    kind = serializers.ChoiceField(choices=SegmentChange.Kind.values, required=False,
                                   help_text="Only entries or only exits.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100,
                                     help_text="Changes per page (at most 1,000).")


class ChangeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Ascending; pass the last one as `after`.")
    customer = serializers.CharField(source="customer.external_id",
                                     help_text="The customer's external id.")
    kind = serializers.ChoiceField(choices=SegmentChange.Kind.values)
    at = serializers.DateTimeField()


class TemplateOutputSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Send as `template` when creating a segment.")
    category = serializers.CharField()
    name = serializers.DictField(child=serializers.CharField(),
                                 help_text='{"en": ..., "zh-hans": ...}')
    description = serializers.DictField(child=serializers.CharField(),
                                        help_text='{"en": ..., "zh-hans": ...}')
    params = serializers.DictField(help_text="JSON Schema of the parameters, with defaults.")
    rule = serializers.JSONField(help_text="The rule with the default (or example) "
                                           "parameters.")
    time_dependent = serializers.BooleanField()


class FieldOperatorOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    value_schema = serializers.DictField(allow_null=True,
                                         help_text="JSON Schema of the value; null: none.")


class FieldChoiceOutputSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class RuleFieldOutputSerializer(serializers.Serializer):
    name = serializers.CharField(help_text='Written {"var": name}; "attributes.*" stands for '
                                           "attributes.<key>.")
    label = serializers.CharField()
    type = serializers.CharField()
    group = serializers.CharField()
    description = serializers.CharField()
    operators = FieldOperatorOutputSerializer(many=True)
    choices = FieldChoiceOutputSerializer(many=True)


class RuleOperatorOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    nulls = serializers.CharField(help_text="What it does with a customer without a value.")
    description = serializers.CharField()


class RuleRegistryOutputSerializer(serializers.Serializer):
    fields = RuleFieldOutputSerializer(many=True)
    operators = RuleOperatorOutputSerializer(many=True)


class ExplainNodeOutputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["and", "or", "not", "condition"])
    path = serializers.CharField(help_text="Where it sits in the rule, as in 400 errors.")
    matches = serializers.BooleanField()
    field = serializers.CharField(required=False, help_text="Conditions only.")
    field_label = serializers.CharField(required=False)
    operator = serializers.CharField(required=False)
    operator_label = serializers.CharField(required=False)
    value = serializers.JSONField(required=False, help_text="The rule's value.")
    customer_value = serializers.JSONField(
        required=False, help_text="The customer's value, or for behaviour conditions the "
                                  "facts counted (events, paid orders, membership).")
    children = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="Groups only: the same shape, one per child.")


class ExplainSegmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ExplainCustomerOutputSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    name = serializers.CharField()


class ExplainOutputSerializer(serializers.Serializer):
    segment = ExplainSegmentOutputSerializer()
    customer = ExplainCustomerOutputSerializer()
    at = serializers.DateTimeField(help_text="The moment the rule was checked (now).")
    matches = serializers.BooleanField(
        help_text="Whether the rule selects the customer now (never an erased customer).")
    is_member = serializers.BooleanField(
        help_text="Whether the customer is a stored member (as of the last evaluation).")
    member_since = serializers.DateTimeField(allow_null=True)
    last_evaluated_at = serializers.DateTimeField(allow_null=True)
    tree = ExplainNodeOutputSerializer()
