"""Storefront API: customers, orders and behaviour events, one APIView per operation.

The JSON body is parsed and validated by the pydantic models in customers.schemas (compiled
code: a 1,000-order batch validates in ~7 ms), the view calls one service in
customers.services.ingest, and a DRF serializer shapes the answer. Naive datetimes are read in
the storefront's time zone.
"""

import zoneinfo
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.http import JsonResponse
from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent, build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import GenerateJsonSchema, model_json_schema
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import tasks
from customers.api.auth import request_storefront
from customers.api.parsers import MAX_BODY_BYTES, RawJSONParser, json_value
from customers.api.profile import CustomerProfileOutputSerializer, with_sections
from customers.api.serializers import (
    CustomerOutputSerializer,
    ErrorOutputSerializer,
    EventResultOutputSerializer,
    OrderOutputSerializer,
    UpsertResultOutputSerializer,
)
from customers.models import Customer, Order, Storefront
from customers.schemas import (
    MAX_BATCH,
    CustomerBatchIn,
    CustomerIn,
    EventBatchIn,
    EventIn,
    ExternalId,
    OrderBatchIn,
    OrderIn,
    error_list,
)
from customers.services.erasure import customer_erase
from customers.services.ingest import (
    RefundOverAmount,
    customer_upsert,
    customers_upsert,
    events_record,
    orders_upsert,
    refund_over_amount_message,
)
from customers.services.personal_data import customer_personal_data
from customers.signals import activity_recorded

M = TypeVar("M", bound=BaseModel)
ALL_OR_NOTHING = (
    f"Up to {MAX_BATCH:,} items. All-or-nothing: every item is validated before anything is "
    "written, and one bad item rejects the whole batch with a 400 naming each bad item's "
    "index and field (`items[3].amount`); nothing is written. A valid batch is written in one "
    "transaction."
)


# --- parsing --------------------------------------------------------------------------------

def _json_body(request) -> dict[str, Any]:
    body = request.data
    if not isinstance(body, bytes) or not body.strip():
        raise exceptions.ParseError("The request body is empty; send a JSON object.")
    data = json_value(body)
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else "a single value"
        raise exceptions.ParseError(f"The request body must be a JSON object, not {kind}.")
    return data


def _zone(storefront: Storefront) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(storefront.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def validated(model: type[M], data: dict[str, Any], storefront: Storefront) -> M:
    """Validate with pydantic; naive datetimes are read in the storefront's time zone."""
    try:
        return model.model_validate(data, context={"tz": _zone(storefront)})
    except PydanticValidationError as exc:
        raise exceptions.ValidationError(error_list(exc)) from exc


def _refresh_metrics_on_commit(customer_ids: list[int]) -> None:
    """One task per request. robust: a broker outage must not fail a write already committed;
    the nightly recompute catches up."""
    if customer_ids:
        transaction.on_commit(
            lambda: tasks.metrics_refresh_customers_task.delay(customer_ids), robust=True
        )


def _announce_activity_on_commit(customer_ids: list[int]) -> None:
    """Tell the apps above (campaigns) that these customers ordered or did something."""
    if customer_ids:
        transaction.on_commit(
            lambda: activity_recorded.send(sender=StorefrontAPIView, customer_ids=customer_ids),
            robust=True)


# --- OpenAPI --------------------------------------------------------------------------------

class StorefrontKeyScheme(OpenApiAuthenticationExtension):
    target_class = "customers.api.auth.StorefrontKeyAuthentication"
    name = "storefrontKey"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer")  # noqa: S106


class _OpenApi30JsonSchema(GenerateJsonSchema):
    """OpenAPI 3.0 has no "null" type: an optional field is `nullable` instead."""

    def nullable_schema(self, schema):
        inner = self.generate_inner(schema["schema"])
        return {"allOf": [inner], "nullable": True} if "$ref" in inner else {
            **inner, "nullable": True}


class PydanticInputExtension(PydanticExtension):
    """drf-spectacular's pydantic extension documents models as pydantic serialises them
    (money as a string only); request bodies are documented as pydantic validates them."""

    priority = 1

    def map_serializer(self, auto_schema, direction):
        if direction != "request":
            return super().map_serializer(auto_schema, direction)
        schema = model_json_schema(self.target, ref_template="#/components/schemas/{model}",
                                   mode="validation", schema_generator=_OpenApi30JsonSchema)
        for name, sub_schema in schema.pop("$defs", {}).items():
            auto_schema.registry.register_on_missing(ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=sub_schema))
        return schema


class CustomerPutIn(CustomerIn):
    """A customer profile. Fields left out keep their stored value."""

    external_id: ExternalId | None = Field(
        default=None, description="May be left out; when sent it must equal the id in the URL.")


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "Invalid input: `errors` names each bad field (and item index in a batch).",
        401: "Missing, wrong or revoked API key.",
        404: "No such customer.",
        413: f"Body larger than {MAX_BODY_BYTES:,} bytes.",
        415: "Body is not application/json.",
        429: "Too many requests for this key; see the Retry-After header.",
    }
    return {code: OpenApiResponse(ErrorOutputSerializer, description=described[code])
            for code in codes}


