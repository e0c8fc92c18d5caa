"""Operator API for campaigns, mounted at /api/v1/ (config/urls.py): staff session or
operator token only, errors in the storefront API's format with `field` naming the bad part
of a graph (`graph.nodes[wait-1].config.days`)."""

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from campaigns.api import serializers as out
from campaigns.flows import GraphError, describe
from campaigns.models import Campaign, CampaignVersion, Journey
from campaigns.services.campaigns import (
    CampaignStateError,
    campaign_archive,
    campaign_delete,
    campaign_pause,
    campaign_publish,
    campaign_resume,
    campaign_save,
    graph_check,
)
from customers.roles import Role, reads_and_writes
from segments.api.base import (
    IF_MATCH,
    Conflict,
    OperatorAPIView,
    OperatorPagination,
    changing_as_read,
    error_responses,
    valid_data,
    with_etag,
)

TAGS = ["campaigns"]


def grapherror_responses(exc: GraphError) -> exceptions.ValidationError:
    return exceptions.ValidationError([
        {"field": f"graph.{p.path}" if p.path else "graph", "message": p.message}
        for p in exc.problems])


def _campaign(pk: int, *, for_update: bool = False) -> Campaign:
    campaigns = Campaign.objects.select_related("current_version")
    if for_update:
        campaigns = campaigns.select_for_update(of=("self",))
    campaign = campaigns.filter(pk=pk).first()
    if campaign is None:
        raise exceptions.NotFound(_("No campaign with id %(id)s.") % {"id": pk})
    return campaign


class CampaignListView(OperatorAPIView):
    pagination_class = OperatorPagination

    @extend_schema(operation_id="campaigns_list", tags=TAGS, summary="List campaigns",
                   parameters=[OpenApiParameter("status", str, enum=Campaign.Status.values)],
                   responses={200: out.CampaignOutputSerializer(many=True),
                              **error_responses(401, 403)})
    def get(self, request):
        campaigns = Campaign.objects.select_related("current_version").order_by("name")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in Campaign.Status.values:
                raise exceptions.ValidationError({"status": [
                    f"one of {', '.join(Campaign.Status.values)}"]})
            campaigns = campaigns.filter(status=wanted)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(campaigns, request, view=self)
        return paginator.get_paginated_response(
            out.CampaignOutputSerializer(page, many=True).data)

    @extend_schema(operation_id="campaigns_create", tags=TAGS, summary="Create a campaign",
                   description="A draft. Its graph, when given, is validated in full: every "
                               "problem comes back as a 400 naming the node.",
                   request=out.CampaignInputSerializer,
                   responses={201: out.CampaignOutputSerializer, **error_responses(400, 401, 403)})
    def post(self, request):
        data = valid_data(out.CampaignInputSerializer(data=request.data))
        try:
            campaign = campaign_save(Campaign(created_by=request.user), **data)
        except GraphError as exc:
            raise grapherror_responses(exc) from exc
        return Response(out.CampaignOutputSerializer(campaign).data,
                        status=status.HTTP_201_CREATED)


