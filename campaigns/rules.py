"""Segment rule fields and operators that read campaigns' tables, registered into the segments
rule registry (segments cannot import campaigns). Imported by CampaignsConfig.ready, so every
process that loads the apps knows them.

    {"coupon_expiring_within": [{"var": "coupons"}, 3]}

holds for a customer who has a usable personal code (active, not used up, of an active
definition) that expires after now and at most D days from now, both ends as written: now <
expires_at <= now + D days. A code without an expiry never expires, so it never matches.
"""

import datetime
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import Coupon
from segments.rules import values
from segments.rules.context import Context
from segments.rules.registry import (
    OPERATORS,
    Field,
    FieldType,
    Group,
    Operator,
    register_field,
    register_operator,
)
from segments.rules.tree import Condition

DAY = datetime.timedelta(days=1)


def _expiring(context: Context, days: int):
    return Coupon.objects.filter(
        status=Coupon.Status.ACTIVE, definition__is_active=True, customer__isnull=False,
        expires_at__gt=context.now, expires_at__lte=context.now + days * DAY)


def _coupon_expiring_within(_field: Field, days: int, context: Context) -> Q:
    return Q(pk__in=context.scoped(_expiring(context, days)).values("customer_id"))


def _explain(node: Condition, customer, context: Context) -> dict[str, Any]:
    """The customer's usable codes expiring in the window, soonest first."""
    soonest = _expiring(context, node.value).filter(customer=customer) \
        .order_by("expires_at").values_list("expires_at", flat=True)
    return {"coupons": soonest.count(), "first_expires_at": soonest.first()}


def register() -> None:
    if "coupon_expiring_within" in OPERATORS:  # ready() may run twice in one process
        return
    register_operator(Operator(
        "coupon_expiring_within", _("holds a coupon expiring within D days"),
        _coupon_expiring_within, values.window_days,
        _("A customer without such a coupon does not match."), time_dependent=True,
        description=_("A personal code that is still usable (active, not used up, its "
                      "definition active) and expires after now and within the next D days.")))
    register_field(Field(
        "coupons", _("Coupons"), FieldType.BEHAVIOUR, Group.BEHAVIOUR,
        ("coupon_expiring_within",), explain=_explain,
        description=_("The personal coupon codes a customer holds (campaigns).")))