WRITE_ERRORS = _errors(400, 401, 413, 415, 429)


def _no_customer(external_id: str) -> exceptions.NotFound:
    return exceptions.NotFound(f"No customer with external id {external_id!r}.")


# --- views ----------------------------------------------------------------------------------

class StorefrontAPIView(APIView):
    parser_classes = [RawJSONParser]
    renderer_classes = [JSONRenderer]

    def payload(self, model: type[M], **implied: Any) -> M:
        data = _json_body(self.request)
        for name, value in implied.items():
            data.setdefault(name, value)
        return validated(model, data, request_storefront(self.request))


class CustomerDetailView(StorefrontAPIView):
    @extend_schema(
        operation_id="customer_retrieve", tags=["customers"],
        summary="A customer's profile, value metrics and segments",
        description="`metrics` is null until the metrics have been computed for the customer. "
                    "`segments` lists the active segments the customer is in (as of each "
                    "segment's last evaluation).",
        responses={200: CustomerProfileOutputSerializer, **_errors(401, 404, 429)},
    )
    def get(self, request, external_id: str):
        customers = with_sections(
            Customer.objects.select_related("metrics", "prediction", "activity"))
        customer = customers.filter(external_id=external_id).first()
        if customer is None:
            raise _no_customer(external_id)
        return Response(CustomerProfileOutputSerializer(customer).data)

    @extend_schema(
        operation_id="customer_upsert", tags=["customers"],
        summary="Create or update one customer",
        description="Fields left out keep their stored value. A consent (email, SMS) that "
                    "differs from the stored one records its *_consent_at (the time sent, "
                    "else now). 201 when the customer is new.",
        request=CustomerPutIn,
        responses={200: CustomerOutputSerializer, 201: CustomerOutputSerializer,
                   **WRITE_ERRORS},
    )
    def put(self, request, external_id: str):
        data = self.payload(CustomerIn, external_id=external_id)
        if data.external_id != external_id.strip():
            raise exceptions.ValidationError([
                {"field": "external_id", "message": "must equal the external id in the URL"}])
        customer, created = customer_upsert(storefront=request_storefront(request), data=data)
        return Response(CustomerOutputSerializer(customer).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="customer_erase", tags=["customers"],
        summary="Erase a customer's personal data",
        description="For a customer's request to be forgotten (the right to erasure). Their "
                    "name, contact details, birthday, city, attributes, tags and behaviour "
                    "events are deleted and their consents withdrawn, at once and for good; "
                    "their orders stay, anonymous, so revenue figures do not change. They "
                    "leave every segment, their journeys stop and queued messages are not "
                    "sent. The external id no longer finds them: a later order or profile "
                    "with it starts a new customer. 204 when erased, 404 when there is no "
                    "such customer (an erased one included).",
        request=None, responses={204: None, **_errors(401, 404, 429)},
    )
    def delete(self, request, external_id: str):
        customer_id = Customer.objects.filter(external_id=external_id).values_list(
            "pk", flat=True).first()
        requested_by = f"storefront {request_storefront(request).name}"
        if customer_id is None or customer_erase(customer_id=customer_id,
                                                 requested_by=requested_by) is None:
            raise _no_customer(external_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerPersonalDataView(StorefrontAPIView):
    @extend_schema(
        operation_id="customer_personal_data", tags=["customers"],
        summary="Everything held about a customer",
        description="For a customer's request for their data (the right of access and to "
                    "portability): the profile with its consents, value metrics and "
                    "predictions, lifecycle changes, orders, events, segment entries and "
                    "exits, journeys, messages (address and text as sent), coupons, "
                    "redemptions and suppressed addresses, each list oldest first. The "
                    "document's `format` is 1; new keys may be added. Amounts are decimal strings, "
                    "times ISO 8601 in UTC.",
        responses={200: OpenApiResponse(description="The document (JSON object)."),
                   **_errors(401, 404, 429)},
    )
    def get(self, request, external_id: str):
        customer = Customer.objects.select_related("activity").filter(
            external_id=external_id).first()
        if customer is None:
            raise _no_customer(external_id)
        # Django's encoder, as the operator's download: amounts as exact decimal strings.
        return JsonResponse(customer_personal_data(customer))


class BatchView(StorefrontAPIView):
    """POST /<things>/batch/: validate the whole batch, write it in one transaction, enqueue
    one metrics refresh for the customers it touched."""

    model: type[BaseModel]
    service: Callable[..., Any]
    result_serializer: type

    announces = ""  # the result's customers to announce as activity

    def post(self, request):
        batch = self.payload(self.model)
        items = list(batch.items)
        try:
            result = self.service(storefront=request_storefront(request), items=items)
        except RefundOverAmount as exc:
            last = {item.external_id: index for index, item in enumerate(items)}
            raise _refund_refused(exc, lambda key: f"items[{last[key]}].refunded_amount") from exc
        _refresh_metrics_on_commit(result["customer_ids"])
        if self.announces:
            _announce_activity_on_commit(result[self.announces])
        return Response(self.result_serializer(result).data)


def _refund_refused(exc: RefundOverAmount,
                    field_of: Callable[[str], str]) -> exceptions.ValidationError:
    """A 400 naming each order whose refund would exceed its amount (nothing was written)."""
    if not exc.orders:
        return exceptions.ValidationError([{"field": "", "message": str(exc)}])
    return exceptions.ValidationError([
        {"field": field_of(key), "message": refund_over_amount_message(*values)}
        for key, values in exc.orders.items()])


def _batch_schema(model: type[BaseModel], result_serializer: type, *, operation_id: str,
                  tag: str, summary: str, description: str):
    return extend_schema_view(post=extend_schema(
        operation_id=operation_id, tags=[tag], summary=summary, request=model,
        description=f"{description}\n\n{ALL_OR_NOTHING}",
        responses={200: result_serializer, **WRITE_ERRORS},
    ))


@_batch_schema(CustomerBatchIn, UpsertResultOutputSerializer,
               operation_id="customers_batch_upsert", tag="customers",
               summary="Create or update up to 1,000 customers",
               description="Each item as in PUT /customers/{external_id}/; fields left out "
                           "keep their stored value. A repeated external_id is applied in order.")
class CustomerBatchView(BatchView):
    model = CustomerBatchIn
    service = staticmethod(customers_upsert)
    result_serializer = UpsertResultOutputSerializer


@_batch_schema(OrderBatchIn, UpsertResultOutputSerializer,
               operation_id="orders_batch_upsert", tag="orders",
               summary="Create or update up to 1,000 orders",
               description="Idempotent by order external_id; a repeated external_id is applied "
                           "in order (the last one wins). Unknown customers are created.")
class OrderBatchView(BatchView):
    model = OrderBatchIn
    service = staticmethod(orders_upsert)
    result_serializer = UpsertResultOutputSerializer
    announces = "customer_ids"


@_batch_schema(EventBatchIn, EventResultOutputSerializer,
               operation_id="events_batch_record", tag="events",
               summary="Record up to 1,000 behaviour events",
               description="Events with an event_id this storefront already sent are counted "
                           "as duplicates and change nothing. Unknown customers are created.")
class EventBatchView(BatchView):
    model = EventBatchIn
    service = staticmethod(events_record)
    result_serializer = EventResultOutputSerializer
    announces = "recorded_customer_ids"


class OrderView(StorefrontAPIView):
    @extend_schema(
        operation_id="order_upsert", tags=["orders"], summary="Create or update one order",
        description="Idempotent by external_id: sending the same order again changes nothing, "
                    "a changed status or amount updates it (a refund is a status update). "
                    "Fields left out keep their stored value. currency defaults to the "
                    "storefront's. An unknown customer is created. 201 when the order is new.",
        request=OrderIn,
        responses={200: OrderOutputSerializer, 201: OrderOutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request):
        data = self.payload(OrderIn)
        try:
            result = orders_upsert(storefront=request_storefront(request), items=[data])
        except RefundOverAmount as exc:
            raise _refund_refused(exc, lambda _key: "refunded_amount") from exc
        _refresh_metrics_on_commit(result["customer_ids"])
        _announce_activity_on_commit(result["customer_ids"])
        order = Order.objects.select_related("customer", "storefront").get(
            external_id=data.external_id)
        created = status.HTTP_201_CREATED if result["created"] else status.HTTP_200_OK
        return Response(OrderOutputSerializer(order).data, status=created)


class EventView(StorefrontAPIView):
    @extend_schema(
        operation_id="event_record", tags=["events"], summary="Record one behaviour event",
        description="With an event_id, sending the event again changes nothing (200, counted "
                    "as a duplicate). occurred_at defaults to now. An unknown customer is "
                    "created. 201 when the event is recorded.",
        request=EventIn,
        responses={200: EventResultOutputSerializer, 201: EventResultOutputSerializer,
                   **WRITE_ERRORS},
    )
    def post(self, request):
        data = self.payload(EventIn)
        result = events_record(storefront=request_storefront(request), items=[data])
        _refresh_metrics_on_commit(result["customer_ids"])
        _announce_activity_on_commit(result["recorded_customer_ids"])
        created = status.HTTP_201_CREATED if result["recorded"] else status.HTTP_200_OK
        return Response(EventResultOutputSerializer(result).data, status=created)
