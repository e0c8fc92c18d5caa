"""Writes of what storefronts send: customers, orders and behaviour events.

Called by the storefront API (batches of up to 1,000) and by the CSV import (batches of up to
5,000). Input is already validated (customers.schemas). Every function writes one batch in one
transaction with a fixed number of set-based statements, whatever the batch size: no per-item
query.

Idempotency rests on unique constraints and ON CONFLICT, so a concurrent request creating the
same customer or order cannot raise an IntegrityError. Rows are written in key order so two
overlapping batches take their row locks in the same order and cannot deadlock each other.

Fields a storefront leaves out keep their stored value (pydantic's model_fields_set); a repeated
key within one batch is applied in order, as if the items had been sent one after another.

Orders are the hot path (target: 20,000 orders/s through the batch API on two cores). A batch's
keys and rows travel as ONE JSON parameter (json_to_recordset / json_each) rather than one
parameter per value: for 1,000 orders, Django's bulk_create and `__in` lists spent ~150 ms in
Python building model instances and quoting 12,000 parameters; one JSON string takes ~3 ms.
PostgreSQL writes orders with INSERT ... SELECT FROM json_to_recordset ON CONFLICT; SQLite (the
embedded default) takes bulk_create with the same ON CONFLICT semantics.
"""

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, TypedDict

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from pydantic import BaseModel

from customers.models import (
    Customer,
    CustomerActivity,
    Event,
    MetricsSettings,
    Order,
    Storefront,
)
from customers.schemas import CustomerIn, EventIn, OrderIn

# Model fields that cannot hold NULL: an explicit null from the storefront means "not given".
_NOT_NULL = frozenset({"email_consent", "sms_consent", "currency"})
_CONSENT_CHANNELS = ("email", "sms")
# Order columns as json_to_recordset reads them.
_ORDER_COLUMNS = {
    "external_id": "text", "customer_id": "bigint", "amount": "numeric",
    "refunded_amount": "numeric", "currency": "text", "status": "text",
    "placed_at": "timestamptz", "coupon_code": "text", "items": "jsonb",
}


# The orders' CHECK constraint an update can break with values the storefront did not send: a
# lower amount than the refund already stored. Validation sees the fields sent, one item at a
# time; the stored row and earlier items of the batch fill in the rest.
REFUND_WITHIN_AMOUNT = "order_refund_within_amount"


class RefundOverAmount(IntegrityError):
    """Orders whose refund would exceed their amount once the fields left out take their
    stored values (or an earlier item's): external id -> (amount, refunded_amount). An
    IntegrityError, so that whoever rejects refused writes (the CSV import) rejects these."""

    def __init__(self, orders: dict[str, tuple[Decimal, Decimal]]):
        self.orders = orders
        named = "; ".join(f"order {key}: {refund_over_amount_message(*values)}"
                          for key, values in list(orders.items())[:3])
        super().__init__(named or "an order's refund would exceed its amount (the order "
                                  "changed meanwhile): send it again")


def refund_over_amount_message(amount: Decimal, refunded: Decimal) -> str:
    return (f"refunded_amount {refunded:.2f} would exceed amount {amount:.2f} (fields left "
            f"out keep their stored value): send both")


class UpsertResult(TypedDict):
    created: int
    updated: int
    customer_ids: list[int]  # customers whose metrics the write affects


class RecordResult(TypedDict):
    recorded: int
    duplicates: int
    customer_ids: list[int]  # customers with a new activity event
    recorded_customer_ids: list[int]  # customers with any new event


def _merge(items: Iterable[BaseModel], key: str) -> dict[str, tuple[dict[str, Any], set[str]]]:
    """Items by key -> (all values, names of the fields given). A repeated key overlays the
    fields it gives on the earlier item's values."""
    merged: dict[str, tuple[dict[str, Any], set[str]]] = {}
    for item in items:
        values = item.__dict__  # pydantic keeps the field values here; dict(item) is 5x slower
        given = item.model_fields_set
        if not _NOT_NULL.isdisjoint(given):
            given = {name for name in given if name not in _NOT_NULL or values[name] is not None}
        seen = merged.get(values[key])
        if seen is None:
            merged[values[key]] = (dict(values), set(given))
        else:
            seen[0].update({name: values[name] for name in given})
            seen[1].update(given)
    return merged


