"""Request body parsers of the API. Both read JSON with jiter (pydantic_core), bounded in
size and in nesting, and refuse text holding NUL, which no PostgreSQL text or jsonb value
can store: the storefront views hand the bytes on to pydantic (RawJSONParser), the operator
views take the parsed value (JSONParser)."""

from typing import Any

from rest_framework import exceptions, parsers, status

from customers.schemas import NulInJson, read_json

# Room for a 1,000-item batch with large line-item lists, while bounding what one request can
# make the server hold.
MAX_BODY_BYTES = 8 * 1024 * 1024
NUL_IN_BODY = "Text in the request body must not contain NUL (\\u0000)."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body exceeds {MAX_BODY_BYTES:,} bytes."
    default_code = "too_large"


def read_body(stream) -> bytes:
    body = stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    return body


def json_value(body: bytes) -> Any:
    """The JSON value of `body` (customers.schemas.read_json)."""
    try:
        return read_json(body)
    except NulInJson:
        raise exceptions.ParseError(NUL_IN_BODY) from None
    except ValueError as exc:
        raise exceptions.ParseError(f"The request body is not valid JSON: {exc}.") from exc


class RawJSONParser(parsers.BaseParser):
    """Accepts application/json and hands the bytes on: pydantic parses them (see
    customers.api.views._json_body), so the body is read once, bounded, and never through
    Python's recursive json module."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return read_body(stream)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, reading as RawJSONParser's bodies are read (json_value)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        return json_value(read_body(stream))
