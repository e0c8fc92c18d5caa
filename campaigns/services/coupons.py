"""Coupons: unique codes issued by journeys (a batch at once) within the definition's budget.

Codes are random, not sequential: 10 characters from an alphabet without look-alikes
(0/O, 1/I/L), 31^10 ~ 8 x 10^14 codes, behind an optional prefix. Stored canonical (upper
case, no separators); shown grouped (WELCOME-7KQ4D-MX2PB).
"""

import dataclasses
import datetime
import re
import secrets
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, DecimalField, F, OuterRef, Subquery, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.flows import Walker
from campaigns.models import Coupon, CouponDefinition, CouponRedemption
from campaigns.services.bulk import filter_one_of, rows_insert

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
SEPARATORS = str.maketrans("", "", " -_")


@dataclasses.dataclass(frozen=True)
class Issued:
    code: str = ""  # empty: not issued
    reason: str = ""  # why not: budget, limit, inactive, expired, shared_code
    coupon_id: int | None = None


def canonical_code(text: str) -> str:
    """What a customer typed, as stored: separators dropped, upper case."""
    return text.translate(SEPARATORS).upper()


def display_code(code: str, prefix: str = "") -> str:
    """WELCOME7KQ4DMX2PB -> WELCOME-7KQ4D-MX2PB."""
    body = code[len(prefix):] if prefix and code.startswith(prefix) else code
    groups = [body[i:i + 5] for i in range(0, len(body), 5)]
    return "-".join([prefix, *groups] if prefix and code.startswith(prefix) else groups)


_CODES = len(ALPHABET) ** CODE_LENGTH  # < 2**50


def new_code(prefix: str = "") -> str:
    """A random code: 50 random bits drawn until they fall below 31^10 (so every code is
    equally likely), written in base 31 (one token_bytes call: 5x faster than
    secrets.choice per character, which counts at a million coupons)."""
    return new_codes(1, prefix)[0]


def new_codes(count: int, prefix: str = "") -> list[str]:
    """`count` random codes as new_code draws them, from one token_bytes call for all (a
    call per code was 3% of a campaign's delivery time: a system call each)."""
    pool = secrets.token_bytes(7 * count)
    codes, start, head = [], 0, canonical_code(prefix)
    while len(codes) < count:
        if start + 7 > len(pool):  # a draw or more fell out of range: draw again
            pool, start = secrets.token_bytes(7 * (count - len(codes))), 0
        number = int.from_bytes(pool[start:start + 7]) >> 6
        start += 7
        if number >= _CODES:
            continue
        digits = []
        for _position in range(CODE_LENGTH):
            number, digit = divmod(number, len(ALPHABET))
            digits.append(ALPHABET[digit])
        codes.append(head + "".join(digits))
    return codes


def coupon_expiry(definition: CouponDefinition, issued_at: datetime.datetime
                  ) -> datetime.datetime | None:
    ends = [definition.valid_until] if definition.valid_until else []
    if definition.valid_days:
        ends.append(issued_at + datetime.timedelta(days=definition.valid_days))
    return min(ends) if ends else None


def coupons_issue(*, definition_id: int, walkers: Sequence[Walker], node: str,
                  now: datetime.datetime) -> dict[int, Issued]:
    """Issue one code per walker (journey id -> what it got). A walker whose (journey,
    step) already has a coupon gets that same coupon back, never a second one.

    Limits hold under concurrent batches: a customer's codes are counted under a lock per
    (definition, customer), and the definition row is locked only while a budget caps the
    codes issued, so batches of a campaign without one issue side by side (one lock on the
    definition serialised the runner's workers: bench/dispatch.py)."""
    with transaction.atomic():
        definition = _definition(definition_id)
        _lock_holders(definition, {w.customer_id for w in walkers})
        held, existing = _held(definition, walkers)
        fresh = [w for w in walkers if w.journey_id not in existing]
        refused = _holder_refusals(definition, [(w.journey_id, w.customer_id) for w in fresh],
                                   now, held=held)
        wanted = [w for w in fresh if w.journey_id not in refused]
        issued = _insert(definition, wanted, node, now)
    return {**existing, **{j: Issued(reason=r) for j, r in refused.items()}, **issued}


