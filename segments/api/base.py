"""What every operator API view shares (segments, campaigns, coupons, messages): staff
session or operator token, JSON only, page-number pagination, a 409 for requests the current
state refuses, and the documented error responses."""

import datetime

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from customers.api.serializers import ErrorOutputSerializer
from customers.versions import is_version
from segments.api.auth import OPERATOR_AUTHENTICATION, OPERATOR_PERMISSIONS

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `errors` names each bad part (`rule.and[1].==`, "
         "`graph.nodes[wait-1].config.days`).",
    401: "Not signed in as staff and no valid operator token (storefront keys do not work "
         "here).",
    403: "Signed in, but without the operator role this needs (viewers read; marketers "
         "write segments, templates and drafts; managers publish and run coupons; admins "
         "change settings).",
    404: "No such object (the message says which).",
    409: "Refused in the current state; the message says why.",
    412: "Changed since the If-Match version was read: nothing was written; read it again.",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "changed_elsewhere"


# Editors (the canvas, the segment builder) send the version they read: an object's ETag is its
# updated_at as the API writes it, quoted; a write whose If-Match names an older one is refused.
IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False,
    description="The `updated_at` last read, quoted (the ETag of GET): the change is refused "
                "(412) if the object was changed since. Without it the last write wins.")


def with_etag(response):
    """The response of a read or write of one object, with the object's ETag."""
    response["ETag"] = f'"{response.data["updated_at"]}"'
    return response


def refuse_if_changed_since_read(request, updated_at: datetime.datetime, message: str) -> None:
    """412 with `message` when the request's If-Match names no read of this version (two
    operators on one object would otherwise undo each other's work without a word). Call it
    with the object's row locked."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return
    if not any(is_version(tag, updated_at) for tag in header.split(",")):
        raise PreconditionFailed(message)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorOutputSerializer, description=ERROR_DESCRIPTIONS[code])
            for code in codes}


def valid_data(serializer: serializers.Serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class OperatorPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


class OperatorAPIView(APIView):
    authentication_classes = OPERATOR_AUTHENTICATION
    permission_classes = OPERATOR_PERMISSIONS
    parser_classes = [JSONParser]
