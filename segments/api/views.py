"""Operator API for segments, mounted at /api/v1/ (config/urls.py): staff session or
operator token only (segments.api.auth). Each view validates its input, calls one service or
selector, and shapes the answer; errors use the storefront API's format
(customers/api/errors.py) with `field` naming the bad part, e.g. `rule.and[1].==`."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from customers.models import Customer
from customers.roles import Role, reads_and_writes
from segments.api import serializers as out
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
from segments.library import TemplateError, describe_templates, template_rule
from segments.models import Segment
from segments.rules import RuleError, describe
from segments.selectors import segment_changes, segment_members, segment_preview
from segments.services.explain import segment_explain
from segments.services.segments import (
    SegmentInUse,
    segment_create,
    segment_delete,
    segment_update,
)

TAGS = ["segments"]


def _invalid(exc: RuleError | TemplateError) -> exceptions.ValidationError:
    if isinstance(exc, RuleError):
        errors = [{"field": f"rule.{problem.path}" if problem.path else "rule",
                   "message": problem.message} for problem in exc.problems]
    else:
        errors = [{"field": path, "message": message} for path, message in exc.problems]
    return exceptions.ValidationError(errors)


def _segment(pk: int, *, for_update: bool = False) -> Segment:
    segments = Segment.objects.select_for_update() if for_update else Segment.objects
    segment = segments.filter(pk=pk).first()
    if segment is None:
        raise exceptions.NotFound(_("No segment with id %(id)s.") % {"id": pk})
    return segment


class SegmentListView(OperatorAPIView):
    pagination_class = OperatorPagination

    @extend_schema(operation_id="segments_list", tags=TAGS, summary="List segments",
                   responses={200: out.SegmentOutputSerializer(many=True),
                              **error_responses(401, 403)})
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(Segment.objects.order_by("name"), request, view=self)
        return paginator.get_paginated_response(out.SegmentOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="segments_create", tags=TAGS, summary="Create a segment",
        description="From a `rule`, or from a `template` with `params` (its rule is copied, so "
                    "it can be edited afterwards). The first evaluation is queued at once.",
        request=out.SegmentInputSerializer,
        responses={201: out.SegmentDetailOutputSerializer, **error_responses(400, 401, 403)})
    def post(self, request):
        data = valid_data(out.SegmentInputSerializer(data=request.data))
        try:
            segment = segment_create(created_by=request.user, **data)
        except (RuleError, TemplateError) as exc:
            raise _invalid(exc) from exc
        return Response(out.SegmentDetailOutputSerializer(segment).data,
                        status=status.HTTP_201_CREATED)


class SegmentDetailView(OperatorAPIView):
    @extend_schema(operation_id="segments_retrieve", tags=TAGS, summary="A segment",
                   description="With its size history and the duration of its last "
                               "evaluation.",
                   responses={200: out.SegmentDetailOutputSerializer,
                              **error_responses(401, 403, 404)})
    def get(self, request, pk: int):
        return with_etag(Response(out.SegmentDetailOutputSerializer(_segment(pk)).data))

    @extend_schema(operation_id="segments_update", tags=TAGS, summary="Replace a segment",
                   description="`name` and `rule` are required; a changed rule is "
                               "re-evaluated at once.",
                   request=out.SegmentInputSerializer, parameters=[IF_MATCH],
                   responses={200: out.SegmentDetailOutputSerializer,
                              **error_responses(400, 401, 403, 404, 412)})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="segments_partial_update", tags=TAGS,
                   summary="Change some fields of a segment",
                   request=out.SegmentInputSerializer, parameters=[IF_MATCH],
                   responses={200: out.SegmentDetailOutputSerializer,
                              **error_responses(400, 401, 403, 404, 412)})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        with changing_as_read(request, lambda: _segment(pk, for_update=True)) as segment:
            data = valid_data(out.SegmentInputSerializer(segment, data=request.data,
                                                         partial=partial))
            try:
                segment = segment_update(segment, **data)
            except RuleError as exc:
                raise _invalid(exc) from exc
        return with_etag(Response(out.SegmentDetailOutputSerializer(segment).data))

    @extend_schema(operation_id="segments_destroy", tags=TAGS, summary="Delete a segment",
                   description="With its members, change log and history. Refused (409) "
                               "while another segment's rule refers to it.",
                   responses={204: None, **error_responses(401, 403, 404, 409)})
    def delete(self, request, pk: int):
        try:
            segment_delete(_segment(pk))
        except SegmentInUse as exc:
            raise Conflict(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentPreviewView(OperatorAPIView):
    roles = reads_and_writes(Role.VIEWER)  # its POST reads only

    @extend_schema(
        operation_id="segments_preview", tags=TAGS, summary="Preview a rule without saving",
        description="How many customers a rule (or a template) selects now, and up to 20 of "
                    "them: one count query and one sample query.",
        request=out.PreviewInputSerializer,
        responses={200: out.PreviewOutputSerializer, **error_responses(400, 401, 403)})
    def post(self, request):
        data = valid_data(out.PreviewInputSerializer(data=request.data))
        try:
            rule = data["rule"] if "rule" in data \
                else template_rule(data["template"], data.get("params"))
            preview = segment_preview(rule)
        except (RuleError, TemplateError) as exc:
            raise _invalid(exc) from exc
        return Response(out.PreviewOutputSerializer({
            "count": preview.count, "sample": preview.sample, "rule": rule,
            "time_dependent": preview.time_dependent, "duration_ms": preview.duration_ms,
        }).data)


class SegmentMembersView(OperatorAPIView):
    pagination_class = OperatorPagination

    @extend_schema(operation_id="segments_members", tags=TAGS, summary="A segment's members",
                   description="As of its last evaluation, in customer order.",
                   responses={200: out.MemberOutputSerializer(many=True),
                              **error_responses(401, 403, 404)})
    def get(self, request, pk: int):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(segment_members(_segment(pk)), request, view=self)
        return paginator.get_paginated_response(out.MemberOutputSerializer(page, many=True).data)


class AfterIdPagination(BasePagination):
    """Keyset pagination over the change log: `?after=<last id seen>`. A consumer keeps the
    last id and asks again later; rows are never skipped or repeated."""

    def __init__(self, *, limit: int = 100, after: int | None = None):
        self.limit, self.last_id, self.more = limit, after, False

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        rows = list(queryset[:self.limit + 1])
        self.more = len(rows) > self.limit
        rows = rows[:self.limit]
        if rows:
            self.last_id = rows[-1].id
        return rows

    def get_paginated_response(self, data):
        next_url = replace_query_param(self.request.build_absolute_uri(), "after",
                                       self.last_id) if self.more else None
        return Response({"next": next_url, "last_id": self.last_id, "results": data})

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "required": ["next", "last_id", "results"], "properties": {
            "next": {"type": "string", "format": "uri", "nullable": True,
                     "description": "The next page, or null when this is the end for now."},
            "last_id": {"type": "integer", "nullable": True,
                        "description": "Send as `after` to continue from here later."},
            "results": schema,
        }}


class SegmentChangesView(OperatorAPIView):
    pagination_class = AfterIdPagination

    @extend_schema(operation_id="segments_changes", tags=TAGS,
                   summary="A segment's change log (who entered and left)",
                   description="In ascending id order, the order campaigns consume it.",
                   parameters=[out.ChangesQueryInputSerializer],
                   responses={200: out.ChangeOutputSerializer(many=True),
                              **error_responses(400, 401, 403, 404)})
    def get(self, request, pk: int):
        segment = _segment(pk)
        query = valid_data(out.ChangesQueryInputSerializer(data=request.query_params))
        changes = segment_changes(segment, after=query.get("after"), kind=query.get("kind"))
        paginator = self.pagination_class(limit=query["limit"], after=query.get("after"))
        page = paginator.paginate_queryset(changes, request, view=self)
        return paginator.get_paginated_response(out.ChangeOutputSerializer(page, many=True).data)


class SegmentTemplatesView(OperatorAPIView):
    @extend_schema(operation_id="segment_templates_list", tags=TAGS,
                   summary="Ready segment templates",
                   description="Names and descriptions in English and Simplified Chinese, the "
                               "parameters as JSON Schema, and the rule with the defaults.",
                   responses={200: out.TemplateOutputSerializer(many=True),
                              **error_responses(401, 403)})
    def get(self, request):
        return Response(out.TemplateOutputSerializer(describe_templates(), many=True).data)


class SegmentFieldsView(OperatorAPIView):
    @extend_schema(operation_id="segment_fields_list", tags=TAGS,
                   summary="Rule fields and operators (for the rule builder)",
                   description="Every field with the operators it takes and each value's JSON "
                               "Schema, and every operator with what it does with a missing "
                               "value. Labels follow Accept-Language (en, zh-hans).",
                   responses={200: out.RuleRegistryOutputSerializer, **error_responses(401, 403)})
    def get(self, request):
        return Response(out.RuleRegistryOutputSerializer(describe()).data)


class SegmentExplainView(OperatorAPIView):
    @extend_schema(
        operation_id="segments_explain", tags=TAGS,
        summary="Why a customer is (not) in a segment",
        description="Every condition of the rule checked for this customer now, with the "
                    "customer's value, and the verdict of every and/or/not group.",
        parameters=[OpenApiParameter("external_id", str, OpenApiParameter.PATH,
                                     description="The customer's external id.")],
        responses={200: out.ExplainOutputSerializer, **error_responses(401, 403, 404, 409)})
    def get(self, request, pk: int, external_id: str):
        segment = _segment(pk)
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise exceptions.NotFound(
                _("No customer with external id %(id)r.") % {"id": external_id})
        try:
            explanation = segment_explain(segment=segment, customer=customer)
        except RuleError as exc:
            raise Conflict(_("The segment's stored rule is no longer valid: %(problems)s")
                           % {"problems": exc}) from exc
        return Response(out.ExplainOutputSerializer(explanation).data)
