"""What every operator API view shares (segments, campaigns, coupons, messages): staff
session or operator token, JSON only, page-number pagination, a 409 for requests the current
state refuses, and the documented error responses."""

import contextlib
from collections.abc import Callable

from django.db import models, transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView

from customers.api.parsers import JSONParser
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


@contextlib.contextmanager
def changing_as_read(request, read_locked: Callable[[], models.Model]):
    """The transaction of a write of one object: `read_locked()` reads its row locked until
    the end, then a 412 (nothing written) when the request's If-Match names no read of that
    version; two operators on one object would otherwise undo each other's work without a
    word. Yields the row."""
    with transaction.atomic():
        row = read_locked()
        header = request.headers.get("If-Match")
        if header is not None and header.strip() != "*" and not any(
                is_version(tag, row.updated_at) for tag in header.split(",")):
            raise PreconditionFailed(_(
                "The %(kind)s was changed since you read it (by someone else, or in another "
                "tab); nothing was saved. Read it again and redo your change.")
                % {"kind": row._meta.verbose_name})
        yield row


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
