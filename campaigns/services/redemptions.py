"""Coupon use: the storefront's validate and redeem calls, redemptions recorded from orders
that arrive carrying a code, and their release when such an order is cancelled.

Validate reads; redeem writes one CouponRedemption under its unique (coupon, order external
id), so the same request repeated finds it and answers the same. Redeem locks the coupon row
(SELECT ... FOR UPDATE) and, when a discount budget applies, the definition row, always in
that order, so a single-use code redeemed 1,000 times at once is used exactly once and a
shared code with a limit of N exactly N times. A refusal writes nothing.

Validate costs one indexed query (two for a shared code, three with other_codes); a
successful redeem about seven statements in one transaction.
"""

import dataclasses
import datetime
import logging
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Coupon, CouponDefinition, CouponRedemption
from campaigns.services.coupons import canonical_code
from customers.models import Customer, Order, OrderStatus
from customers.services.ingest import customer_ids_ensure
from customers.sql import fetch_all, fetch_one

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_CODE_LENGTH = 32  # Coupon.code

# Every reason a code is refused, in the order they are checked.
REASONS = {
    "not_found": _("No such coupon code."),
    "inactive": _("This coupon is no longer active."),
    "not_started": _("This coupon is not valid yet."),
    "expired": _("This coupon has expired."),
    "not_yours": _("This coupon belongs to another customer."),
    "already_used": _("This coupon was already used."),
    "budget_exhausted": _("This coupon's budget is used up."),
    "per_customer_limit": _("This customer has already used this coupon as often as allowed."),
    "currency_mismatch": _("This coupon is for orders in another currency."),
    "minimum_not_met": _("The order amount is below this coupon's minimum."),
    "not_stackable": _("This coupon cannot be combined with the other coupons of the order."),
}


@dataclasses.dataclass(frozen=True)
class Purchase:
    """What the storefront says about the order a code is applied to."""

    customer_external_id: str
    amount: Decimal
    currency: str = ""
    other_codes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Verdict:
    reason: str = ""  # empty: the code may be used
    discount: Decimal = ZERO
    coupon: Coupon | None = None
    redemption: CouponRedemption | None = None  # redeem: the stored redemption
    customer_external_id: str = ""  # redeem: the redemption's customer

    @property
    def valid(self) -> bool:
        return not self.reason

    @property
    def message(self) -> str:
        return str(REASONS.get(self.reason, ""))


