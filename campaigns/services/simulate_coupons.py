"""Coupons in the dry run: which customers an issue-coupon node would give a code, which it
would refuse and why (the rules of campaigns.services.coupons.coupons_issue), and the discount
budget the codes stand for.

The budget is an estimate: every code used once, on an order of the customer's AOV
(CustomerMetrics.aov; the shop's average order value for customers without one). A fixed
coupon takes its value; a percentage one its share of that order, capped by max_discount.
When the definition has a total discount budget, the estimate stops at what is left of it.
"""

import collections
import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from campaigns.models import Coupon, CouponDefinition
from campaigns.services import reportsql as q
from campaigns.services.coupons import codes_issued
from customers.models import CustomerMetrics

METRICS = CustomerMetrics._meta.db_table
CENT = Decimal("0.01")


@dataclasses.dataclass
class CouponLedger:
    """What the dry run already counted, per definition: codes use up the budget and the
    per-customer limit as issued ones would, discounts the total budget."""

    issued: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    held: dict[int, collections.Counter] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(collections.Counter))
    discount: dict[int, Decimal] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(Decimal))
    shop_aov: Decimal | None = None
    shop_aov_read: bool = False


@dataclasses.dataclass
class CouponSimulation:
    issued: set[int]
    refused: dict[str, set[int]]  # reason -> customers: shared_code, inactive, expired, ...
    budget: Decimal
    estimate: str = ""


def coupons_simulate(definition_id: int, customer_ids: set[int], *, now: datetime.datetime,
                     ledger: CouponLedger) -> CouponSimulation:
    """Who of these customers would get a code of the definition, in customer id order
    (the real order is the order they arrive in), and the budget of those codes."""
    definition = CouponDefinition.objects.get(pk=definition_id)  # graph_check: it exists
    closed = _closed(definition, now)
    if closed:
        return CouponSimulation(set(), {closed: set(customer_ids)}, Decimal("0.00"))
    limited = _limited(definition, customer_ids, ledger)
    candidates = sorted(customer_ids - limited)
    left = None if definition.max_codes is None else max(
        definition.max_codes - codes_issued(definition) - ledger.issued[definition.pk], 0)
    issued = set(candidates if left is None else candidates[:left])
    refused = {"limit": limited, "budget": set(candidates) - issued}
    ledger.issued[definition.pk] += len(issued)
    ledger.held[definition.pk].update(issued)
    budget, estimate = _budget(definition, issued, ledger)
    return CouponSimulation(issued, {k: v for k, v in refused.items() if v}, budget, estimate)


def _closed(definition: CouponDefinition, now: datetime.datetime) -> str:
    """Why the definition issues no personal code at all now ('' when it does)."""
    if definition.shared_code:
        return "shared_code"
    if not definition.is_active:
        return "inactive"
    if definition.valid_until and definition.valid_until <= now:
        return "expired"
    return ""


def _limited(definition: CouponDefinition, customer_ids: set[int],
             ledger: CouponLedger) -> set[int]:
    """Customers holding as many codes of the definition as allowed (stored ones and those
    the dry run already gave them)."""
    if definition.per_customer_limit <= 0:
        return set(customer_ids)
    held = collections.Counter(dict(
        Coupon.objects.filter(q.ids_filter(Coupon, "customer_id", customer_ids),
                              definition=definition)
        .values("customer_id").annotate(codes=Count("id")).values_list("customer_id", "codes")))
    held.update({pk: n for pk, n in ledger.held[definition.pk].items() if pk in customer_ids})
    return {pk for pk, codes in held.items() if codes >= definition.per_customer_limit}


def _budget(definition: CouponDefinition, issued: set[int], ledger: CouponLedger
            ) -> tuple[Decimal, str]:
    if not issued:
        return Decimal("0.00"), ""
    if definition.kind == CouponDefinition.Kind.FIXED:
        budget = definition.value * len(issued)
        estimate = _("Budget: every code used once, %(value)s off each.") % {
            "value": definition.value}
    else:
        budget, shop_aov = _percentage_budget(definition, issued, ledger)
        estimate = _("Budget: every code used once on an order of the customer's average "
                     "order value (the shop's, %(aov)s, for customers without one), capped "
                     "by the maximum discount per order.") % {"aov": shop_aov}
    if definition.max_discount_total is not None:
        left = max(definition.max_discount_total - definition.discount_total
                   - ledger.discount[definition.pk], Decimal(0))
        if budget > left:
            budget = left
            estimate += " " + _("Limited to what is left of the total discount budget.")
    ledger.discount[definition.pk] += budget
    return budget.quantize(CENT), estimate


def _percentage_budget(definition: CouponDefinition, issued: set[int], ledger: CouponLedger
                       ) -> tuple[Decimal, Decimal]:
    """The codes' discounts in one query over the customers' AOVs; customers without an
    AOV take the shop's."""
    basis_points = int(definition.value * 100)
    cap = None if definition.max_discount is None else int(definition.max_discount * 100)
    per_code = f"CAST(round(m.aov * {basis_points} / 100) AS BIGINT)"
    capped = per_code if cap is None else \
        f"CASE WHEN {per_code} > {cap} THEN {cap} ELSE {per_code} END"
    [(with_aov, cents)] = q.rows(
        f"SELECT COUNT(*), COALESCE(SUM({capped}), 0) FROM {METRICS} m "
        f"WHERE {q.in_ids('m.customer_id', 'ids')} AND m.aov IS NOT NULL",
        {"ids": q.ids_param(issued)})
    shop_aov = _shop_aov(ledger)
    fallback = (shop_aov * definition.value).quantize(Decimal(1), ROUND_HALF_UP)
    if cap is not None:
        fallback = min(fallback, Decimal(cap))
    total = Decimal(int(cents)) + fallback * (len(issued) - with_aov)
    return (total / 100).quantize(CENT), shop_aov


def _shop_aov(ledger: CouponLedger) -> Decimal:
    """Revenue per paid order over the whole shop (net of refunds), to the cent."""
    if not ledger.shop_aov_read:
        totals = CustomerMetrics.objects.aggregate(revenue=Sum("ltv"), orders=Sum("order_count"))
        ledger.shop_aov = (Decimal(totals["revenue"]) / totals["orders"]).quantize(CENT) \
            if totals["orders"] else Decimal("0.00")
        ledger.shop_aov_read = True
    return ledger.shop_aov
