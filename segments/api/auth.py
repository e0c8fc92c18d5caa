"""Operator API authentication: a staff member's browser session, or an operator token
(`Authorization: Token <token>`, `python manage.py create_operator_token USERNAME`).

Storefront keys (`Authorization: Bearer ...`) are not read here at all, so a storefront
calling the operator API is simply not authenticated: 401."""

import logging

from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication

from customers.roles import RolePermission

csrf_log = logging.getLogger("django.security.csrf")  # where Django logs its own refusals


class PageExpired(exceptions.PermissionDenied):
    default_code = "csrf_failed"
    default_detail = _("This page has expired (you may have logged in or out in another tab); "
                       "nothing was saved. Reload the page and try again.")


class BrowserSessionAuthentication(SessionAuthentication):
    """The session of the operator's browser. A refused CSRF token says what the islands show
    the operator (DRF's own reason, "CSRF Failed: CSRF cookie not set.", is in English and
    for developers); the reason goes to the server's log."""

    def enforce_csrf(self, request):
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as refused:
            csrf_log.warning("%s: %s", refused.detail, request.path)
            raise PageExpired() from refused


class BrowserSessionScheme(SessionScheme):
    """The OpenAPI schema's cookieAuth, as for DRF's own session authentication."""

    target_class = BrowserSessionAuthentication


# Token first: its WWW-Authenticate header is what turns "not authenticated" into a 401.
OPERATOR_AUTHENTICATION = [TokenAuthentication, BrowserSessionAuthentication]
# Each view's `roles` say which operator role a request needs (customers/roles.py): by default
# viewers read and marketers write.
OPERATOR_PERMISSIONS = [RolePermission]
