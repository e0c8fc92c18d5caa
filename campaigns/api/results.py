"""Operator API for a campaign's results and its dry run, mounted at /api/v1/ (config/urls.py):
staff session or operator token, errors in the API's one format (customers/api/errors.py).

    GET  /api/v1/campaigns/{id}/results/[?version=N]
    POST /api/v1/campaigns/{id}/simulate/

docs/results.md defines every figure.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from campaigns.flows import GraphError
from campaigns.models import Campaign
from campaigns.services.results import VersionNotFound, campaign_results
from campaigns.services.simulate import campaign_simulate
from customers.api.serializers import ErrorOutputSerializer
from segments.api.base import OperatorAPIView

TAGS = ["campaign results"]
MONEY = {"max_digits": 16, "decimal_places": 2}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "Invalid input: `errors` names each bad part (`version`, "
             "`draft_graph.nodes[wait-1].config.days`).",
        401: "Not signed in as staff and no valid operator token (storefront keys do not "
             "work here).",
        403: "Signed in, but not a staff user.",
        404: "No such campaign (or no such version of it).",
    }
    return {code: OpenApiResponse(ErrorOutputSerializer, description=described[code])
            for code in codes}


def _campaign(pk: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=pk).first()
    if campaign is None:
        raise exceptions.NotFound(_("No campaign with id %(id)s.") % {"id": pk})
    return campaign


# --- output shapes ------------------------------------------------------------------------

def _counts(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


def _money(help_text: str = "", **options) -> serializers.DecimalField:
    return serializers.DecimalField(**MONEY, help_text=help_text, **options)


class MoneyIntervalOutputSerializer(serializers.Serializer):
    difference = _money("The difference in means (first minus second).")
    low = _money("Lower end of the 95% confidence interval (Welch's t); null with fewer "
                 "than two customers in a group.", allow_null=True)
    high = _money("Upper end of the 95% confidence interval.", allow_null=True)
    df = serializers.FloatField(allow_null=True,
                                help_text="Welch-Satterthwaite degrees of freedom.")


class RateIntervalOutputSerializer(serializers.Serializer):
    difference = serializers.FloatField(help_text="Difference of conversion rates (0..1).")
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    df = serializers.FloatField(allow_null=True)


class JourneyCountsOutputSerializer(serializers.Serializer):
    entered = serializers.IntegerField(help_text="Journeys started, holdouts included.")
    treated = serializers.IntegerField()
    holdout = serializers.IntegerField()
    active = serializers.IntegerField(help_text="On their way, waiting ones included.")
    waiting = serializers.IntegerField(help_text="Active, with their next step in the future.")
    completed = serializers.IntegerField()
    converted = serializers.IntegerField(help_text="Ended early by the runner on the goal.")
    exited = serializers.IntegerField()
    failed = serializers.IntegerField()


class MessagesOutputSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="Queued or being sent.")
    sent = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped_by_reason = _counts("e.g. {\"no_consent\": 3, \"frequency_cap\": 1}")
    failed_by_reason = _counts("Failures by reason.")
    sent_by_channel = _counts("Sent messages by channel.")


class CouponsOutputSerializer(serializers.Serializer):
    issued = serializers.IntegerField()
    redeemed = serializers.IntegerField(help_text="Codes used at least once.")
    redemptions = serializers.IntegerField()
    discount = _money("Discount given on the redemptions.")
    not_issued_by_reason = _counts("Codes not issued: budget, limit, inactive, expired, "
                                   "shared_code.")


class AttributionOutputSerializer(serializers.Serializer):
    touched = serializers.IntegerField(help_text="Journeys with a touch (a message sent or a "
                                                 "coupon issued).")
    orders = serializers.IntegerField(help_text="Paid orders within the attribution window "
                                                "after a first touch, each counted once.")
    revenue = _money("Their revenue, net of refunds.")


class GroupOutputSerializer(serializers.Serializer):
    customers = serializers.IntegerField()
    conversions = serializers.IntegerField(
        allow_null=True, help_text="Customers who reached the goal within goal_days of the "
                                   "start; null when the campaign has no goal.")
    conversion_rate = serializers.FloatField(allow_null=True)
    revenue = _money("Paid orders (net of refunds) within attribution_days of the start.")
    arpu = _money("Revenue per customer, customers without orders included.", allow_null=True)


class ComparisonOutputSerializer(serializers.Serializer):
    arpu = MoneyIntervalOutputSerializer(allow_null=True)
    conversion_rate = RateIntervalOutputSerializer(allow_null=True)


class UpliftOutputSerializer(ComparisonOutputSerializer):
    coupon_cost_per_customer = _money("Discount redeemed in the campaign per treated "
                                      "customer.")
    arpu_net = MoneyIntervalOutputSerializer(
        allow_null=True, help_text="The ARPU uplift less the coupon cost per treated customer.")


class BranchOutputSerializer(serializers.Serializer):
    port = serializers.CharField()
    group = GroupOutputSerializer()
    versus_first = ComparisonOutputSerializer(
        allow_null=True, help_text="This branch minus the first one; null for the first.")


class NodeResultOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    label = serializers.CharField(allow_blank=True)
    entered = serializers.IntegerField(help_text="Journeys that reached the node.")
    at_node = serializers.IntegerField(help_text="Active journeys standing here now.")
    waiting = serializers.IntegerField()
    completed = serializers.IntegerField()
    converted = serializers.IntegerField()
    exited = serializers.IntegerField()
    failed = serializers.IntegerField()
    ports = _counts("Steps taken through each port.")
    messages = MessagesOutputSerializer()
    coupons = CouponsOutputSerializer()
    attribution = AttributionOutputSerializer(
        help_text="Orders after each journey's first touch at this node.")
    branches = BranchOutputSerializer(many=True, allow_null=True,
                                      help_text="A/B split nodes only.")


class ResultsOutputSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    version = serializers.IntegerField(allow_null=True)
    as_of = serializers.DateTimeField()
    goal = serializers.JSONField()
    goal_days = serializers.IntegerField()
    attribution_days = serializers.IntegerField()
    holdout_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    journeys = JourneyCountsOutputSerializer()
    messages = MessagesOutputSerializer()
    coupons = CouponsOutputSerializer()
    attribution = AttributionOutputSerializer()
    treated = GroupOutputSerializer()
    holdout = GroupOutputSerializer()
    uplift = UpliftOutputSerializer(help_text="Treated minus holdout.")
    nodes = NodeResultOutputSerializer(many=True)


class ResultsQueryInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Only the journeys of this version (its number); all versions without it.")


class NodeSimulationOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    label = serializers.CharField(allow_blank=True)
    entered = serializers.IntegerField()
    ports = _counts("Customers leaving through each port.")
    messages = serializers.IntegerField(help_text="Messages that would be sent.")
    skipped_by_reason = _counts("Messages that would be skipped, by reason: no_address, "
                                "no_consent, suppressed, frequency_cap.")
    coupons = serializers.IntegerField(help_text="Codes that would be issued.")
    not_issued_by_reason = _counts("budget, limit, inactive, expired, shared_code.")
    discount_budget = _money("Estimated discount of the codes it would issue.")
    estimate = serializers.CharField(allow_blank=True,
                                     help_text="What is estimated at this node, in words.")


class SimulationOutputSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    as_of = serializers.DateTimeField()
    trigger = serializers.CharField()
    lookback_days = serializers.IntegerField(
        allow_null=True, help_text="For triggers read from the recent past: how far back.")
    eligible = serializers.IntegerField(help_text="Customers the trigger selects now.")
    already_entered = serializers.IntegerField(help_text="Kept out by the entry rule.")
    entering = serializers.IntegerField(help_text="Would enter, holdouts included.")
    holdout = serializers.IntegerField()
    treated = serializers.IntegerField()
    coupons = serializers.IntegerField()
    discount_budget = _money()
    messages_by_channel = _counts("Messages that would be sent, by channel.")
    skipped_by_reason = _counts("Messages that would be skipped, by reason.")
    nodes = NodeSimulationOutputSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())


# --- views ----------------------------------------------------------------------------------

class CampaignResultsView(OperatorAPIView):
    @extend_schema(
        operation_id="campaigns_results", tags=TAGS, summary="A campaign's results",
        description="Journeys, messages, coupons, conversions and attributed revenue, per "
                    "campaign and per node, and the ARPU of treated customers against the "
                    "holdout with the uplift and its 95% confidence interval (Welch), net of "
                    "coupon cost; A/B split nodes report each branch. Definitions: "
                    "docs/results.md.",
        parameters=[ResultsQueryInputSerializer,
                    OpenApiParameter("id", int, OpenApiParameter.PATH,
                                     description="The campaign's id.")],
        responses={200: ResultsOutputSerializer, **_errors(400, 401, 403, 404)})
    def get(self, request, pk: int):
        campaign = _campaign(pk)
        query = ResultsQueryInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            results = campaign_results(campaign, version=query.validated_data.get("version"))
        except VersionNotFound as exc:
            raise exceptions.NotFound(_("Campaign %(id)s has no version %(version)s.")
                                      % {"id": pk, "version": exc.args[0]}) from exc
        return Response(ResultsOutputSerializer(results).data)


class CampaignSimulateView(OperatorAPIView):
    @extend_schema(
        operation_id="campaigns_simulate", tags=TAGS,
        summary="Dry-run a campaign's draft over the current customers",
        description="Walks the draft graph over the customers who would enter now, writing "
                    "and sending nothing: how many would enter (and be held out), pass each "
                    "node and through which port, which messages would be skipped and why, "
                    "and how many coupons and what discount budget it would spend. What is "
                    "estimated is said in `notes` and each node's `estimate`. A draft that "
                    "could not be published is a 400 naming each problem.",
        request=None,
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH,
                                     description="The campaign's id.")],
        responses={200: SimulationOutputSerializer, **_errors(400, 401, 403, 404)})
    def post(self, request, pk: int):
        campaign = _campaign(pk)
        try:
            simulation = campaign_simulate(campaign)
        except GraphError as exc:
            raise exceptions.ValidationError([
                {"field": f"draft_graph.{problem.path}" if problem.path else "draft_graph",
                 "message": problem.message} for problem in exc.problems]) from exc
        return Response(SimulationOutputSerializer(simulation).data)
