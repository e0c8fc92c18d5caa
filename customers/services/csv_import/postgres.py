"""The PostgreSQL writer: each prepared chunk (prepare.py, in a table of its own) is written
with a few set-based statements; the whole import is one transaction, each chunk a savepoint
in it.

Semantics are the storefront API's (customers.services.ingest): a field left out (an empty
cell, NULL in the chunk's table) keeps the stored value of an existing row and takes the
default in a new one; orders and events create unknown customers; an event whose event_id the
storefront already sent is a duplicate. An UPDATE that would change nothing is skipped, so a
re-import writes nothing and counts those rows as unchanged.

A large load, one that will add at least as many rows as the table holds (a first import),
drops the table's secondary indexes and foreign keys under an exclusive lock and builds them
again at the end: maintaining three indexes and checking two foreign keys row by row cost
~25 us a new order, building and checking them whole ~3 us a stored order (bench/README.md).
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from customers.models import (
    Customer,
    CustomerActivity,
    Event,
    MetricsSettings,
    Order,
    Storefront,
)
from customers.services.bulk import SetAside, set_aside
from customers.services.ingest import column_defaults, last_seen_upsert

from . import checks
from .counts import Counts
from .large import few_customers, is_large_load, rows_up_to
from .prepare import KNOWN_CUSTOMER, Prepared
from .reading import KINDS

CUSTOMERS = Customer._meta.db_table
ORDERS = Order._meta.db_table
EVENTS = Event._meta.db_table
TABLES = {"customers": CUSTOMERS, "orders": ORDERS, "events": EVENTS}
STAGING = "{staging}"  # in the statements: the chunk's table (prepare.py)

# A load is large when it adds at least this many rows and at least as many as the table
# holds (large.py). Below, rows are written through the indexes (no exclusive lock).
BULK_MIN_ROWS = 50_000
WORK_MEM = "64MB"
# Where a chunk's rows are looked up among many by one hash join rather than a probe each.
HASH_JOINS_ONLY = "SET LOCAL enable_hashjoin = on; SET LOCAL enable_nestloop = off"
# Inserts go in key order, byte by byte (code point order, as Python's sorted() puts the
# API's keys): the same order for every writer, and no locale rules to apply. A first load
# of 1M orders took 10.21-10.68 s instead of 10.59-10.87 s sorting under the database's
# C.UTF-8, which PostgreSQL compares through the C library. The sort stays under a large
# load's exclusive lock too: it reads every row of `src` before the first insert. Without
# it, a first chunk planned against the empty table probes it by a sequential scan while
# its own rows pour in (27 s instead of 0.3 s for 50,000 customers on a new database),
# unless only hash joins are allowed (FIRST_CUSTOMERS_UPSERT).
BYTE_ORDER = 'COLLATE "C"'


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    default: str | None = None  # SQL for a new row when the cell was empty; None: NULL


def _staged(kind: str, defaults: dict[str, str]) -> list[Column]:
    """The kind's staged columns (the model's fields, typed as its SQL twins type them)."""
    return [Column(c.name, c.sql_type, defaults.get(c.name))
            for c in checks.columns(KINDS[kind].model, checks.UTC)]


COLUMNS = {
    "customers": _staged("customers", {
        **dict.fromkeys(["email", "phone", "name", "gender", "city", "acquisition_channel",
                         "time_zone", "language"], "''"),
        "attributes": "'{}'::jsonb", "tags": "'[]'::jsonb"}),
    "orders": _staged("orders", {
        "refunded_amount": "0", "currency": "%(currency)s", "status": "'paid'",
        "coupon_code": "''", "items": "'[]'::jsonb"}),
    "events": _staged("events", {"occurred_at": "%(now)s", "properties": "'{}'::jsonb"}),
}


def _new_value(column: Column, row: str = "s") -> str:
    value = f"{row}.{column.name}"
    return value if column.default is None else f"COALESCE({value}, {column.default})"


def _column(kind: str, name: str) -> Column:
    [column] = [c for c in COLUMNS[kind] if c.name == name]
    return column


# --- customers ------------------------------------------------------------------------------

# Columns an UPDATE may change (external ids are the keys; consent times follow consent).
CUSTOMER_UPDATABLE = [c.name for c in COLUMNS["customers"]
                      if c.name not in ("external_id", "email_consent_at", "sms_consent_at")]


def _customers_upsert_sql(*, exclusive: bool, ordered: bool = True) -> str:
    """`ordered`: the new customers inserted in key order (BYTE_ORDER)."""
    keep = {name: f"COALESCE(s.{name}, c.{name})" for name in CUSTOMER_UPDATABLE}
    # Like the API: a consent time moves only when the consent itself changes.
    consent_times = [
        f"{channel}_consent_at = CASE WHEN s.{channel}_consent <> c.{channel}_consent "
        f"THEN COALESCE(s.{channel}_consent_at, %(now)s) ELSE c.{channel}_consent_at END"
        for channel in ("email", "sms")
    ]
    assignments = [f"{name} = {value}" for name, value in keep.items()]
    names = [c.name for c in COLUMNS["customers"]]
    values = [_new_value(c) for c in COLUMNS["customers"]]
    for channel in ("email", "sms"):
        values[names.index(f"{channel}_consent")] = f"COALESCE(s.{channel}_consent, false)"
        values[names.index(f"{channel}_consent_at")] = (
            f"CASE WHEN s.{channel}_consent THEN COALESCE(s.{channel}_consent_at, %(now)s) END")
    return (
        f"WITH src AS MATERIALIZED (SELECT s.*, c.id AS stored_id FROM {STAGING} s "
        f"LEFT JOIN {CUSTOMERS} c ON c.external_id = s.external_id), "
        f"updated AS (UPDATE {CUSTOMERS} AS c SET {', '.join(assignments + consent_times)}, "
        f"updated_at = %(now)s FROM src s WHERE s.stored_id IS NOT NULL AND c.id = s.stored_id "
        f"AND ({', '.join(f'c.{n}' for n in keep)}) IS DISTINCT FROM ({', '.join(keep.values())})"
        f" RETURNING 1), "
        f"created AS (INSERT INTO {CUSTOMERS} ({', '.join(names)}, created_at, updated_at) "
        f"SELECT {', '.join(values)}, %(now)s, %(now)s FROM src s WHERE s.stored_id IS NULL "
        f"{f'ORDER BY s.external_id {BYTE_ORDER}' if ordered else ''} "
        f"{_on_conflict('(external_id)', exclusive)} RETURNING 1) "
        f"SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), 0"
    )


def _on_conflict(target: str, exclusive: bool) -> str:
    # Under the exclusive lock of a large load nobody else inserts: the anti-join is enough.
    return "" if exclusive else f"ON CONFLICT {target} DO NOTHING"


# --- orders ---------------------------------------------------------------------------------

ORDER_UPDATABLE = ["amount", "refunded_amount", "currency", "status", "placed_at",
                   "coupon_code", "items"]


# The customer a chunk's row names, as `c.id`: read from the customers, or, under a large
# load's lock (no customer can go meanwhile), the id the checks found (prepare.py) and, for a
# customer created since (by this import), its row looked up by external id. (A customer
# deleted in the moment between the checks' copy and the lock fails the foreign key's rebuild
# in finish(): the import then writes nothing, and can be run again.)
_CUSTOMER_OF_ROW = f"LEFT JOIN {CUSTOMERS} c ON c.external_id = s.customer"
_KNOWN_CUSTOMER_OF_ROW = (
    f"LEFT JOIN LATERAL (SELECT COALESCE(s.{KNOWN_CUSTOMER}, (SELECT k.id FROM {CUSTOMERS} k "
    "WHERE k.external_id = s.customer)) AS id) c ON true")


def _orders_upsert_sql(*, exclusive: bool, known: bool = False) -> str:
    """Changed orders updated, new ones inserted, in one statement that reads the customers
    and the stored orders once (an order is compared where it is read, so that a re-import
    visits no row twice). Rows naming an unknown customer are left out and counted (the third
    column). The stored order is read through LATERAL ... LIMIT 1: an index probe, whatever
    the join settings (see PostgresWriter.begin)."""
    keep = {"customer_id": "s.customer_id"} | {
        name: _new_value(Column(name, "", f"o.{name}")) for name in ORDER_UPDATABLE}
    stored = [f"o.{n}" for n in keep]
    given = [v.replace("s.customer_id", "c.id") for v in keep.values()]
    assignments = [f"{name} = {value}" for name, value in keep.items()]
    new_values = ["s.external_id", "s.customer_id", "%(storefront)s"] + [
        _new_value(_column("orders", name)) for name in ORDER_UPDATABLE]
    distinct = f"({', '.join(stored)}) IS DISTINCT FROM ({', '.join(keep.values())})"
    return (
        f"WITH src AS MATERIALIZED (SELECT s.*, c.id AS customer_id, o.id AS stored_id, "
        f"o.id IS NOT NULL AND ({', '.join(stored)}) IS DISTINCT FROM ({', '.join(given)}) "
        f"AS changed FROM {STAGING} s {_KNOWN_CUSTOMER_OF_ROW if known else _CUSTOMER_OF_ROW} "
        f"LEFT JOIN LATERAL (SELECT * FROM {ORDERS} o WHERE o.external_id = s.external_id "
        f"LIMIT 1) o ON true), "
        f"updated AS (UPDATE {ORDERS} AS o SET {', '.join(assignments)}, updated_at = %(now)s "
        f"FROM src s WHERE s.changed AND s.customer_id IS NOT NULL AND o.id = s.stored_id "
        f"AND {distinct} RETURNING 1), "
        f"created AS (INSERT INTO {ORDERS} (external_id, customer_id, storefront_id, "
        f"{', '.join(ORDER_UPDATABLE)}, created_at, updated_at) "
        f"SELECT {', '.join(new_values)}, %(now)s, %(now)s FROM src s "
        f"WHERE s.stored_id IS NULL AND s.customer_id IS NOT NULL "
        f"ORDER BY s.external_id {BYTE_ORDER} {_on_conflict('(external_id)', exclusive)} "
        "RETURNING 1) "
        f"SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), "
        f"(SELECT count(*) FROM src WHERE customer_id IS NULL)"
    )


# Customers that orders and events name but the database does not know yet: external id only,
# every other column as the API path writes it (customers.services.ingest.column_defaults).
_BARE_CUSTOMER_COLUMNS = list(column_defaults(Customer, ["external_id"], None))
def _customers_ensure_sql(*, known: bool) -> str:
    """Customers the chunk names and the database lacks (`known`: only among the rows whose
    customer the checks did not find)."""
    unknown = f" WHERE {KNOWN_CUSTOMER} IS NULL" if known else ""
    return (
        f"INSERT INTO {CUSTOMERS} (external_id, {', '.join(_BARE_CUSTOMER_COLUMNS)}) "
        f"SELECT s.customer, {', '.join(f'%(bare_{name})s' for name in _BARE_CUSTOMER_COLUMNS)} "
        f"FROM (SELECT DISTINCT customer FROM {STAGING}{unknown}) s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {CUSTOMERS} c WHERE c.external_id = s.customer) "
        "ORDER BY s.customer ON CONFLICT (external_id) DO NOTHING"
    )


_CUSTOMERS_ENSURE = {known: _customers_ensure_sql(known=known) for known in (False, True)}


def _bare_customer_params(now: dt.datetime) -> dict[str, Any]:
    defaults = column_defaults(Customer, ["external_id"], now)
    return {f"bare_{name}": value for name, value in defaults.items()}


# --- events ---------------------------------------------------------------------------------

# The latest activity of each customer whose events the import wrote, gathered chunk by chunk
# and written to their activity rows once, in finish(): a first load of events names most
# customers in every chunk, and would write each of them once a chunk.
LAST_SEEN = "csv_last_seen"
SEEN_PER_CUSTOMER = "csv_seen_per_customer"  # LAST_SEEN, a row per customer
ACTIVITY = CustomerActivity._meta.db_table


def _events_insert_sql(*, exclusive: bool, known: bool = False) -> str:
    """New events, and the latest activity event of each of their customers noted (the API's
    rule for last_seen_at; finish() applies them), in one statement: the INSERT in the WITH
    clause runs even though nothing reads its output."""
    occurred_at, properties = _column("events", "occurred_at"), _column("events", "properties")
    conflict = _on_conflict("(storefront_id, event_id)", exclusive)
    return (
        f"WITH inserted AS (INSERT INTO {EVENTS} (customer_id, storefront_id, name, "
        "occurred_at, properties, event_id, created_at) "
        f"SELECT c.id, %(storefront)s, s.name, {_new_value(occurred_at)}, "
        f"{_new_value(properties)}, s.event_id, %(now)s "
        f"FROM {STAGING} s {_KNOWN_CUSTOMER_OF_ROW if known else _CUSTOMER_OF_ROW} "
        f"LEFT JOIN LATERAL (SELECT true AS stored FROM {EVENTS} e "
        f"WHERE e.storefront_id = %(storefront)s AND e.event_id = s.event_id LIMIT 1) e ON true "
        f"WHERE e.stored IS NULL AND c.id IS NOT NULL "
        f"ORDER BY s.event_id {BYTE_ORDER} {conflict} "
        "RETURNING customer_id, name, occurred_at), "
        f"seen AS (INSERT INTO {LAST_SEEN} (customer_id, seen) "
        "SELECT customer_id, max(occurred_at) FROM inserted "
        "WHERE cardinality(%(activity)s::text[]) = 0 OR name = ANY(%(activity)s::text[]) "
        "GROUP BY customer_id) "
        "SELECT count(*), 0, 0 FROM inserted"
    )


_SEEN_PER_CUSTOMER = (
    f"CREATE TEMP TABLE {SEEN_PER_CUSTOMER} ON COMMIT DROP AS "
    f"SELECT customer_id, max(seen) AS seen FROM {LAST_SEEN} GROUP BY customer_id")
_SEEN_IN_ORDER = f"SELECT customer_id, seen FROM {SEEN_PER_CUSTOMER} ORDER BY customer_id"
_MOVE_LAST_SEEN = last_seen_upsert(_SEEN_IN_ORDER)
# Into an activity table that was empty when the load locked it: nothing to conflict with,
# so no speculative insertion (200,000 rows: 0.26 s instead of 0.53 s).
_FIRST_LAST_SEEN = f"INSERT INTO {ACTIVITY} (customer_id, last_seen_at) {_SEEN_IN_ORDER}"


UPSERTS = {
    (kind, exclusive): build(exclusive=exclusive)
    for kind, build in (("customers", _customers_upsert_sql), ("orders", _orders_upsert_sql),
                        ("events", _events_insert_sql))
    for exclusive in (False, True)
}
# The first customers of a database (their unique index set aside, hash joins only): no
# other writer, nor any probe of the table while rows pour in (the join hashes, then
# inserts), so the sort is left out: 35-40 ms less a chunk of 50,000 for the writer, which
# sets the pace of such a load, against ~10 ms more building the unique index of unsorted
# rows at the end.
FIRST_CUSTOMERS_UPSERT = _customers_upsert_sql(exclusive=True, ordered=False)
# Under a large load's lock, with the ids the checks found.
KNOWN_CUSTOMERS_UPSERTS = {"orders": _orders_upsert_sql(exclusive=True, known=True),
                           "events": _events_insert_sql(exclusive=True, known=True)}


class PostgresWriter:
    """begin(), then write() per prepared chunk, then finish(), all inside the caller's
    transaction; write() runs its statements in a savepoint of its own."""

    def __init__(self, *, kind: str, storefront: Storefront, file_size: int):
        self.kind, self.storefront, self.file_size = kind, storefront, file_size
        self.dropped: SetAside | None = None
        self.decided = False
        self.staging = ""  # the chunk's table (prepare.py)
        self.knows_customers = False  # the chunk has the ids of known customers
        self.first_customers = False  # the first customers of the database (no unique index)

    def begin(self, batch_size: int) -> None:
        with self._cursor() as cursor:
            # A commit that is lost in a crash loses an import that can be run again; not
            # waiting for the WAL flush costs nothing else.
            cursor.execute("SET LOCAL synchronous_commit = off")
            # A chunk's table has no statistics (ANALYZE would cost as much as the upsert),
            # so the joins are chosen here: stored rows by their unique index (LATERAL ...
            # LIMIT 1 where it matters), and the customers that orders and events name by
            # one hash join of the chunk with all customers while there are few of them
            # (a probe per row cost ~5 us against ~0.5 us), unless the chunk has their ids.
            cursor.execute("SET LOCAL enable_mergejoin = off")
            cursor.execute("SET LOCAL enable_hashjoin = off")
            # The hash of the customers stays in memory; JIT compiling (the disabled joins'
            # cost estimate asks for it) took ~0.5 s a statement.
            cursor.execute(f"SET LOCAL work_mem = {checks.text(WORK_MEM)}; SET LOCAL jit = off")
            if self.kind == "events":
                cursor.execute(f"CREATE TEMP TABLE {LAST_SEEN} (customer_id bigint, "
                               "seen timestamptz) ON COMMIT DROP")
            if self.kind != "customers" and few_customers(cursor, batch_size):
                cursor.execute(HASH_JOINS_ONLY)

    def _cursor(self):
        connection.ensure_connection()
        # wrap_database_errors: psycopg's errors become Django's (IntegrityError, ...).
        return _WrappedCursor()

    def write(self, prepared: Prepared) -> Counts:
        """Writes one chunk; raises IntegrityError or DataError when the database refuses it,
        having rolled it back."""
        if not prepared.accepted:
            return Counts(0, 0, 0)
        now = timezone.now()
        params = {"now": now, "storefront": self.storefront.pk,
                  "currency": self.storefront.currency, **_bare_customer_params(now)}
        self.staging = prepared.table
        self.knows_customers = prepared.knows_customers
        with self._cursor() as cursor:
            if not self.decided:
                self.decided = True
                self._begin_bulk_if_large(cursor, prepared)
            with transaction.atomic():
                if not prepared.merged_by_the_checks:
                    prepared.merge_repeated_keys(cursor)
                created, updated = getattr(self, f"_{self.kind}")(cursor, params)
            cursor.execute(f"DROP TABLE {self.staging}")
        return Counts(created, updated, prepared.accepted - created - updated)

    def _execute(self, cursor, sql: str, params: dict[str, Any]) -> None:
        cursor.execute(sql.replace(STAGING, self.staging), params)

    def finish(self) -> None:
        with self._cursor() as cursor:
            cursor.execute("RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_nestloop")
            if self.kind == "events":
                self._move_last_seen(cursor)
            if self.dropped:
                self.dropped.restore(cursor)
            # SET LOCAL lasts as long as the caller's transaction (in tests, the test's).
            cursor.execute("RESET work_mem; RESET jit")

    def _move_last_seen(self, cursor) -> None:
        """The customers' latest activity (LAST_SEEN) onto their activity rows, in one upsert
        (in customer order: concurrent imports and API batches lock rows in the same
        order). When that adds at least as many rows as the activity table holds, its foreign
        key is set aside meanwhile and checked whole after: the commit of a first load of 1M
        events checked 200,000 new rows one by one, each locking its customer's row (0.74 s,
        against ~0.1 s for the one join). The lock that takes keeps everyone else out until
        the commit, so into a table found empty the rows are inserted plainly."""
        cursor.execute(_SEEN_PER_CUSTOMER)
        customers = cursor.rowcount
        aside = None
        if customers >= BULK_MIN_ROWS and rows_up_to(cursor, ACTIVITY, customers + 1) <= customers:
            aside = set_aside(cursor, ACTIVITY)
        first = aside is not None and rows_up_to(cursor, ACTIVITY, 1) == 0
        cursor.execute(_FIRST_LAST_SEEN if first else _MOVE_LAST_SEEN)
        cursor.execute(f"DROP TABLE {LAST_SEEN}, {SEEN_PER_CUSTOMER}")
        if aside:
            aside.restore(cursor)

    def _begin_bulk_if_large(self, cursor, prepared: Prepared) -> None:
        if not is_large_load(cursor, self.kind, self.staging, storefront=self.storefront.pk,
                             file_size=self.file_size, bytes_read=prepared.bytes_read,
                             least=BULK_MIN_ROWS):
            return
        first = self.kind == "customers" and rows_up_to(cursor, CUSTOMERS, 1) == 0
        # None: the rows go through the indexes
        self.dropped = set_aside(cursor, TABLES[self.kind], unique=first)
        self.first_customers = bool(first and self.dropped)
        if self.first_customers:
            # The first customers of a database: their external ids' unique index is built
            # at the end too, and each chunk finds the customers the earlier ones created by
            # one hash join with the table, which holds nothing else (200,000 customers:
            # ~0.15 s of index entries and ~0.18 s of probes, against ~0.1 s to build the
            # index and ~0.06 s of hash joins).
            cursor.execute(HASH_JOINS_ONLY)

    def _takes_known_customers(self) -> bool:
        return self.dropped is not None and self.knows_customers

    def _upsert(self, cursor, params: dict[str, Any]) -> tuple[int, int, int]:
        if self.first_customers:
            sql = FIRST_CUSTOMERS_UPSERT
        elif self._takes_known_customers():
            sql = KNOWN_CUSTOMERS_UPSERTS[self.kind]
        else:
            sql = UPSERTS[self.kind, self.dropped is not None]
        self._execute(cursor, sql, params)
        return cursor.fetchone()

    def _ensure_customers(self, cursor, params: dict[str, Any]) -> None:
        self._execute(cursor, _CUSTOMERS_ENSURE[self._takes_known_customers()], params)

    def _customers(self, cursor, params: dict[str, Any]) -> tuple[int, int]:
        created, updated, _unknown = self._upsert(cursor, params)
        return created, updated

    def _orders(self, cursor, params: dict[str, Any]) -> tuple[int, int]:
        # Customers usually come first: ensuring them costs a probe per row, so it is done
        # only when the upsert left rows out for an unknown customer, which a second pass
        # then writes (the rows the first one wrote are unchanged for it).
        created, updated, unknown = self._upsert(cursor, params)
        if unknown:
            self._ensure_customers(cursor, params)
            more_created, more_updated, _unknown = self._upsert(cursor, params)
            created, updated = created + more_created, updated + more_updated
        return created, updated

    def _events(self, cursor, params: dict[str, Any]) -> tuple[int, int]:
        params["activity"] = list(MetricsSettings.load().activity_events)
        self._ensure_customers(cursor, params)
        created, _updated, _unknown = self._upsert(cursor, params)
        return created, 0


class _WrappedCursor:
    """A raw psycopg cursor on Django's connection whose errors are Django's."""

    def __enter__(self):
        self.wrap = connection.wrap_database_errors
        self.wrap.__enter__()
        self.cursor = connection.connection.cursor()
        return self.cursor

    def __exit__(self, *exc_info):
        self.cursor.close()
        return self.wrap.__exit__(*exc_info)