def _grouped(rows: Iterable[tuple[Any, set[str]]]) -> dict[tuple[str, ...], list[Any]]:
    """Rows by the fields to update on conflict; usually every row gives the same fields."""
    by_set: dict[frozenset[str], list[Any]] = defaultdict(list)
    for row, fields in rows:
        by_set[frozenset(fields)].append(row)
    return {tuple(sorted(fields)): group for fields, group in by_set.items()}


# --- set-based SQL with one JSON parameter --------------------------------------------------

def _rows_where_in(model: type[models.Model], key: str, columns: str,
                   keys: Iterable[str]) -> list[tuple]:
    """SELECT columns WHERE key IN (keys), the keys sent as one JSON array parameter."""
    # = ANY(ARRAY(...)) keeps PostgreSQL on the index whatever it guesses the list's length is.
    match = ("= ANY(ARRAY(SELECT json_array_elements_text(%s::json)))"
             if connection.vendor == "postgresql" else "IN (SELECT value FROM json_each(%s))")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {model._meta.db_table} WHERE {key} {match}",
                       [json.dumps(list(keys))])
        return cursor.fetchall()


def column_defaults(model: type[models.Model], given: Iterable[str],
                     now: dt.datetime) -> dict[str, Any]:
    """Values for the columns not given, as Model() and bulk_create would write them."""
    defaults = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in given:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field.column] = now
        else:
            defaults[field.column] = field.get_db_prep_save(field.get_default(), connection)
    return defaults


def _pg_upsert(model: type[models.Model], rows: list[dict[str, Any]], types: dict[str, str], *,
               fixed: dict[str, Any] | None = None, update: Sequence[str] = (),
               returning: str = "") -> list[tuple]:
    """PostgreSQL: INSERT the rows (columns and their types in `types`, sent as one JSON
    parameter); `fixed` columns take one value for every row, all others the model's default.
    ON CONFLICT (external_id): update the `update` columns and updated_at when one of them
    differs, or do nothing."""
    table = model._meta.db_table
    constants = {**column_defaults(model, [*types, *(fixed or {})], timezone.now()),
                 **(fixed or {})}
    columns = ", ".join([*types, *constants])
    selected = ", ".join([*(f"r.{name}" for name in types), *["%s"] * len(constants)])
    record = ", ".join(f"{name} {kind}" for name, kind in types.items())
    action = "DO NOTHING"
    if update:
        # An identical re-send writes nothing, not even updated_at (and no dead tuples).
        action = (
            "DO UPDATE SET " + ", ".join(f"{name} = EXCLUDED.{name}"
                                         for name in [*update, "updated_at"])
            + f" WHERE ({', '.join(f'{table}.{name}' for name in update)}) IS DISTINCT FROM "
            f"({', '.join(f'EXCLUDED.{name}' for name in update)})"
        )
    sql = (f"INSERT INTO {table} ({columns}) SELECT {selected} "
           f"FROM json_to_recordset(%s::json) AS r({record}) ON CONFLICT (external_id) {action}"
           + (f" RETURNING {returning}" if returning else ""))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants.values(), json.dumps(rows, default=str)])
        return cursor.fetchall() if returning else []


def customer_ids_ensure(external_ids: Iterable[str]) -> dict[str, int]:
    """Ids of these customers by external id, creating the unknown ones (external id only)."""
    wanted = set(external_ids)
    found = dict(_rows_where_in(Customer, "external_id", "external_id, id", wanted))
    missing = sorted(wanted.difference(found))
    if not missing:
        return found
    # ON CONFLICT DO NOTHING: a concurrent request may create some of them first; those are
    # read back below.
    if connection.vendor == "postgresql":
        found.update(_pg_upsert(Customer, [{"external_id": key} for key in missing],
                                {"external_id": "text"}, returning="external_id, id"))
    else:
        Customer.objects.bulk_create([Customer(external_id=key) for key in missing],
                                     ignore_conflicts=True)
    raced = [key for key in missing if key not in found]
    if raced:
        found.update(_rows_where_in(Customer, "external_id", "external_id, id", raced))
    return found


# --- customers ------------------------------------------------------------------------------

def _consent_times(values: dict[str, Any], given: set[str], stored: tuple[bool, bool] | None,
                   now: dt.datetime) -> set[str]:
    """Stamp *_consent_at when a given consent differs from the stored one (the time sent with
    it, else now); otherwise the stored time stays. Returns the fields to update."""
    fields = given - {"external_id", "email_consent_at", "sms_consent_at"}
    for index, channel in enumerate(_CONSENT_CHANNELS):
        consent, at = f"{channel}_consent", f"{channel}_consent_at"
        previous = stored[index] if stored else False  # the model's default
        if consent in given and values[consent] != previous:
            values[at] = values[at] or now
            fields.add(at)
        else:
            values[at] = None
        if values[consent] is None:
            values[consent] = previous
    return fields


