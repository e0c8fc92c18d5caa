"""Every API error is JSON: {"code": ..., "message": ..., "errors": [{"field", "message"}]}.

Field paths name the batch item: `items[3].amount`."""

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _is_error_list(detail: Any) -> bool:
    """Already in the API's shape, e.g. customers.schemas.error_list() of a pydantic error."""
    return isinstance(detail, list) and bool(detail) and all(
        isinstance(item, dict) and set(item) == {"field", "message"} for item in detail
    )


def _flatten(detail: Any, path: str = "") -> list[dict[str, str]]:
    if _is_error_list(detail) and not path:
        return [{"field": str(item["field"]), "message": str(item["message"])} for item in detail]
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            child = f"{path}.{name}" if path and name else (path or name)
            out.extend(_flatten(value, child))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [{"field": path, "message": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            if item:
                out.extend(_flatten(item, f"{path}[{index}]"))
        return out
    return [{"field": path, "message": str(detail)}]


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        fields = ", ".join(e["field"] or "(request)" for e in errors[:5])
        more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
        body = {"code": "invalid", "message": f"Invalid input: {fields}{more}.", "errors": errors}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body = {"code": code, "message": str(detail), "errors": []}
    return Response(body, status=response.status_code, headers=_headers(response))


def _headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After")}