def _definition(definition_id: int) -> CouponDefinition:
    """The definition, its row locked when a budget caps the codes (or the discount)."""
    definition = CouponDefinition.objects.get(pk=definition_id)
    if definition.max_codes is not None or definition.max_discount_total is not None:
        definition = CouponDefinition.objects.select_for_update().get(pk=definition_id)
    return definition


def _lock_holders(definition: CouponDefinition, customer_ids: set[int]) -> None:
    """PostgreSQL: a transaction lock per (definition, customer), taken in order (no
    deadlock). SQLite runs one write transaction at a time anyway."""
    if connection.vendor != "postgresql" or not customer_ids:
        return
    keys = sorted(definition.pk * 2**32 + (customer_id & (2**32 - 1))
                  for customer_id in customer_ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) k",
                       [keys])


def _held(definition: CouponDefinition, walkers: Sequence[Walker]
          ) -> tuple[Counter, dict[int, Issued]]:
    """How many codes of the definition each customer holds, and the coupons these very
    steps already issued (a batch run again): one query."""
    steps = {(w.journey_id, w.step) for w in walkers}
    held: Counter = Counter()
    existing: dict[int, Issued] = {}
    holders = filter_one_of(Coupon.objects.filter(definition=definition), "customer_id",
                            {w.customer_id for w in walkers})
    for customer_id, journey_id, step, code, pk in holders.values_list(
            "customer_id", "journey_id", "step", "code", "pk"):
        held[customer_id] += 1
        if (journey_id, step) in steps:
            existing[journey_id] = Issued(code=code, coupon_id=pk)
    return held, existing


def definition_refusal(definition: CouponDefinition, now: datetime.datetime) -> str:
    """Why no code of this definition may be issued to anyone now ("" when it may)."""
    if definition.shared_code:
        return "shared_code"
    if not definition.is_active:
        return "inactive"
    if definition.valid_until and definition.valid_until <= now:
        return "expired"
    if definition.max_discount_total is not None \
            and definition.discount_total >= definition.max_discount_total:
        return "budget"
    return ""


def codes_issued(definition: CouponDefinition) -> int:
    """Personal codes of the definition issued so far."""
    return Coupon.objects.filter(definition=definition, customer__isnull=False).count()


def _holder_refusals(definition: CouponDefinition, holders: Sequence[tuple[int, int]],
                     now: datetime.datetime, *, held: Counter | None = None
                     ) -> dict[int, str]:
    """Key -> why that (key, customer id) gets no code: the definition is off or over, the
    customer holds as many as allowed, or the budget is spent (first come, first served).
    `held`: the codes each customer holds, when the caller has counted them."""
    refusal = definition_refusal(definition, now)
    if refusal:
        return {key: refusal for key, _customer in holders}
    if held is None:
        held = Counter(Coupon.objects.filter(
            definition=definition, customer_id__in={customer for _key, customer in holders},
        ).values_list("customer_id", flat=True))
    left = None if definition.max_codes is None \
        else max(definition.max_codes - codes_issued(definition), 0)
    refused: dict[int, str] = {}
    for key, customer_id in holders:
        if held[customer_id] >= definition.per_customer_limit:
            refused[key] = "limit"
        elif left is not None and left <= 0:
            refused[key] = "budget"
        else:
            held[customer_id] += 1
            if left is not None:
                left -= 1
    return refused