def customers_upsert(*, storefront: Storefront, items: list[CustomerIn]) -> UpsertResult:
    """Create or update customers by external id, in one transaction."""
    merged = _merge(items, "external_id")
    now = timezone.now()
    with transaction.atomic():
        # Lock the stored rows (FOR NO KEY UPDATE, which order inserts do not wait on) so the
        # consent comparison cannot race with another request changing the same consent.
        stored = {
            external_id: (email, sms)
            for external_id, email, sms in Customer.objects.select_for_update(no_key=True)
            .filter(external_id__in=merged).order_by("external_id")
            .values_list("external_id", "email_consent", "sms_consent")
        }
        rows = []
        for external_id in sorted(merged):
            values, given = merged[external_id]
            fields = _consent_times(values, given, stored.get(external_id), now)
            rows.append((Customer(**values), fields))
        for fields, customers in _grouped(rows).items():
            Customer.objects.bulk_create(
                customers, update_conflicts=True, unique_fields=["external_id"],
                update_fields=[*fields, "updated_at"],
            )
    return {"created": len(merged) - len(stored), "updated": len(stored), "customer_ids": []}


def customer_upsert(*, storefront: Storefront, data: CustomerIn) -> tuple[Customer, bool]:
    """Create or update one customer; returns it (with its metrics, if any) and whether it is
    new."""
    result = customers_upsert(storefront=storefront, items=[data])
    customer = Customer.objects.select_related("metrics", "activity").get(
        external_id=data.external_id)
    return customer, bool(result["created"])


# --- orders ---------------------------------------------------------------------------------

def _orders_write(storefront: Storefront, rows: list[dict[str, Any]],
                  fields: Sequence[str]) -> None:
    if connection.vendor == "postgresql":
        update = [Order._meta.get_field(name).column for name in fields]
        _pg_upsert(Order, rows, _ORDER_COLUMNS, fixed={"storefront_id": storefront.pk},
                   update=update)
    else:
        Order.objects.bulk_create(
            [Order(storefront=storefront, **row) for row in rows], update_conflicts=True,
            unique_fields=["external_id"], update_fields=[*fields, "updated_at"],
        )


def _order_row(values: dict[str, Any], customer_id: int, currency: str, *,
               json_ready: bool) -> dict[str, Any]:
    """An order's column values; json_ready: money and time as text, for one JSON parameter
    (converting here costs half of what json.dumps(default=str) does)."""
    amount, refunded, placed_at = values["amount"], values["refunded_amount"], values["placed_at"]
    if json_ready:
        amount, refunded, placed_at = str(amount), str(refunded), placed_at.isoformat()
    return {
        "external_id": values["external_id"], "customer_id": customer_id,
        "amount": amount, "refunded_amount": refunded,
        "currency": values["currency"] or currency, "status": values["status"],
        "placed_at": placed_at, "coupon_code": values["coupon_code"],
        "items": [item.model_dump(mode="json") for item in values["items"]],
    }


def orders_upsert(*, storefront: Storefront, items: list[OrderIn]) -> UpsertResult:
    """Create or update orders by external id (a refund is a status update), creating unknown
    customers, in one transaction. An order keeps the storefront that first sent it. Raises
    RefundOverAmount, having written nothing, when an order's refund would exceed its amount
    with the fields left out as stored."""
    merged = _merge(items, "external_id")
    try:
        return _orders_upsert(storefront, merged)
    except IntegrityError as exc:
        if REFUND_WITHIN_AMOUNT not in str(exc):
            raise
        raise RefundOverAmount(_refunds_over_amount(merged)) from exc


def _refunds_over_amount(merged: dict[str, tuple[dict[str, Any], set[str]]]
                         ) -> dict[str, tuple[Decimal, Decimal]]:
    """Only after the database refused the batch: which orders broke the constraint."""
    stored = {key: (Decimal(str(amount)), Decimal(str(refunded))) for key, amount, refunded in
              _rows_where_in(Order, "external_id", "external_id, amount, refunded_amount",
                             merged)}
    over = {}
    for key in sorted(merged):
        values, given = merged[key]
        amount, refunded = stored.get(key, (values["amount"], values["refunded_amount"]))
        amount = values["amount"] if "amount" in given else amount
        refunded = values["refunded_amount"] if "refunded_amount" in given else refunded
        if refunded > amount:
            over[key] = (amount, refunded)
    return over


