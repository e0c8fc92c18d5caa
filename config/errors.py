"""Error pages of the whole site: under /api/ in the API's JSON error shape
(customers.api.errors), elsewhere the HTML pages (templates/404.html, 500.html)."""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

API_PREFIX = "/api/"
API_NOT_FOUND = "api-not-found"


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "errors": []}, status=status)


def page_not_found(request, exception):
    if is_api(request):
        return api_error("not_found", _("There is no API endpoint at this address."), 404)
    return defaults.page_not_found(request, exception)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Every address under /api/ that no endpoint serves (the last URL pattern), whatever the
    method and in DEBUG too, where Django would answer with its HTML debug page. Matching
    them also takes over CommonMiddleware's "append the slash", which for a POST without its
    trailing slash was a RuntimeError (a 500) in DEBUG and otherwise a redirect that loses
    the body: a read is still redirected, a write gets a JSON 404 naming the address meant."""
    if not _slash_missing(request):
        return api_error("not_found", _("There is no API endpoint at this address."), 404)
    if request.method in ("GET", "HEAD"):
        return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return api_error("not_found", _("There is no API endpoint at this address; did you mean "
                                    "%(path)s, with the trailing slash?")
                     % {"path": f"{request.path}/"}, 404)


def _slash_missing(request) -> bool:
    """Whether the address with a slash appended is an endpoint's."""
    if request.path_info.endswith("/"):
        return False
    try:
        return resolve(f"{request.path_info}/").url_name != API_NOT_FOUND
    except Resolver404:
        return False


def server_error(request):
    if is_api(request):
        return api_error("server_error",
                         _("Something went wrong on our side. The error was logged."), 500)
    return defaults.server_error(request)
