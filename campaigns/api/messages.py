"""Messages API, mounted at /api/v1/ (config/urls.py).

Operator API (staff session or operator token, as segments/api): message templates with a
preview and a test send, and webhook endpoints. Storefront API (Bearer storefront key): the
offers a customer can see. Errors use the storefront API's format (customers/api/errors.py),
`field` naming the bad part (`body`, `translations.zh-hans.subject`)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api import message_serializers as io
from campaigns.models import MessageTemplate, WebhookEndpoint
from campaigns.selectors import customer_offers
from campaigns.services.messages import (
    InUse,
    Invalid,
    template_check,
    template_delete,
    template_preview,
    template_save,
    template_test_send,
    webhook_endpoint_delete,
    webhook_endpoint_save,
)
from customers.api.serializers import ErrorOutputSerializer
from customers.models import Customer
from customers.roles import Role, reads_and_writes
from segments.api.base import (
    IF_MATCH,
    Conflict,
    OperatorAPIView,
    OperatorPagination,
    changing_as_read,
    valid_data,
    with_etag,
)

TEMPLATE_TAGS = ["message templates"]
WEBHOOK_TAGS = ["webhook endpoints"]


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "Invalid input: `errors` names each bad field (`body`, "
             "`translations.zh-hans.subject`, `address`).",
        401: "Not signed in as staff and no valid operator token (or, for offers, no valid "
             "storefront key).",
        403: "Signed in, but not a staff user.",
        404: "No such template, endpoint or customer.",
        409: "Still in use by a campaign or by sent messages; the message says where.",
        412: "Changed since the If-Match version was read: nothing was written; read it "
             "again.",
    }
    return {code: OpenApiResponse(ErrorOutputSerializer, description=described[code])
            for code in codes}


def _invalid(exc: Invalid) -> exceptions.ValidationError:
    return exceptions.ValidationError([{"field": field, "message": message}
                                       for field, message in exc.problems])


def _get(model, pk: int, *, for_update: bool = False):
    rows = model.objects.select_for_update() if for_update else model.objects
    row = rows.filter(pk=pk).first()
    if row is None:
        raise exceptions.NotFound(_("No %(kind)s with id %(id)s.")
                                  % {"kind": model._meta.verbose_name, "id": pk})
    return row


def _customer(external_id: str | None, field: str = "customer_external_id") -> Customer | None:
    if not external_id:
        return None
    customer = Customer.objects.filter(external_id=external_id).first()
    if customer is None:
        raise exceptions.ValidationError([{"field": field, "message": _(
            "no customer with external id %(id)r") % {"id": external_id}}])
    return customer


def _preview(template: MessageTemplate, data: dict) -> Response:
    customer = _customer(data.get("customer_external_id"))
    rendered = template_preview(template, customer=customer, language=data.get("language"))
    return Response(io.TemplatePreviewOutputSerializer({
        "subject": rendered.subject, "body": rendered.body, "text": rendered.text,
        "language": rendered.language, "customer": customer.external_id if customer else None,
    }).data)


# --- message templates -----------------------------------------------------------------------

class MessageTemplateListView(OperatorAPIView):
    pagination_class = OperatorPagination

    @extend_schema(operation_id="message_templates_list", tags=TEMPLATE_TAGS,
                   summary="List message templates",
                   responses={200: io.MessageTemplateOutputSerializer(many=True),
                              **_errors(401, 403)})
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(MessageTemplate.objects.order_by("name"), request,
                                           view=self)
        return paginator.get_paginated_response(
            io.MessageTemplateOutputSerializer(page, many=True).data)

    @extend_schema(operation_id="message_templates_create", tags=TEMPLATE_TAGS,
                   summary="Create a message template",
                   description="Subject, body and every translation are compiled first; a "
                               "syntax error (or a webhook body that does not render to JSON "
                               "for a sample customer) is a 400 naming the field.",
                   request=io.MessageTemplateInputSerializer,
                   responses={201: io.MessageTemplateOutputSerializer,
                              **_errors(400, 401, 403)})
    def post(self, request):
        data = valid_data(io.MessageTemplateInputSerializer(data=request.data))
        try:
            template = template_save(MessageTemplate(), **data)
        except Invalid as exc:
            raise _invalid(exc) from exc
        return Response(io.MessageTemplateOutputSerializer(template).data,
                        status=status.HTTP_201_CREATED)


class MessageTemplateDetailView(OperatorAPIView):
    @extend_schema(operation_id="message_templates_retrieve", tags=TEMPLATE_TAGS,
                   summary="A message template",
                   responses={200: io.MessageTemplateOutputSerializer,
                              **_errors(401, 403, 404)})
    def get(self, request, pk: int):
        return with_etag(Response(
            io.MessageTemplateOutputSerializer(_get(MessageTemplate, pk)).data))

    @extend_schema(operation_id="message_templates_update", tags=TEMPLATE_TAGS,
                   summary="Replace a message template",
                   request=io.MessageTemplateInputSerializer, parameters=[IF_MATCH],
                   responses={200: io.MessageTemplateOutputSerializer,
                              **_errors(400, 401, 403, 404, 412)})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="message_templates_partial_update", tags=TEMPLATE_TAGS,
                   summary="Change some fields of a message template",
                   request=io.MessageTemplateInputSerializer, parameters=[IF_MATCH],
                   responses={200: io.MessageTemplateOutputSerializer,
                              **_errors(400, 401, 403, 404, 412)})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        with changing_as_read(
                request, lambda: _get(MessageTemplate, pk, for_update=True)) as template:
            data = valid_data(io.MessageTemplateInputSerializer(template, data=request.data,
                                                            partial=partial))
            try:
                template = template_save(template, **data)
            except Invalid as exc:
                raise _invalid(exc) from exc
        return with_etag(Response(io.MessageTemplateOutputSerializer(template).data))

    @extend_schema(operation_id="message_templates_destroy", tags=TEMPLATE_TAGS,
                   summary="Delete a message template",
                   description="Refused (409) while a campaign's graph refers to it or "
                               "messages were sent with it.",
                   responses={204: None, **_errors(401, 403, 404, 409)})
    def delete(self, request, pk: int):
        try:
            template_delete(_get(MessageTemplate, pk))
        except InUse as exc:
            raise Conflict(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageTemplatePreviewView(OperatorAPIView):
    roles = reads_and_writes(Role.VIEWER)  # its POST reads only

    @extend_schema(operation_id="message_templates_preview", tags=TEMPLATE_TAGS,
                   summary="Render a template for a customer",
                   description="As the customer would get it now: their fields and metrics, "
                               "their latest usable coupon (a sample one when they hold none), "
                               "their language unless `language` is given. Without "
                               "`customer_external_id`: a sample customer.",
                   request=io.PreviewForInputSerializer,
                   responses={200: io.TemplatePreviewOutputSerializer,
                              **_errors(400, 401, 403, 404)})
    def post(self, request, pk: int):
        template = _get(MessageTemplate, pk)
        return _preview(template, valid_data(io.PreviewForInputSerializer(data=request.data)))


class MessageTemplateDraftPreviewView(OperatorAPIView):
    roles = reads_and_writes(Role.VIEWER)  # its POST reads only

    @extend_schema(operation_id="message_templates_preview_draft", tags=TEMPLATE_TAGS,
                   summary="Render unsaved template fields (the editor's live preview)",
                   description="The same as a saved template's preview; a syntax error is a "
                               "400 naming the field.",
                   request=io.DraftPreviewInputSerializer,
                   responses={200: io.TemplatePreviewOutputSerializer, **_errors(400, 401, 403)})
    def post(self, request):
        data = valid_data(io.DraftPreviewInputSerializer(data=request.data))
        template = MessageTemplate(channel=data["channel"], subject=data["subject"],
                                   body=data["body"])
        try:
            template_check(template, translations=data["translations"])
        except Invalid as exc:
            raise _invalid(exc) from exc
        return _preview(template, data)


class MessageTemplateTestSendView(OperatorAPIView):
    @extend_schema(operation_id="message_templates_test_send", tags=TEMPLATE_TAGS,
                   summary="Send a template to an address now",
                   description="Rendered for `customer_external_id` (or a sample customer) and "
                               "sent through the channel's backend at once, outside consent, "
                               "caps and quiet hours; recorded as a delivery marked `test`. "
                               "Email and SMS go to `address`, webhook templates to the "
                               "endpoint `webhook`, inbox templates to the customer's inbox.",
                   request=io.TestSendInputSerializer,
                   responses={201: io.DeliveryOutputSerializer,
                              **_errors(400, 401, 403, 404)})
    def post(self, request, pk: int):
        template = _get(MessageTemplate, pk)
        data = valid_data(io.TestSendInputSerializer(data=request.data))
        customer = _customer(data.get("customer_external_id"))
        webhook = None
        if data.get("webhook"):
            webhook = WebhookEndpoint.objects.filter(pk=data["webhook"]).first()
            if webhook is None:
                raise exceptions.ValidationError([{"field": "webhook", "message": _(
                    "no webhook endpoint with id %(id)s") % {"id": data["webhook"]}}])
        try:
            delivery = template_test_send(template, address=data.get("address", ""),
                                          customer=customer, webhook=webhook)
        except Invalid as exc:
            raise _invalid(exc) from exc
        return Response(io.DeliveryOutputSerializer(delivery).data,
                        status=status.HTTP_201_CREATED)


# --- webhook endpoints -----------------------------------------------------------------------

class WebhookEndpointListView(OperatorAPIView):
    roles = reads_and_writes(Role.ADMIN)
    pagination_class = OperatorPagination

    @extend_schema(operation_id="webhook_endpoints_list", tags=WEBHOOK_TAGS,
                   summary="List webhook endpoints",
                   responses={200: io.WebhookEndpointOutputSerializer(many=True),
                              **_errors(401, 403)})
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(WebhookEndpoint.objects.order_by("name"), request,
                                           view=self)
        return paginator.get_paginated_response(
            io.WebhookEndpointOutputSerializer(page, many=True).data)

    @extend_schema(operation_id="webhook_endpoints_create", tags=WEBHOOK_TAGS,
                   summary="Create a webhook endpoint",
                   description="The answer shows the signing secret, this once.",
                   request=io.WebhookEndpointInputSerializer,
                   responses={201: io.WebhookEndpointCreatedOutputSerializer,
                              **_errors(400, 401, 403)})
    def post(self, request):
        data = valid_data(io.WebhookEndpointInputSerializer(data=request.data))
        endpoint = webhook_endpoint_save(WebhookEndpoint(), **data)
        return Response(io.WebhookEndpointCreatedOutputSerializer(endpoint).data,
                        status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(OperatorAPIView):
    roles = reads_and_writes(Role.ADMIN)

    @extend_schema(operation_id="webhook_endpoints_retrieve", tags=WEBHOOK_TAGS,
                   summary="A webhook endpoint (without its secret)",
                   responses={200: io.WebhookEndpointOutputSerializer,
                              **_errors(401, 403, 404)})
    def get(self, request, pk: int):
        return with_etag(Response(
            io.WebhookEndpointOutputSerializer(_get(WebhookEndpoint, pk)).data))

    @extend_schema(operation_id="webhook_endpoints_update", tags=WEBHOOK_TAGS,
                   summary="Replace a webhook endpoint",
                   description="Send `secret` to rotate it; it is never shown again.",
                   request=io.WebhookEndpointInputSerializer, parameters=[IF_MATCH],
                   responses={200: io.WebhookEndpointOutputSerializer,
                              **_errors(400, 401, 403, 404, 412)})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="webhook_endpoints_partial_update", tags=WEBHOOK_TAGS,
                   summary="Change some fields of a webhook endpoint",
                   request=io.WebhookEndpointInputSerializer, parameters=[IF_MATCH],
                   responses={200: io.WebhookEndpointOutputSerializer,
                              **_errors(400, 401, 403, 404, 412)})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        with changing_as_read(
                request, lambda: _get(WebhookEndpoint, pk, for_update=True)) as endpoint:
            data = valid_data(io.WebhookEndpointInputSerializer(endpoint, data=request.data,
                                                            partial=partial))
            endpoint = webhook_endpoint_save(endpoint, **data)
        return with_etag(Response(io.WebhookEndpointOutputSerializer(endpoint).data))

    @extend_schema(operation_id="webhook_endpoints_destroy", tags=WEBHOOK_TAGS,
                   summary="Delete a webhook endpoint",
                   description="Refused (409) while a campaign's graph refers to it or calls "
                               "were made to it.",
                   responses={204: None, **_errors(401, 403, 404, 409)})
    def delete(self, request, pk: int):
        try:
            webhook_endpoint_delete(_get(WebhookEndpoint, pk))
        except InUse as exc:
            raise Conflict(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- storefront ------------------------------------------------------------------------------

class CustomerOffersView(APIView):
    """Storefront API: default authentication (Bearer storefront key) and throttling."""

    @extend_schema(
        operation_id="customers_offers", tags=["customers"],
        summary="What the storefront can show a customer: coupons and inbox messages",
        description="The customer's usable coupons (active, started, not expired, not used "
                    "up; soonest to expire first; the discount in words in the customer's "
                    "language) and the inbox messages sent to them in the last 30 days "
                    "(newest first). Inbox bodies are text: escape them when showing them.",
        parameters=[OpenApiParameter("external_id", str, OpenApiParameter.PATH,
                                     description="The customer's external id.")],
        responses={200: io.OffersOutputSerializer, **_errors(401, 404)})
    def get(self, request, external_id: str):
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise exceptions.NotFound(_("No customer with external id %(id)r.")
                                      % {"id": external_id})
        return Response(io.OffersOutputSerializer(customer_offers(customer)).data)