def _insert(definition: CouponDefinition, walkers: Sequence[Walker], node: str,
            now: datetime.datetime) -> dict[int, Issued]:
    """Insert a coupon per walker; a code that collides with a stored one (about one in
    10^14 per pair) is drawn again."""
    expires_at = coupon_expiry(definition, now)
    issued: dict[int, Issued] = {}
    pending = list(walkers)
    for _attempt in range(5):
        if not pending:
            break
        codes = new_codes(len(pending), definition.code_prefix)
        rows = [{"definition_id": definition.pk, "code": code,
                 "customer_id": w.customer_id, "campaign_id": w.campaign_id,
                 "journey_id": w.journey_id, "step": w.step, "node": node,
                 "status": Coupon.Status.ACTIVE, "max_redemptions": 1, "redemptions": 0,
                 "issued_at": now, "starts_at": definition.valid_from, "expires_at": expires_at}
                for w, code in zip(pending, codes, strict=True)]
        inserted = rows_insert(Coupon, rows, conflict=("code",),
                               returning=("journey_id", "code", "id"))
        issued.update({journey: Issued(code=code, coupon_id=pk)
                       for journey, code, pk in inserted})
        pending = [w for w in pending if w.journey_id not in issued]
    if pending:
        raise RuntimeError(f"could not draw unique codes for {len(pending)} coupons")
    return issued


# --- issued by hand (customer service) ------------------------------------------------------

# The journey's refusal notes as the operator API names them (the storefront's reasons).
ISSUE_REFUSALS = {"budget": "budget_exhausted", "limit": "per_customer_limit",
                  "inactive": "inactive", "expired": "expired", "shared_code": "shared_code"}


class CouponRefused(Exception):
    """Issuing (or changing) was refused; `reason` is a machine code."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason


def coupon_issue_manual(*, definition_id: int, customer_id: int,
                        now: datetime.datetime) -> Coupon:
    """Issue one personal code to a customer by hand, within the per-customer limit and the
    budget (locked as journeys lock them). CouponRefused(reason) when refused:
    budget_exhausted, per_customer_limit, inactive, expired, shared_code."""
    with transaction.atomic():
        definition = _definition(definition_id)
        _lock_holders(definition, {customer_id})
        refused = _holder_refusals(definition, [(0, customer_id)], now)
        if refused:
            raise CouponRefused(ISSUE_REFUSALS[refused[0]])
        return _insert_one(definition, customer_id, now)


def _insert_one(definition: CouponDefinition, customer_id: int,
                now: datetime.datetime) -> Coupon:
    for _attempt in range(5):
        row = {"definition_id": definition.pk, "code": new_code(definition.code_prefix),
               "customer_id": customer_id, "campaign_id": None, "journey_id": None,
               "step": None, "node": "", "status": Coupon.Status.ACTIVE, "max_redemptions": 1,
               "redemptions": 0, "issued_at": now, "starts_at": definition.valid_from,
               "expires_at": coupon_expiry(definition, now)}
        inserted = rows_insert(Coupon, [row], conflict=("code",), returning=("id",))
        if inserted:
            return Coupon.objects.select_related("definition").get(pk=inserted[0][0])
    raise RuntimeError("could not draw a unique code")


# --- definitions ----------------------------------------------------------------------------

CODE_CHARS = re.compile(r"^[A-Z0-9]*$")


class DefinitionInvalid(Exception):
    """Field -> message for each problem found."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems.items()))
        self.problems = problems


class DefinitionInUse(Exception):
    pass


def _validity_problems(values: dict[str, Any]) -> dict[str, str]:
    problems = {}
    starts, ends, days = values.get("valid_from"), values.get("valid_until"), \
        values.get("valid_days")
    if starts and ends and starts >= ends:
        problems["valid_until"] = _("must be after valid_from")
    if days is not None and days < 1:
        problems["valid_days"] = _("must be at least 1 day")
    if values.get("shared_code") and days is not None:
        problems["valid_days"] = _("a shared code is not issued, so it has no issue date to "
                                   "count days from: use valid_until")
    return problems


