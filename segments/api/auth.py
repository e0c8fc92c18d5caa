"""Operator API authentication: a staff member's browser session, or an operator token
(`Authorization: Token <token>`, `python manage.py create_operator_token USERNAME`).

Storefront keys (`Authorization: Bearer ...`) are not read here at all, so a storefront
calling the operator API is simply not authenticated: 401."""

from rest_framework.authentication import SessionAuthentication, TokenAuthentication

from customers.roles import RolePermission

# Token first: its WWW-Authenticate header is what turns "not authenticated" into a 401.
OPERATOR_AUTHENTICATION = [TokenAuthentication, SessionAuthentication]
# Each view's `roles` say which operator role a request needs (customers/roles.py): by default
# viewers read and marketers write.
OPERATOR_PERMISSIONS = [RolePermission]
