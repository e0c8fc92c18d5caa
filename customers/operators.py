"""The operator's own language, kept on their user (OperatorPreference) so it follows them to
every device: the language switch stores it, and OperatorLanguageMiddleware applies it on
every request of a signed-in operator (over the cookie and the browser's Accept-Language)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from customers.models import OperatorPreference


def _supported(code: str) -> str:
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return ""


def operator_language(user) -> str:
    """The operator's stored language ("" when none, or not one the UI offers)."""
    if user is None or not user.is_authenticated:
        return ""
    stored = OperatorPreference.objects.filter(user_id=user.pk) \
        .values_list("language", flat=True).first()
    return _supported(stored) if stored else ""


def operator_language_set(*, user, language: str) -> bool:
    """Store `language` for the operator; False (nothing stored) when the UI lacks it."""
    code = language if language in dict(settings.LANGUAGES) else ""
    if not code:
        return False
    OperatorPreference.objects.update_or_create(user_id=user.pk, defaults={"language": code})
    return True


class OperatorLanguageMiddleware:
    """After AuthenticationMiddleware: a signed-in operator's stored language wins (one
    primary-key read per request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = operator_language(getattr(request, "user", None))
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The topbar's language switch: Django's set_language (cookie, redirect to `next`),
    and for a signed-in operator the choice stored on their user."""
    if request.user.is_authenticated:
        operator_language_set(user=request.user, language=request.POST.get("language", ""))
    return set_language(request)