def _value_problems(values: dict[str, Any]) -> dict[str, str]:
    problems = {}
    value, kind = values.get("value"), values.get("kind")
    if kind == CouponDefinition.Kind.PERCENTAGE and value is not None \
            and not 0 < value <= 100:
        problems["value"] = _("a percentage must be more than 0 and at most 100")
    elif kind == CouponDefinition.Kind.FIXED and value is not None and value <= 0:
        problems["value"] = _("a fixed amount must be more than 0")
    if values.get("max_discount") is not None and kind != CouponDefinition.Kind.PERCENTAGE:
        problems["max_discount"] = _("only percentage coupons take a cap per order")
    if values.get("max_discount") is not None and values["max_discount"] <= 0:
        problems["max_discount"] = _("must be more than 0")
    if values.get("min_order_amount") is not None and values["min_order_amount"] < 0:
        problems["min_order_amount"] = _("must not be negative")
    if values.get("max_discount_total") is not None and values["max_discount_total"] <= 0:
        problems["max_discount_total"] = _("must be more than 0")
    return problems


def _code_problems(values: dict[str, Any], definition: CouponDefinition | None
                   ) -> dict[str, str]:
    problems = {}
    prefix, shared = values.get("code_prefix") or "", values.get("shared_code") or ""
    if not CODE_CHARS.match(prefix):
        problems["code_prefix"] = _("letters and digits only")
    if shared and not CODE_CHARS.match(shared):
        problems["shared_code"] = _("letters and digits only (dashes and spaces are dropped)")
    elif shared and len(shared) < 4:
        problems["shared_code"] = _("at least 4 characters")
    elif shared and _code_taken(shared, definition):
        problems["shared_code"] = _("this code is already in use")
    if values.get("shared_limit") is not None and not shared:
        problems["shared_limit"] = _("only with a shared_code")
    if values.get("max_codes") is not None and shared:
        problems["max_codes"] = _("a shared code is one code: limit its uses with shared_limit")
    if shared and definition is not None and definition.pk and _personal_codes(definition):
        problems["shared_code"] = _("this definition already issued personal codes")
    if not shared and definition is not None and definition.shared_code \
            and CouponRedemption.objects.filter(coupon__definition=definition).exists():
        problems["shared_code"] = _("the shared code was used already: it cannot be removed "
                                    "(deactivate the definition instead)")
    return problems


def _code_taken(code: str, definition: CouponDefinition | None) -> bool:
    taken = Coupon.objects.filter(code=code)
    if definition is not None and definition.pk:
        taken = taken.exclude(definition=definition, customer__isnull=True)
    return taken.exists()


def _personal_codes(definition: CouponDefinition) -> bool:
    return Coupon.objects.filter(definition=definition, customer__isnull=False).exists()


def definition_problems(values: dict[str, Any], definition: CouponDefinition | None = None
                        ) -> dict[str, str]:
    """Field -> what is wrong, for a definition with these values (all of its fields: a
    change is checked merged with the stored ones). Empty when it is fine."""
    return {**_value_problems(values), **_validity_problems(values),
            **_code_problems(values, definition)}


DEFINITION_FIELDS = ("name", "kind", "value", "currency", "min_order_amount", "max_discount",
                     "valid_from", "valid_until", "valid_days", "per_customer_limit",
                     "shared_code", "shared_limit", "max_codes", "max_discount_total",
                     "stackable", "code_prefix", "is_active")


def definition_values(definition: CouponDefinition | None, changes: dict[str, Any]
                      ) -> dict[str, Any]:
    """The definition's values with `changes` applied, codes in their stored form."""
    base = {name: getattr(definition, name) for name in DEFINITION_FIELDS} if definition \
        else {}
    values = {**base, **changes}
    for name in ("shared_code", "code_prefix"):
        values[name] = canonical_code(values.get(name) or "")
    values["currency"] = (values.get("currency") or "").upper()
    return values


