"""Middleware of the whole project."""

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _

from config.errors import api_error, is_api

NUL = "\x00"


class RejectNulMiddleware:
    """A 400 for an address whose path or query string holds a NUL character (%00): no text
    column of PostgreSQL can hold one, so any lookup by it would fail with a server error.
    The API answers in its JSON error shape, the pages in plain text."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path or any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.GET.lists()
        ):
            return _bad_address(request)
        return self.get_response(request)


def _bad_address(request):
    message = _("The address must not contain a NUL character (%00).")
    if is_api(request):
        return api_error("parse_error", message, 400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
