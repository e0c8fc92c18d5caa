"""Pages the campaigns app serves to customers: the one-click unsubscribe page."""

from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.channels import CHANNELS
from campaigns.services.rendering import ui_language
from campaigns.services.unsubscribe import InvalidToken, customer_unsubscribe, token_read

TEMPLATE = "campaigns/unsubscribe.html"
QUESTIONS = {"email": _("Stop emails to %(address)s?"),
             "sms": _("Stop text messages to %(address)s?")}
CONFIRMATIONS = {"email": _("You will no longer receive emails from us at %(address)s."),
                 "sms": _("You will no longer receive text messages from us at %(address)s.")}


def masked(address: str) -> str:
    """a***@example.com, +86 *** 5678: enough to recognise, not to harvest."""
    if "@" in address:
        local, _at, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:3]} *** {address[-4:]}" if len(address) > 7 else "***"


# csrf_exempt: mail clients POST the List-Unsubscribe-Post one-click form (RFC 8058) without
# a session; the signed token is what authorises the request.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        customer, channel = token_read(token)
    except InvalidToken:
        return render(request, TEMPLATE, {"invalid": True}, status=400)
    address = {"address": masked(getattr(customer, CHANNELS[channel].address))}
    with translation.override(ui_language(customer.language)):
        if request.method == "POST":
            customer_unsubscribe(customer, channel)
            context = {"done": True, "message": CONFIRMATIONS[channel] % address}
        else:
            context = {"message": QUESTIONS[channel] % address}
        return render(request, TEMPLATE, context)