def coupon_definition_save(definition: CouponDefinition | None = None, *,
                           now: datetime.datetime | None = None,
                           **changes: Any) -> CouponDefinition:
    """Create a definition (definition None) or change one, and keep its shared code's
    Coupon row (customer NULL) in step, in one transaction. DefinitionInvalid names each bad
    field."""
    now = now or timezone.now()
    with transaction.atomic():
        if definition is not None:
            definition = CouponDefinition.objects.select_for_update().get(pk=definition.pk)
        values = definition_values(definition, changes)
        problems = definition_problems(values, definition)
        if problems:
            raise DefinitionInvalid(problems)
        definition = definition or CouponDefinition()
        for name, value in values.items():
            setattr(definition, name, value)
        if definition.pk:  # kept only while a budget is set: recount for a new one
            definition.discount_total = _discount_spent(definition.pk)
        try:
            with transaction.atomic():
                definition.save()
                _shared_coupon_sync(definition, now)
        except IntegrityError as exc:  # a concurrent save took the name or the code
            raise DefinitionInvalid(_integrity_problem(exc)) from exc
    return definition


def _discount_spent(definition_id: int) -> Decimal:
    return CouponRedemption.objects.filter(coupon__definition_id=definition_id) \
        .aggregate(spent=Coalesce(Sum("discount"), Decimal(0)))["spent"]


def _integrity_problem(exc: IntegrityError) -> dict[str, str]:
    if "coupon_unique_code" in str(exc):
        return {"shared_code": str(_("this code is already in use"))}
    return {"name": str(_("a coupon definition with this name already exists"))}


def _shared_coupon_sync(definition: CouponDefinition, now: datetime.datetime) -> None:
    shared = Coupon.objects.filter(definition=definition, customer__isnull=True).first()
    if not definition.shared_code:
        if shared is not None:
            shared.delete()  # unused: definition_problems refuses the removal otherwise
        return
    shared = shared or Coupon(definition=definition, issued_at=now)
    shared.code = definition.shared_code
    shared.max_redemptions = definition.shared_limit
    shared.starts_at, shared.expires_at = definition.valid_from, definition.valid_until
    used_up = shared.max_redemptions is not None and shared.redemptions >= shared.max_redemptions
    shared.status = Coupon.Status.REDEEMED if used_up else Coupon.Status.ACTIVE
    shared.save()


def coupon_definition_delete(definition: CouponDefinition) -> None:
    """Delete a definition that never issued a code (nor had its shared code used).
    DefinitionInUse otherwise: deactivate it instead."""
    with transaction.atomic():
        definition = CouponDefinition.objects.select_for_update().get(pk=definition.pk)
        if _personal_codes(definition) or \
                CouponRedemption.objects.filter(coupon__definition=definition).exists():
            raise DefinitionInUse(_("Codes of this definition were issued or used; set "
                                    "is_active to false instead of deleting it."))
        Coupon.objects.filter(definition=definition).delete()
        definition.delete()


def _per_definition(codes, value) -> Coalesce:
    """`value` aggregated over these codes of the outer definition (0 without any): a scalar
    subquery on the (definition, ...) indexes, so a page of definitions never joins their
    million codes into one GROUP BY."""
    return Coalesce(Subquery(codes.filter(definition=OuterRef("pk")).order_by()
                             .values("definition").annotate(value=value).values("value")), 0)


def coupon_definitions_with_stats(queryset=None):
    """Definitions annotated with `issued` (personal codes), `redeemed` (uses of all its
    codes) and `discount_spent`: the running total the redeem service keeps under a discount
    budget, else summed from the redemptions of used codes. Every figure reads an index of
    the codes (1,000,000 codes, 100,000 used: ~0.5 s for a page of definitions)."""
    queryset = CouponDefinition.objects.all() if queryset is None else queryset
    used = Coupon.objects.filter(redemptions__gt=0)
    spent = CouponRedemption.objects.filter(coupon__definition=OuterRef("pk"),
                                            coupon__redemptions__gt=0) \
        .order_by().values("coupon__definition").annotate(total=Sum("discount")).values("total")
    return queryset.annotate(
        issued=_per_definition(Coupon.objects.all(), Count("pk"))
        - _per_definition(Coupon.objects.filter(customer__isnull=True), Count("pk")),
        redeemed=_per_definition(used, Sum("redemptions")),
        discount_spent=Case(
            When(max_discount_total__isnull=False, then=F("discount_total")),
            default=Coalesce(Subquery(spent), Decimal(0), output_field=DecimalField()),
            output_field=DecimalField()),
    )
