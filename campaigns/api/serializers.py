"""Input and output shapes of the operator API for campaigns, versions and journeys."""

from rest_framework import serializers

from campaigns.models import Campaign, CampaignVersion, Journey
from campaigns.services.campaigns import goal_problems
from segments.api.serializers import StrictSerializer

GRAPH_HELP = (
    'The canvas graph: {"nodes": [{"id", "type", "config", "position"}], "edges": '
    '[{"source", "port", "target"}]}. GET /api/v1/flow-node-types/ lists every node type with '
    "its config schema and ports.")
GOAL_HELP = ('{"kind": "order"} or {"kind": "event", "name": "signup"}: reached within '
             "goal_days of entering, it ends the journey early and counts as a conversion. "
             "{} for none.")


class CampaignInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    graph = serializers.JSONField(required=False, help_text=GRAPH_HELP,
                                  source="draft_graph")
    entry = serializers.ChoiceField(choices=Campaign.Entry.choices, required=False)
    reentry_days = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                            max_value=3650)
    holdout_percent = serializers.DecimalField(required=False, max_digits=5, decimal_places=2,
                                               min_value=0, max_value=100)
    goal = serializers.JSONField(required=False, help_text=GOAL_HELP)
    goal_days = serializers.IntegerField(required=False, min_value=1, max_value=365)
    attribution_days = serializers.IntegerField(required=False, min_value=1, max_value=365)
    priority = serializers.IntegerField(required=False, min_value=-1000, max_value=1000)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        entry = attrs.get("entry", getattr(self.instance, "entry", Campaign.Entry.ONCE))
        days = attrs.get("reentry_days", getattr(self.instance, "reentry_days", None))
        if entry == Campaign.Entry.AGAIN_AFTER and not days:
            raise serializers.ValidationError(
                {"reentry_days": ["required when entry is again_after"]})
        return attrs

    def validate_goal(self, goal):
        problems = goal_problems(goal)
        if problems:
            raise serializers.ValidationError([problem.message for problem in problems])
        return goal

    def validate_name(self, name):
        others = Campaign.objects.filter(name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("a campaign with this name already exists")
        return name


class CampaignOutputSerializer(serializers.ModelSerializer):
    graph = serializers.JSONField(source="draft_graph", help_text="The draft graph.")
    current_version = serializers.IntegerField(
        source="current_version.number", allow_null=True, default=None,
        help_text="The published version new journeys start on (null: never published).")
    goal = serializers.JSONField(help_text=GOAL_HELP)

    class Meta:
        model = Campaign
        fields = ["id", "name", "description", "status", "graph", "current_version", "entry",
                  "reentry_days", "holdout_percent", "goal", "goal_days", "attribution_days",
                  "priority", "activated_at", "created_at", "updated_at"]
        read_only_fields = fields


class VersionOutputSerializer(serializers.ModelSerializer):
    published_by = serializers.CharField(source="published_by.get_username", allow_null=True,
                                         default=None)
    journeys = serializers.IntegerField(source="journey_count",
                                        help_text="Journeys that started on this version.")

    class Meta:
        model = CampaignVersion
        fields = ["number", "graph", "published_at", "published_by", "journeys"]
        read_only_fields = fields


class GraphInputSerializer(StrictSerializer):
    graph = serializers.JSONField(help_text=GRAPH_HELP)


class ProblemOutputSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Where: graph.nodes[<node id>].config.<key>, ...")
    node = serializers.CharField(allow_null=True, help_text="The node's id, when it is one.")
    message = serializers.CharField()


class GraphCheckOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    problems = ProblemOutputSerializer(many=True)


class NodeTypeOutputSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="Written as the node's `type`.")
    label = serializers.CharField()
    category = serializers.ChoiceField(choices=["trigger", "wait", "logic", "action", "exit"])
    description = serializers.CharField()
    config_schema = serializers.DictField(help_text="JSON Schema of the node's `config`.")
    ports = serializers.ListField(child=serializers.CharField(),
                                  help_text="Its ways out (a split's follow its branches).")


class JourneysQueryInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Journey.Status.choices, required=False)
    node = serializers.CharField(required=False, max_length=64,
                                 help_text="Only journeys standing at this node.")
    customer = serializers.CharField(required=False, max_length=128,
                                     help_text="Only this customer's (external id).")
    version = serializers.IntegerField(required=False, min_value=1)


class JourneyOutputSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    version = serializers.IntegerField(source="version.number")
    waiting_until = serializers.SerializerMethodField(
        help_text="When it looks again, if it is waiting.")

    class Meta:
        model = Journey
        fields = ["id", "customer", "version", "status", "node", "step", "entry_key",
                  "entered_at", "arrived_at", "waiting_until", "finished_at", "converted_at"]
        read_only_fields = fields

    def get_waiting_until(self, journey: Journey) -> str | None:
        now = self.context["now"]
        if journey.status == Journey.Status.ACTIVE and journey.due_at and journey.due_at > now:
            return serializers.DateTimeField().to_representation(journey.due_at)
        return None
