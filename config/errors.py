"""Error pages of the whole site: under /api/ in the API's JSON error shape
(customers.api.errors), elsewhere the HTML pages (templates/404.html, 500.html)."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "errors": []}, status=status)


def page_not_found(request, exception):
    if is_api(request):
        return api_error("not_found", _("There is no API endpoint at this address."), 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        return api_error("server_error",
                         _("Something went wrong on our side. The error was logged."), 500)
    return defaults.server_error(request)