def coupon_discount(definition: CouponDefinition, amount: Decimal) -> Decimal:
    """Percentage: amount x value / 100 rounded half up to cents, at most max_discount;
    fixed: the value. Never more than the order amount."""
    if definition.kind == CouponDefinition.Kind.PERCENTAGE:
        discount = (amount * definition.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        if definition.max_discount is not None:
            discount = min(discount, definition.max_discount)
    else:
        discount = definition.value
    return min(discount, amount).quantize(CENT)


def _columns(model: type[models.Model], alias: str) -> list[str]:
    return [f"{alias}.{field.column}" for field in model._meta.concrete_fields]


# The hot path's one query, written out: building it with the ORM (select_related over four
# tables) cost ~1 ms of CPU per request, four times the query itself (bench/coupons.py).
FIND_SQL = (
    f"SELECT {', '.join(_columns(Coupon, 'c') + _columns(CouponDefinition, 'd'))}, "
    "u.external_id, g.name, "
    # The customer using the code, when known: redeem needs its id (one round trip fewer).
    f"(SELECT id FROM {Customer._meta.db_table} WHERE external_id = %s) "
    f"FROM {Coupon._meta.db_table} c "
    f"JOIN {CouponDefinition._meta.db_table} d ON d.id = c.definition_id "
    f"LEFT JOIN {Customer._meta.db_table} u ON u.id = c.customer_id "
    f"LEFT JOIN {Campaign._meta.db_table} g ON g.id = c.campaign_id "
    "WHERE c.code = %s")
COUPON_WIDTH = len(Coupon._meta.concrete_fields)
USES_SQL = (f"SELECT count(*) FROM {CouponRedemption._meta.db_table} r "
            f"JOIN {Customer._meta.db_table} u ON u.id = r.customer_id "
            "WHERE r.coupon_id = %s AND u.external_id = %s")
# What an order used already: (redemption id, coupon id, stackable) each.
ORDER_USED_SQL = (f"SELECT r.id, r.coupon_id, d.stackable FROM {CouponRedemption._meta.db_table} r "
                  f"JOIN {Coupon._meta.db_table} c ON c.id = r.coupon_id "
                  f"JOIN {CouponDefinition._meta.db_table} d ON d.id = c.definition_id "
                  "WHERE r.order_external_id = %s")
# A redemption and its counts in one statement (PostgreSQL: DML in WITH).
RECORD_SQL = (
    f"WITH r AS (INSERT INTO {CouponRedemption._meta.db_table} (coupon_id, customer_id, "
    "order_external_id, order_amount, discount, redeemed_at) VALUES (%s, %s, %s, %s, %s, %s) "
    f"RETURNING id), c AS (UPDATE {Coupon._meta.db_table} SET redemptions = %s, status = %s "
    f"WHERE id = %s), d AS (UPDATE {CouponDefinition._meta.db_table} "
    "SET discount_total = discount_total + %s WHERE id = %s AND max_discount_total IS NOT NULL) "
    "SELECT id FROM r")


def _find(code: str, customer_external_id: str, *, lock: bool = False
          ) -> tuple[Coupon | None, int | None]:
    """The coupon with its definition, customer (external id only) and campaign (name only),
    and the id of the customer using it (None: unknown); `lock`: the coupon's row locked FOR
    UPDATE until the transaction ends."""
    canonical = canonical_code(code)
    if not canonical or len(canonical) > MAX_CODE_LENGTH:
        return None, None
    if connection.vendor != "postgresql":  # SQLite needs Django's type conversions
        coupons = Coupon.objects.select_related("definition", "customer", "campaign")
        coupon = (coupons.select_for_update(of=("self",)) if lock else coupons) \
            .filter(code=canonical).first()
        return coupon, Customer.objects.filter(external_id=customer_external_id) \
            .values_list("pk", flat=True).first()
    row = fetch_one("coupon_find_locked", FIND_SQL + " FOR UPDATE OF c",
                    [customer_external_id, canonical]) if lock \
        else fetch_one("coupon_find", FIND_SQL, [customer_external_id, canonical])
    if row is None:
        return None, None
    coupon = Coupon.from_db(connection.alias, None, row[:COUPON_WIDTH])
    coupon.definition = CouponDefinition.from_db(connection.alias, None, row[COUPON_WIDTH:-3])
    external_id, campaign_name, customer_id = row[-3:]
    coupon.customer = Customer(pk=coupon.customer_id, external_id=external_id) \
        if coupon.customer_id else None
    coupon.campaign = Campaign(pk=coupon.campaign_id, name=campaign_name) \
        if coupon.campaign_id else None
    return coupon, customer_id


def _is_used_up(coupon: Coupon) -> bool:
    return coupon.max_redemptions is not None and coupon.redemptions >= coupon.max_redemptions


def _state_refusal(coupon: Coupon, now: datetime.datetime) -> str:
    definition = coupon.definition
    if not definition.is_active or coupon.status == Coupon.Status.VOID:
        return "inactive"
    starts = [moment for moment in (coupon.starts_at, definition.valid_from) if moment]
    if starts and max(starts) > now:
        return "not_started"
    ends = [moment for moment in (coupon.expires_at, definition.valid_until) if moment]
    if ends and min(ends) <= now:
        return "expired"
    return ""


def _holder_refusal(coupon: Coupon, order: Purchase) -> str:
    if coupon.customer_id is not None:
        if coupon.customer.external_id != order.customer_external_id:
            return "not_yours"
        return "already_used" if _is_used_up(coupon) else ""
    if _is_used_up(coupon):
        return "budget_exhausted"
    (uses,) = fetch_one("coupon_uses", USES_SQL, [coupon.pk, order.customer_external_id])
    return "per_customer_limit" if uses >= coupon.definition.per_customer_limit else ""


def _amount_refusal(coupon: Coupon, order: Purchase, discount: Decimal) -> str:
    definition = coupon.definition
    if definition.currency and order.currency and definition.currency != order.currency:
        return "currency_mismatch"
    if order.amount < definition.min_order_amount:
        return "minimum_not_met"
    if definition.max_discount_total is not None \
            and definition.discount_total + discount > definition.max_discount_total:
        return "budget_exhausted"
    return ""


def _stacking_refusal(coupon: Coupon, others: Sequence[bool]) -> str:
    """`others`: whether each other coupon of the order may be combined."""
    if others and not (coupon.definition.stackable and all(others)):
        return "not_stackable"
    return ""


def _other_codes_stackable(coupon: Coupon, codes: Iterable[str]) -> list[bool]:
    """Whether each of our coupons among the order's other codes may be combined; codes we do
    not know are not ours to judge."""
    wanted = {canonical_code(code) for code in codes} - {coupon.code, ""}
    if not wanted:
        return []
    return list(Coupon.objects.filter(code__in=wanted)
                .values_list("definition__stackable", flat=True))


def _refusal(coupon: Coupon, order: Purchase, discount: Decimal, now: datetime.datetime,
             others: Sequence[bool]) -> str:
    return (_state_refusal(coupon, now) or _holder_refusal(coupon, order)
            or _amount_refusal(coupon, order, discount) or _stacking_refusal(coupon, others))


def coupon_validate(*, code: str, order: Purchase, now: datetime.datetime) -> Verdict:
    """Whether the code may be used on this order, and the discount it gives. Writes
    nothing; an unknown customer is a customer with no history."""
    coupon, _customer_id = _find(code, order.customer_external_id)
    if coupon is None:
        return Verdict(reason="not_found")
    discount = coupon_discount(coupon.definition, order.amount)
    others = _other_codes_stackable(coupon, order.other_codes)
    reason = _refusal(coupon, order, discount, now, others)
    return Verdict(reason=reason, discount=ZERO if reason else discount, coupon=coupon)


def coupon_redeem(*, code: str, order: Purchase, order_external_id: str,
                  now: datetime.datetime) -> Verdict:
    """Use the code on this order, once. The same (code, order) again returns the stored
    redemption; a refusal writes nothing."""
    with transaction.atomic():
        coupon, customer_id = _find(code, order.customer_external_id, lock=True)
        if coupon is None:
            return Verdict(reason="not_found")
        used = fetch_all("coupon_order_used", ORDER_USED_SQL, [order_external_id])
        done = [pk for pk, coupon_id, _stackable in used if coupon_id == coupon.pk]
        if done:
            redemption = CouponRedemption.objects.select_related("customer").get(pk=done[0])
            return Verdict(discount=redemption.discount, coupon=coupon, redemption=redemption,
                           customer_external_id=redemption.customer.external_id)
        others = [bool(stackable) for _pk, _coupon, stackable in used]
        others += _other_codes_stackable(coupon, order.other_codes)
        return _redeem_checked(coupon, order, order_external_id, now, others, customer_id)


def _redeem_checked(coupon: Coupon, order: Purchase, order_external_id: str,
                    now: datetime.datetime, others: Sequence[bool],
                    customer_id: int | None) -> Verdict:
    if coupon.definition.max_discount_total is not None:
        # Lock the definition too: the discount budget is shared by all of its codes.
        coupon.definition = CouponDefinition.objects.select_for_update().get(
            pk=coupon.definition_id)
    discount = coupon_discount(coupon.definition, order.amount)
    reason = _refusal(coupon, order, discount, now, others)
    if reason:
        return Verdict(reason=reason, coupon=coupon)
    if customer_id is None:  # a customer we meet for the first time
        external_id = order.customer_external_id
        customer_id = customer_ids_ensure([external_id])[external_id]
    redemption = _record(coupon, customer_id=customer_id, order_external_id=order_external_id,
                         amount=order.amount, discount=discount, now=now)
    return Verdict(discount=discount, coupon=coupon, redemption=redemption,
                   customer_external_id=order.customer_external_id)


def _budget_filter(definition_id: int):
    """The definition, when it has a discount budget: only then is its running total kept
    (CouponDefinition.discount_total). Without a budget every redeem of the definition would
    queue on that one row (bench/coupons.py: redeem p99 in seconds at 300/s)."""
    return CouponDefinition.objects.filter(pk=definition_id, max_discount_total__isnull=False)


def _record(coupon: Coupon, *, customer_id: int, order_external_id: str, amount: Decimal,
            discount: Decimal, now: datetime.datetime) -> CouponRedemption:
    """Write a redemption of the locked coupon and count it on the coupon and the
    definition."""
    redemption = CouponRedemption(
        coupon=coupon, customer_id=customer_id, order_external_id=order_external_id,
        order_amount=amount, discount=discount, redeemed_at=now)
    coupon.redemptions += 1
    if _is_used_up(coupon):
        coupon.status = Coupon.Status.REDEEMED
    if connection.vendor == "postgresql":
        (redemption.pk,) = fetch_one("coupon_record", RECORD_SQL, [
            coupon.pk, customer_id, order_external_id, amount, discount, now,
            coupon.redemptions, coupon.status, coupon.pk, discount, coupon.definition_id])
        redemption._state.adding = False
        return redemption
    redemption.save()
    Coupon.objects.filter(pk=coupon.pk).update(redemptions=coupon.redemptions,
                                               status=coupon.status)
    _budget_filter(coupon.definition_id).update(discount_total=F("discount_total") + discount)
    return redemption


# --- orders carrying a code -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Linked:
    linked: int = 0  # redemptions recorded from orders
    released: int = 0  # redemptions of cancelled orders released
    used_up: int = 0  # orders whose code was used up by another order


def coupons_link_orders(customer_ids: Iterable[int], *, now: datetime.datetime) -> Linked:
    """After these customers' orders arrived: record a redemption for each order that
    carries one of our codes and has none yet (so results attribute it to the campaign and
    node that issued the code), and release the redemptions of cancelled orders (the code
    becomes usable again; a refund keeps it used). Safe to run again."""
    orders = list(Order.objects.filter(customer_id__in=set(customer_ids))
                  .filter(~Q(coupon_code="") | Q(status=OrderStatus.CANCELLED))
                  .values_list("external_id", "customer_id", "amount", "status", "coupon_code"))
    if not orders:
        return Linked()
    cancelled = [row[0] for row in orders if row[3] == OrderStatus.CANCELLED]
    released = _release(cancelled)
    linked, used_up = _link([row for row in orders
                             if row[3] != OrderStatus.CANCELLED and row[4]], now)
    return Linked(linked=linked, released=released, used_up=used_up)


def _link(orders: list[tuple], now: datetime.datetime) -> tuple[int, int]:
    codes = {canonical_code(code) for *_rest, code in orders} - {""}
    coupons = dict(Coupon.objects.filter(code__in=codes).values_list("code", "pk"))
    wanted = [(coupons[canonical_code(code)], external_id, customer_id, amount)
              for external_id, customer_id, amount, _status, code in orders
              if canonical_code(code) in coupons]
    if not wanted:
        return 0, 0
    recorded = set(CouponRedemption.objects.filter(
        order_external_id__in={external_id for _c, external_id, *_rest in wanted})
        .values_list("coupon_id", "order_external_id"))
    linked = used_up = 0
    for coupon_id, external_id, customer_id, amount in wanted:
        if (coupon_id, external_id) in recorded:
            continue
        if _link_one(coupon_id, external_id, customer_id, amount, now):
            linked += 1
        else:
            used_up += 1
    return linked, used_up


def _link_one(coupon_id: int, order_external_id: str, customer_id: int, amount: Decimal,
              now: datetime.datetime) -> bool:
    with transaction.atomic():
        coupon = Coupon.objects.select_for_update(of=("self",)).select_related("definition") \
            .get(pk=coupon_id)
        if CouponRedemption.objects.filter(coupon=coupon,
                                           order_external_id=order_external_id).exists():
            return True  # a concurrent redeem of the same order recorded it
        if _is_used_up(coupon):
            logger.warning("coupon %s is used up; order %s carrying it is not linked",
                           coupon.code, order_external_id)
            return False
        _record(coupon, customer_id=customer_id, order_external_id=order_external_id,
                amount=amount, discount=coupon_discount(coupon.definition, amount), now=now)
    return True


def _release(order_external_ids: list[str]) -> int:
    """Give back the uses of these (cancelled) orders' redemptions."""
    if not order_external_ids:
        return 0
    released = 0
    for pk, coupon_id in CouponRedemption.objects.filter(
            order_external_id__in=order_external_ids).values_list("pk", "coupon_id"):
        with transaction.atomic():
            coupon = Coupon.objects.select_for_update().get(pk=coupon_id)
            redemption = CouponRedemption.objects.filter(pk=pk).first()
            if redemption is None:
                continue  # released by a concurrent run
            redemption.delete()
            coupon.redemptions = max(coupon.redemptions - 1, 0)
            if coupon.status == Coupon.Status.REDEEMED and not _is_used_up(coupon):
                coupon.status = Coupon.Status.ACTIVE
            coupon.save(update_fields=["redemptions", "status"])
            _budget_filter(coupon.definition_id).update(
                discount_total=F("discount_total") - redemption.discount)
            logger.info("released coupon %s of cancelled order %s", coupon.code,
                        redemption.order_external_id)
            released += 1
    return released
