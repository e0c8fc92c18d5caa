"""Operator roles, for every page and every operator API call of every app (they live here,
in the lowest app, so all of them can read them).

    viewer    reads everything
    marketer  + segments, message templates, campaigns as drafts, dry runs
    manager   + publishes and pauses campaigns, coupons and their budgets
    admin     + storefront keys, webhook endpoints and settings (caps, quiet hours,
              lifecycle thresholds), erasing a customer's personal data; superusers are
              admins

A role is membership of the Django group of that name (created by migration); a user in
several groups has the highest. `python manage.py create_operator USERNAME --role marketer`
makes one.
"""

import enum
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import permissions


class Role(enum.IntEnum):
    VIEWER = 1
    MARKETER = 2
    MANAGER = 3
    ADMIN = 4

    @property
    def group(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return str(LABELS[self])


# Templates compare with it ({% if role >= Role.MANAGER %}); an enum class is callable, and
# Django would call it (and fail silently) without this.
Role.do_not_call_in_templates = True

LABELS = {Role.VIEWER: gettext_lazy("Viewer"), Role.MARKETER: gettext_lazy("Marketer"),
          Role.MANAGER: gettext_lazy("Manager"), Role.ADMIN: gettext_lazy("Admin")}
_BY_GROUP = {role.group: role for role in Role}


def role_group(role: Role):
    """The role's group (made by migration; made here too if a test's flush removed it)."""
    from django.contrib.auth.models import Group

    return Group.objects.get_or_create(name=role.group)[0]


def role_of(user) -> Role | None:
    """The user's role (None: signed out, or in no role's group). Read once per request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, "_operator_role", False)
    if cached is not False:
        return cached
    if user.is_superuser:
        role = Role.ADMIN
    else:
        groups = user.groups.filter(name__in=_BY_GROUP).values_list("name", flat=True)
        role = max((_BY_GROUP[name] for name in groups), default=None)
    user._operator_role = role
    return role


def has_role(user, role: Role) -> bool:
    mine = role_of(user)
    return mine is not None and mine >= role


def reads_and_writes(write: Role, read: Role = Role.VIEWER) -> dict[str, Role]:
    """The roles an API view asks for: `read` for GET, `write` for everything else."""
    return {"GET": read, "HEAD": read, "OPTIONS": read, "*": write}


class RolePermission(permissions.BasePermission):
    """The operator API's permission: the view's `roles` (by method; "*" for the others)
    say which role a request needs. Default: viewers read, marketers write."""

    default = reads_and_writes(Role.MARKETER)

    def has_permission(self, request, view) -> bool:
        roles = getattr(view, "roles", self.default)
        needed = roles.get(request.method, roles.get("*", Role.MARKETER))
        mine = role_of(request.user)
        if mine is None:
            return False
        if mine < needed:
            self.message = _("This needs the %(needed)s role; yours is %(mine)s.") % {
                "needed": needed.label, "mine": mine.label}
            return False
        return True


def role_required(role: Role) -> Callable:
    """For a page view: signed in (else the login page), with at least `role` (else 403)."""
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(_("This page needs the %(role)s role.")
                                       % {"role": role.label})
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
