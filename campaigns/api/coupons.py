"""Coupon APIs, mounted at /api/v1/ (campaigns/api/urls.py).

Operator API (staff session or operator token, as segments.api): coupon definitions with
their stats, their codes, and codes issued by hand. Storefront API (Bearer storefront key,
customers.api): validate and redeem a code. Errors use customers/api/errors.py's format; a
refused redeem is a 409 whose `code` is the reason.
"""

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from campaigns.api import coupon_serializers as io
from campaigns.api.throttling import CouponThrottle, coupon_guess_record
from campaigns.models import Coupon, CouponDefinition
from campaigns.services.coupons import (
    CouponRefused,
    DefinitionInUse,
    DefinitionInvalid,
    coupon_definition_delete,
    coupon_definition_save,
    coupon_definitions_with_stats,
    coupon_issue_manual,
)
from campaigns.services.redemptions import REASONS, Purchase, coupon_redeem, coupon_validate
from customers.api.auth import request_storefront
from customers.api.serializers import ErrorOutputSerializer
from customers.api.views import StorefrontAPIView
from customers.models import Customer
from customers.roles import Role, reads_and_writes
from segments.api.base import (
    IF_MATCH,
    Conflict,
    OperatorAPIView,
    OperatorPagination,
    changing_as_read,
    with_etag,
)

TAGS = ["coupons"]
OPERATOR_ERRORS = {
    400: "Invalid input: `errors` names each bad field.",
    401: "Not signed in as staff and no valid operator token (storefront keys do not work "
         "here).",
    403: "Signed in, but not a staff user.",
    404: "No such coupon definition (or customer).",
    409: "Refused in the current state; `code` says why.",
    412: "Changed since the If-Match version was read: nothing was written; read it again.",
}
STOREFRONT_ERRORS = {
    400: "Invalid input: `errors` names each bad field.",
    401: "Missing, wrong or revoked API key.",
    404: "No such coupon code (`code`: not_found); counts as a guess.",
    409: "Refused: `code` is the reason (" + ", ".join(r for r in REASONS if r != "not_found")
         + ").",
    413: "Body too large.",
    415: "Body is not application/json.",
    429: "Too many requests, or too many unknown codes for this key: see Retry-After.",
}


def _errors(described: dict[int, str], *codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorOutputSerializer, description=described[code])
            for code in codes}


def _definition(pk: int, *, for_update: bool = False) -> CouponDefinition:
    """With its stats; or, for a write, its row locked until the transaction ends."""
    rows = (CouponDefinition.objects.select_for_update() if for_update
            else coupon_definitions_with_stats())
    definition = rows.filter(pk=pk).first()
    if definition is None:
        raise exceptions.NotFound(_("No coupon definition with id %(id)s.") % {"id": pk})
    return definition


def _invalid(exc: DefinitionInvalid) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        [{"field": field, "message": str(message)} for field, message in exc.problems.items()])


# --- operator API ---------------------------------------------------------------------------

class CouponDefinitionListView(OperatorAPIView):
    roles = reads_and_writes(Role.MANAGER)
    pagination_class = OperatorPagination

    @extend_schema(operation_id="coupon_definitions_list", tags=TAGS,
                   summary="List coupon definitions (with stats)",
                   responses={200: io.CouponDefinitionOutputSerializer(many=True),
                              **_errors(OPERATOR_ERRORS, 401, 403)})
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(coupon_definitions_with_stats().order_by("name"),
                                           request, view=self)
        return paginator.get_paginated_response(
            io.CouponDefinitionOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="coupon_definitions_create", tags=TAGS,
        summary="Create a coupon definition",
        description="With a `shared_code`, its one shared code is created at once.",
        request=io.CouponDefinitionInputSerializer,
        responses={201: io.CouponDefinitionOutputSerializer,
                   **_errors(OPERATOR_ERRORS, 400, 401, 403)})
    def post(self, request):
        serializer = io.CouponDefinitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            definition = coupon_definition_save(**serializer.validated_data)
        except DefinitionInvalid as exc:
            raise _invalid(exc) from exc
        return Response(io.CouponDefinitionOutputSerializer(_definition(definition.pk)).data,
                        status=status.HTTP_201_CREATED)