class CampaignDetailView(OperatorAPIView):
    @extend_schema(operation_id="campaigns_retrieve", tags=TAGS, summary="A campaign",
                   responses={200: out.CampaignOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request, pk: int):
        return with_etag(Response(out.CampaignOutputSerializer(_campaign(pk)).data))

    @extend_schema(operation_id="campaigns_update", tags=TAGS, summary="Replace a campaign",
                   description="Changes the draft; published versions never change (publish "
                               "again to apply a new graph to new entries).",
                   request=out.CampaignInputSerializer, parameters=[IF_MATCH],
                   responses={200: out.CampaignOutputSerializer,
                              **error_responses(400, 401, 403, 404, 409, 412)})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="campaigns_partial_update", tags=TAGS,
                   summary="Change some fields of a campaign",
                   request=out.CampaignInputSerializer, parameters=[IF_MATCH],
                   responses={200: out.CampaignOutputSerializer,
                              **error_responses(400, 401, 403, 404, 409, 412)})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        with changing_as_read(request, lambda: _campaign(pk, for_update=True)) as campaign:
            data = valid_data(out.CampaignInputSerializer(campaign, data=request.data,
                                                          partial=partial))
            try:
                campaign = campaign_save(campaign, **data)
            except GraphError as exc:
                raise grapherror_responses(exc) from exc
            except CampaignStateError as exc:
                raise Conflict(str(exc)) from exc
        return with_etag(Response(out.CampaignOutputSerializer(campaign).data))

    @extend_schema(operation_id="campaigns_destroy", tags=TAGS, summary="Delete a campaign",
                   description="Only a campaign that was never published (409 otherwise: "
                               "archive it, its results stay).",
                   responses={204: None, **error_responses(401, 403, 404, 409)})
    def delete(self, request, pk: int):
        try:
            campaign_delete(_campaign(pk))
        except CampaignStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignPublishView(OperatorAPIView):
    roles = reads_and_writes(Role.MANAGER)

    @extend_schema(
        operation_id="campaigns_publish", tags=TAGS, summary="Publish the draft",
        description="Freezes the draft graph as the next version and makes the campaign "
                    "active on it. Journeys under way finish the version they started; new "
                    "entries take this one. 400 names every problem of the graph.",
        request=None, responses={201: out.VersionOutputSerializer,
                                 **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        campaign = _campaign(pk)
        try:
            version = campaign_publish(campaign, user=request.user)
        except GraphError as exc:
            raise grapherror_responses(exc) from exc
        except CampaignStateError as exc:
            raise Conflict(str(exc)) from exc
        version.journey_count = 0
        return Response(out.VersionOutputSerializer(version).data,
                        status=status.HTTP_201_CREATED)


def _state_view(operation: str, action, summary: str, description: str):
    class StateView(OperatorAPIView):
        roles = reads_and_writes(Role.MANAGER)

        @extend_schema(operation_id=f"campaigns_{operation}", tags=TAGS, summary=summary,
                       description=description, request=None,
                       responses={200: out.CampaignOutputSerializer,
                                  **error_responses(401, 403, 404, 409)})
        def post(self, request, pk: int):
            try:
                campaign = action(_campaign(pk))
            except CampaignStateError as exc:
                raise Conflict(str(exc)) from exc
            return Response(out.CampaignOutputSerializer(campaign).data)

    StateView.__name__ = f"Campaign{operation.title()}View"
    return StateView


CampaignPauseView = _state_view(
    "pause", campaign_pause, "Pause a campaign",
    "No new entries; journeys hold where they stand and messages not yet sent wait.")
CampaignResumeView = _state_view(
    "resume", campaign_resume, "Resume a paused campaign",
    "Journeys go on; triggers count from now (what happened while paused starts nothing).")
CampaignArchiveView = _state_view(
    "archive", campaign_archive, "Archive a campaign",
    "Stops it for good: journeys under way end and messages not yet sent are skipped. "
    "Its results stay.")


class CampaignVersionsView(OperatorAPIView):
    @extend_schema(operation_id="campaigns_versions", tags=TAGS,
                   summary="A campaign's published versions",
                   responses={200: out.VersionOutputSerializer(many=True),
                              **error_responses(401, 403, 404)})
    def get(self, request, pk: int):
        versions = (CampaignVersion.objects.filter(campaign=_campaign(pk))
                    .select_related("published_by").annotate(journey_count=Count("journeys"))
                    .order_by("number"))
        return Response(out.VersionOutputSerializer(versions, many=True).data)


class CampaignJourneysView(OperatorAPIView):
    pagination_class = OperatorPagination

    @extend_schema(operation_id="campaigns_journeys", tags=TAGS,
                   summary="A campaign's journeys", description="Newest first.",
                   parameters=[out.JourneysQueryInputSerializer],
                   responses={200: out.JourneyOutputSerializer(many=True),
                              **error_responses(400, 401, 403, 404)})
    def get(self, request, pk: int):
        campaign = _campaign(pk)
        query = valid_data(out.JourneysQueryInputSerializer(data=request.query_params))
        journeys = Journey.objects.filter(campaign=campaign).select_related(
            "customer", "version").order_by("-id")
        if "customer" in query:
            journeys = journeys.filter(customer__external_id=query["customer"])
        if "version" in query:
            journeys = journeys.filter(version__number=query["version"])
        journeys = journeys.filter(**{key: query[key] for key in ("status", "node")
                                      if key in query})
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(journeys, request, view=self)
        return paginator.get_paginated_response(out.JourneyOutputSerializer(
            page, many=True, context={"now": timezone.now()}).data)


class GraphCheckView(OperatorAPIView):
    roles = reads_and_writes(Role.VIEWER)  # its POST reads only

    @extend_schema(operation_id="flow_graphs_check", tags=TAGS,
                   summary="Check a graph without saving it",
                   description="Every problem the server would refuse on save or publish, "
                               "each with the node it concerns (for the canvas to mark).",
                   request=out.GraphInputSerializer,
                   responses={200: out.GraphCheckOutputSerializer,
                              **error_responses(400, 401, 403)})
    def post(self, request):
        graph = valid_data(out.GraphInputSerializer(data=request.data))["graph"]
        try:
            graph_check(graph)
        except GraphError as exc:
            problems = [{"field": f"graph.{p.path}" if p.path else "graph",
                         "node": _node_of(p.path), "message": p.message} for p in exc.problems]
            return Response({"valid": False, "problems": problems})
        return Response({"valid": True, "problems": []})


def _node_of(path: str) -> str | None:
    if path.startswith("nodes[") and "]" in path:
        return path[len("nodes["):path.index("]")]
    return None


class NodeTypesView(OperatorAPIView):
    @extend_schema(operation_id="flow_node_types_list", tags=TAGS,
                   summary="Canvas node types (the palette)",
                   description="Every node type with its config JSON Schema and its ports. "
                               "Labels follow Accept-Language (en, zh-hans).",
                   responses={200: out.NodeTypeOutputSerializer(many=True),
                              **error_responses(401, 403)})
    def get(self, request):
        return Response(out.NodeTypeOutputSerializer(describe(), many=True).data)