def _orders_upsert(storefront: Storefront,
                   merged: dict[str, tuple[dict[str, Any], set[str]]]) -> UpsertResult:
    json_ready = connection.vendor == "postgresql"
    with transaction.atomic():
        customer_ids = customer_ids_ensure(values["customer"] for values, _given in
                                           merged.values())
        # An update may move an order to another customer: the previous one is affected too.
        previous = [customer_id for (customer_id,) in
                    _rows_where_in(Order, "external_id", "customer_id", merged)]
        rows = []
        for external_id in sorted(merged):
            values, given = merged[external_id]
            row = _order_row(values, customer_ids[values["customer"]], storefront.currency,
                             json_ready=json_ready)
            rows.append((row, given - {"external_id"}))
        for fields, group in _grouped(rows).items():
            _orders_write(storefront, group, fields)
    return {"created": len(merged) - len(previous), "updated": len(previous),
            "customer_ids": sorted({*customer_ids.values(), *previous})}


# --- events ---------------------------------------------------------------------------------

def _events_new(storefront: Storefront, items: list[EventIn]) -> list[EventIn]:
    """The items whose event_id is neither stored nor repeated earlier in the batch."""
    event_ids = {item.event_id for item in items if item.event_id is not None}
    seen = set(
        Event.objects.filter(storefront=storefront, event_id__in=event_ids)
        .values_list("event_id", flat=True)
    ) if event_ids else set()
    fresh = []
    for item in items:
        if item.event_id is not None:
            if item.event_id in seen:
                continue
            seen.add(item.event_id)
        fresh.append(item)
    return fresh


def _last_seen_advance(latest: dict[int, dt.datetime]) -> None:
    """Move customers' last_seen_at forward (never back) to these times: one upsert of the
    (id, time) pairs, sent as one JSON parameter."""
    if not latest:
        return
    adapt = connection.ops.adapt_datetimefield_value
    pairs = json.dumps([[pk, str(adapt(seen))] for pk, seen in sorted(latest.items())])
    if connection.vendor == "postgresql":
        source = ("SELECT (p->>0)::bigint, (p->>1)::timestamptz "
                  "FROM json_array_elements(%s::json) AS p")
    else:  # WHERE true: SQLite's parser needs it before ON CONFLICT after a SELECT
        source = ("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
                  "FROM json_each(%s) WHERE true")
    with connection.cursor() as cursor:
        cursor.execute(last_seen_upsert(source), [pairs])


def last_seen_upsert(source: str) -> str:
    """The statement moving customers' last_seen_at forward (never back) to the (customer id,
    time) rows that `source`, a SELECT, returns."""
    table = CustomerActivity._meta.db_table
    return (f"INSERT INTO {table} (customer_id, last_seen_at) {source} "
            "ON CONFLICT (customer_id) DO UPDATE SET last_seen_at = excluded.last_seen_at "
            f"WHERE {table}.last_seen_at < excluded.last_seen_at")


def events_record(*, storefront: Storefront, items: list[EventIn]) -> RecordResult:
    """Record behaviour events, creating unknown customers, in one transaction. An event whose
    event_id this storefront already sent is a duplicate and changes nothing. Activity events
    (MetricsSettings.activity_events; empty: all) move the customer's last_seen_at forward."""
    now = timezone.now()
    with transaction.atomic():
        customer_ids = customer_ids_ensure(item.customer for item in items)
        fresh = _events_new(storefront, items)
        # In event_id order so overlapping batches lock the unique index in the same order.
        fresh.sort(key=lambda item: item.event_id or "")
        rows = [
            Event(customer_id=customer_ids[item.customer], storefront=storefront, name=item.name,
                  occurred_at=item.occurred_at or now, properties=item.properties,
                  event_id=item.event_id)
            for item in fresh
        ]
        # ON CONFLICT DO NOTHING: a concurrent request may record the same event_id first.
        Event.objects.bulk_create(rows, ignore_conflicts=True)
        activity = set(MetricsSettings.load().activity_events)
        latest: dict[int, dt.datetime] = {}
        for row in rows:
            if not activity or row.name in activity:
                latest[row.customer_id] = max(row.occurred_at,
                                              latest.get(row.customer_id, row.occurred_at))
        _last_seen_advance(latest)
    return {"recorded": len(fresh), "duplicates": len(items) - len(fresh),
            "customer_ids": sorted(latest),
            "recorded_customer_ids": sorted({row.customer_id for row in rows})}