class CouponDefinitionDetailView(OperatorAPIView):
    roles = reads_and_writes(Role.MANAGER)

    @extend_schema(operation_id="coupon_definitions_retrieve", tags=TAGS,
                   summary="A coupon definition with its stats",
                   description="stats: personal codes issued, uses, discount granted, and "
                               "what is left of each budget.",
                   responses={200: io.CouponDefinitionOutputSerializer,
                              **_errors(OPERATOR_ERRORS, 401, 403, 404)})
    def get(self, request, pk: int):
        return with_etag(Response(io.CouponDefinitionOutputSerializer(_definition(pk)).data))

    @extend_schema(operation_id="coupon_definitions_update", tags=TAGS,
                   summary="Replace a coupon definition",
                   description="name, kind and value are required; fields left out take "
                               "their defaults. Codes already issued keep their expiry.",
                   request=io.CouponDefinitionInputSerializer, parameters=[IF_MATCH],
                   responses={200: io.CouponDefinitionOutputSerializer,
                              **_errors(OPERATOR_ERRORS, 400, 401, 403, 404, 412)})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="coupon_definitions_partial_update", tags=TAGS,
                   summary="Change some fields of a coupon definition",
                   description="E.g. {\"is_active\": false} to stop its codes being issued "
                               "or used.",
                   request=io.CouponDefinitionInputSerializer, parameters=[IF_MATCH],
                   responses={200: io.CouponDefinitionOutputSerializer,
                              **_errors(OPERATOR_ERRORS, 400, 401, 403, 404, 412)})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        with changing_as_read(request, lambda: _definition(pk, for_update=True)) as definition:
            serializer = io.CouponDefinitionInputSerializer(definition, data=request.data,
                                                            partial=partial)
            serializer.is_valid(raise_exception=True)
            try:
                coupon_definition_save(definition, **serializer.validated_data)
            except DefinitionInvalid as exc:
                raise _invalid(exc) from exc
        return with_etag(Response(io.CouponDefinitionOutputSerializer(_definition(pk)).data))

    @extend_schema(operation_id="coupon_definitions_destroy", tags=TAGS,
                   summary="Delete a coupon definition",
                   description="Refused (409) once a code was issued or its shared code "
                               "used: set is_active to false instead.",
                   responses={204: None, **_errors(OPERATOR_ERRORS, 401, 403, 404, 409)})
    def delete(self, request, pk: int):
        try:
            coupon_definition_delete(_definition(pk))
        except DefinitionInUse as exc:
            raise Conflict(str(exc), code="in_use") from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class CouponDefinitionCouponsView(OperatorAPIView):
    roles = reads_and_writes(Role.MANAGER)
    pagination_class = OperatorPagination

    @extend_schema(operation_id="coupon_definitions_coupons", tags=TAGS,
                   summary="A coupon definition's codes",
                   description="Newest first, each with its customer and status.",
                   responses={200: io.CouponOutputSerializer(many=True),
                              **_errors(OPERATOR_ERRORS, 401, 403, 404)})
    def get(self, request, pk: int):
        definition = _definition(pk)
        coupons = Coupon.objects.filter(definition=definition) \
            .select_related("customer", "definition").order_by("-issued_at", "-id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(coupons, request, view=self)
        return paginator.get_paginated_response(io.CouponOutputSerializer(page, many=True).data)


class CouponIssueView(OperatorAPIView):
    roles = reads_and_writes(Role.MANAGER)

    @extend_schema(
        operation_id="coupon_definitions_issue", tags=TAGS,
        summary="Issue a personal code by hand (customer service)",
        description="Within the per-customer limit and the budget. 409 with `code` "
                    "budget_exhausted, per_customer_limit, inactive, expired or shared_code "
                    "(a shared-code definition issues no personal codes).",
        request=io.IssueInputSerializer,
        responses={201: io.CouponOutputSerializer,
                   **_errors(OPERATOR_ERRORS, 400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        definition = _definition(pk)
        serializer = io.IssueInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        external_id = serializer.validated_data["customer_external_id"]
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise exceptions.NotFound(
                _("No customer with external id %(id)r.") % {"id": external_id})
        try:
            coupon = coupon_issue_manual(definition_id=definition.pk, customer_id=customer.pk,
                                         now=timezone.now())
        except CouponRefused as exc:
            raise Conflict(_("Not issued: %(reason)s.") % {"reason": exc.reason},
                           code=exc.reason) from exc
        return Response(io.CouponOutputSerializer(coupon).data, status=status.HTTP_201_CREATED)


# --- storefront API -------------------------------------------------------------------------

class CouponStorefrontView(StorefrontAPIView):
    throttle_classes = [CouponThrottle]

    def purchase(self, data: io.CouponCheckIn) -> Purchase:
        currency = data.currency or request_storefront(self.request).currency
        return Purchase(customer_external_id=data.customer_external_id,
                        amount=data.order_amount, currency=currency,
                        other_codes=tuple(data.other_codes))


class CouponValidateView(CouponStorefrontView):
    @extend_schema(
        operation_id="coupon_validate", tags=TAGS,
        summary="Check a coupon code against an order",
        description="200 whether valid or not: `valid`, the `discount` it would give, and "
                    "if not valid a machine `reason`. Writes nothing. An unknown customer is "
                    "a customer with no history. Unknown codes count towards the guessing "
                    "limit (429 past it).",
        request=io.CouponCheckIn,
        responses={200: io.ValidateOutputSerializer,
                   **_errors(STOREFRONT_ERRORS, 400, 401, 413, 415, 429)})
    def post(self, request):
        data = self.payload(io.CouponCheckIn)
        verdict = coupon_validate(code=data.code, order=self.purchase(data), now=timezone.now())
        if verdict.reason == "not_found":
            coupon_guess_record(request.auth.pk)
        return Response(io.validate_answer(verdict))


class CouponRedeemView(CouponStorefrontView):
    @extend_schema(
        operation_id="coupon_redeem", tags=TAGS,
        summary="Use a coupon code on an order, once",
        description="Idempotent per (code, order_external_id): the same request again "
                    "returns the stored redemption. Another order on a used single-use code "
                    "is a 409 already_used; every refusal is a 409 whose `code` is the reason "
                    "and writes nothing. An unknown customer is created.",
        request=io.CouponRedeemIn,
        responses={200: io.RedeemOutputSerializer,
                   **_errors(STOREFRONT_ERRORS, 400, 401, 404, 409, 413, 415, 429)})
    def post(self, request):
        data = self.payload(io.CouponRedeemIn)
        verdict = coupon_redeem(code=data.code, order=self.purchase(data),
                                order_external_id=data.order_external_id, now=timezone.now())
        if verdict.reason == "not_found":
            coupon_guess_record(request.auth.pk)
            raise exceptions.NotFound(verdict.message, code="not_found")
        if verdict.reason:
            raise Conflict(verdict.message, code=verdict.reason)
        return Response(io.redeem_answer(verdict))
