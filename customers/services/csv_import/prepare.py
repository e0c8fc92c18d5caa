"""Staging and checking CSV chunks on PostgreSQL, on a connection of its own, a few chunks
ahead of the writer (postgres.py), so that both of the server's cores work.

For each chunk: its bytes go to COPY ... (FORMAT csv) into an all-text table as they are
(rawcsv.py says when that reads them as Python would, and vouch.py which cells need no
regular expression; otherwise Python's csv module reads the rest of the file and its records
are copied); pydantic checks each distinct JSON cell; one INSERT ... SELECT converts every
other cell with the SQL twins of the input model (checks.py), and for a large load of orders
or events adds the ids of the customers they name; the rows it cannot vouch for go to the
pydantic model, which rejects them with their line and reason or accepts them; repeated keys
are merged (later cells win; for events the first row). The checked rows go to an unlogged
table of their own, which the writer reads and drops. (Handing them over through COPY TO and
FROM STDIN cost ~5 us a row of Python: PostgreSQL sends one message per row.)
"""

import contextlib
import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone
from pydantic import BaseModel
from pydantic_core import to_json

from customers.models import Customer

from . import checks, rawcsv, vouch
from .large import few_customers, is_large_load
from .readahead import ReadAhead
from .reading import (
    NUL_REASON,
    CellError,
    CsvImportError,
    CsvReader,
    Reject,
    cell_count_reason,
    nul_column,
    records_from,
)

KEYS = {"customers": "external_id", "orders": "external_id", "events": "event_id"}
# Orders and events name their customer. In a large load (large.py), where the writer sets
# the pace (postgres.py), the checks look up the id of each customer the database held when
# the import began (in the handover table's KNOWN_CUSTOMER column; NULL for the others), from
# a copy of the customers' ids taken before the writer locks the table: the writer then need
# not hash every customer for every chunk. Only while the writer would hash them
# (large.few_customers), for at least SNAPSHOT_MIN_ROWS new rows. (Reading the customers
# themselves once the writer holds its lock would wait for the writer, which waits for the
# chunk.)
NAMES_CUSTOMER = frozenset({"orders", "events"})
KNOWN_CUSTOMER = "known_customer_id"
SNAPSHOT_MIN_ROWS = 25_000


HANDOVER_PREFIX = "csv_import_"
CHECKED = "{checked}"  # in the checking statement: the chunk's table
# Where the checks merge a chunk's repeated keys (Prepared): events, whose writer sets the
# pace (~0.31 s a chunk against ~0.23 s of checks; 1M events, interleaved: 96,582-105,448
# -> 109,068-113,168 rows/s, bench/import_csv.py). For orders the two sides take about as
# long (~0.3 s), and moving it there measured no better.
MERGED_BY_THE_CHECKS = frozenset({"events"})


@dataclass
class Prepared:
    """A chunk's accepted rows in the unlogged table `table`, and what became of the others.
    Rows of the same key are merged (merge_repeated_keys, ~0.02 s a chunk of 50,000) on
    whichever side has time to spare: for events by the checks (their writer sets the
    pace), otherwise by the writer (the checks set the pace of a first load of
    customers)."""

    table: str
    accepted: int  # accepted rows, before merging repeated keys
    rows: int  # records in the chunk
    rejected_rows: int
    rejects: list[Reject]
    bytes_read: int
    record_lines: Iterable[int] = field(repr=False, default=())
    knows_customers: bool = False  # KNOWN_CUSTOMER holds the ids of known customers
    kind: str = ""
    names: list[str] = field(repr=False, default_factory=list)  # the checked columns

    @property
    def merged_by_the_checks(self) -> bool:
        return self.kind in MERGED_BY_THE_CHECKS

    def accepted_lines(self) -> list[int]:
        rejected = {reject.line for reject in self.rejects}
        return [line for line in self.record_lines if line not in rejected]

    def merge_repeated_keys(self, cursor) -> None:
        """One row per key: the later cells over the earlier ones (for events, the first
        row: the same event sent twice)."""
        table, key = self.table, KEYS[self.kind]
        cursor.execute(f"SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1")
        repeated = [key for (key,) in cursor.fetchall()]
        if not repeated:
            return
        if self.kind == "events":
            merged = (f"SELECT DISTINCT ON ({key}) * FROM {table} "
                      f"WHERE {key} = ANY(%(keys)s) ORDER BY {key}, n")
        else:
            merged = "SELECT max(n), true, " + ", ".join(
                name if name == key else
                f"(array_agg({name} ORDER BY n DESC) FILTER (WHERE {name} IS NOT NULL))[1]"
                for name in self.names) + \
                f" FROM {table} WHERE {key} = ANY(%(keys)s) GROUP BY {key}"
        cursor.execute(f"WITH gone AS (DELETE FROM {table} WHERE {key} = ANY(%(keys)s)) "
                       f"INSERT INTO {table} {merged}", {"keys": repeated})


@dataclass
class _Staged:
    """A chunk in csv_raw: row n is line base + n."""

    base: int
    rows: int
    bytes_read: int
    record_lines: Iterable[int]
    rejects: list[Reject] = field(default_factory=list)
    flags: bytes | None = None  # vouch.py's, a line of the block each, when it ran
    last_n: int = 0  # csv_raw's highest n


def connect() -> psycopg.Connection:
    """A connection to Django's database, outside Django's transaction (it writes only its
    own temporary tables)."""
    conn = psycopg.connect(**connection.get_connection_params())
    conn.autocommit = True
    # JIT compiling the checks took longer than running them on a chunk.
    conn.execute("SET TIME ZONE 'UTC'; SET jit = off; SET work_mem = '64MB'")
    return conn


class Preparer:
    """chunks() yields the file's chunks as Prepared; close() ends the connection."""

    def __init__(self, *, reader: CsvReader, time_zone: str, batch_size: int,
                 storefront: int | None = None):
        self.reader, self.kind, self.batch_size = reader, reader.kind, batch_size
        self.storefront = storefront  # the id of the storefront the rows come from
        self.model = self.kind.model
        self.names = list(self.model.model_fields)
        now = timezone.now()
        zone = checks.zone(time_zone, now.date())
        typed = {c.name: c for c in checks.columns(self.model, zone)}
        self.kinds = {name: vouch.kind(typed[name]) for name in reader.header}
        self.layout = vouch.layout(self.kinds)
        self.columns = checks.columns(self.model, zone, cell="r.{name}", flags={
            name: self._flag("r", byte) for name, byte in self.layout.columns.items()})
        self.json = {name: check for name, check in checks.json_fields(self.model).items()
                     if name in reader.header}
        self.params = checks.params(zone, now)
        self.conn = connect()
        self.tables: list[str] = []
        self.knows_customers = False  # csv_customers holds the customers' ids
        self._refuse_without_the_right_to_create_tables()
        self._drop_abandoned()
        self._create_tables()
        self.check_sql = self._check_sql()

    def close(self) -> None:
        """Drops the tables the writer did not (it rolled back), unless it still holds them
        (a test's transaction): the next import drops those."""
        try:
            self.conn.execute("SET lock_timeout = '100ms'")
            for table in self.tables:
                self.conn.execute(f"DROP TABLE IF EXISTS {table}")
        except psycopg.errors.LockNotAvailable:
            pass
        finally:
            self.conn.close()

    def _refuse_without_the_right_to_create_tables(self) -> None:
        """The chunks are staged and handed over in tables of the import's own: a role that
        may not create any is told so before anything is read or written."""
        [(schema, may_create)] = self.conn.execute(
            "SELECT current_schema(), "
            "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)").fetchall()
        if not may_create:
            self.conn.close()
            raise CsvImportError(
                f"the database role may not create tables in schema {schema}, where the "
                "import stages each chunk: grant it CREATE on that schema, or import as the "
                "role that runs the migrations")

    def _drop_abandoned(self) -> None:
        """Hand-over tables of imports whose process died."""
        with self.conn.cursor() as cursor:
            cursor.execute(
                "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relkind = 'r' "
                "AND c.relpersistence = 'u' AND CASE WHEN c.relname ~ %s THEN "
                "split_part(c.relname, '_', 3)::int NOT IN (SELECT pid FROM pg_stat_activity) END",
                [f"^{HANDOVER_PREFIX}[0-9]+_[0-9]+$"])
            abandoned = [name for (name,) in cursor.fetchall()]
            cursor.execute("SET lock_timeout = '100ms'")
            for name in abandoned:
                with contextlib.suppress(psycopg.errors.LockNotAvailable):
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute("RESET lock_timeout")

    def _create_tables(self) -> None:
        raw = ", ".join(f"{name} text" for name in self.names)
        typed = ", ".join(f"{c.name} {c.sql_type}" for c in self.columns)
        self.conn.execute(
            f"CREATE TEMP TABLE csv_raw (n bigint GENERATED BY DEFAULT AS IDENTITY, {raw})")
        self.checked_columns = f"n bigint, ok boolean, {typed}"
        if self.kind.name in NAMES_CUSTOMER:
            self.checked_columns += f", {KNOWN_CUSTOMER} bigint"
        for name in self.json:
            self.conn.execute(f"CREATE TEMP TABLE csv_json_{name} (cell text, value jsonb)")

    def _check_sql(self) -> str:
        # A row whose event_id is empty gets one derived in Python (reading.derived_event_id).
        derived = frozenset({"event_id"}) if self.kind.name == "events" else frozenset()
        ok = checks.accepted(self.model, self.columns, cell="s.{name}", value="s.v_{name}",
                             required=derived, ends_flag=self._flag("s", self.layout.ends))
        values = ", ".join(
            f"{c.value.replace(checks.JSON_VALUE, self._json_value(c.name))} AS v_{c.name}"
            for c in self.columns)
        joins = "".join(f" LEFT JOIN csv_json_{name} j_{name} ON j_{name}.cell = r.{name}"
                        for name in self.json)
        known = ""
        if self.kind.name in NAMES_CUSTOMER:
            known = f", s.{KNOWN_CUSTOMER}"
            if self.knows_customers:
                [customer] = [c.value for c in self.columns if c.name == "customer"]
                joins += f" LEFT JOIN csv_customers cu ON cu.external_id = {customer}"
                values += f", cu.id AS {KNOWN_CUSTOMER}"
            else:
                values += f", NULL::bigint AS {KNOWN_CUSTOMER}"
        # OFFSET 0 keeps the subquery whole, so that each value is computed once.
        return (f"INSERT INTO {CHECKED} SELECT s.n, {ok}, "
                f"{', '.join(f's.v_{name}' for name in self.names)}{known} "
                f"FROM (SELECT r.*, {values} FROM csv_raw r{joins} OFFSET 0) s")

    def _flag(self, row: str, byte: int) -> str:
        """SQL: a byte of the row's flags (vouch.py), passed as the bytea %(flags)s."""
        return f"get_byte(%(flags)s, (({row}.n - 1) * {self.layout.width} + {byte})::int)"

    def _json_value(self, name: str) -> str:
        return f"j_{name}.value" if name in self.json else "NULL::jsonb"

    # --- sources of chunks ------------------------------------------------------------------

    def chunks(self) -> Iterator[Prepared]:
        for staged in self._staged():
            yield self._prepared(staged)

    def _staged(self) -> Iterator[_Staged]:
        path, first_line = self.reader.path, self.reader.header_lines + 1
        with path.open("rb") as file:
            offset = rawcsv.offset_after_lines(file, self.reader.header_lines)
            if self._copyable_columns():
                # The next blocks are read and scanned (~1 us a row of Python) while
                # PostgreSQL checks this one.
                blocks = ReadAhead(self._scanned(rawcsv.blocks(file, offset, first_line,
                                                                self.batch_size)))
                try:
                    for block, copyable, flags in blocks:
                        if not copyable:  # Python reads the rest
                            offset, first_line = block.end - len(block.data), block.first_line
                            break
                        rows = self._copy_block(block)
                        if rows is None:  # a row COPY refuses (a cell too many, not UTF-8)
                            yield self._copy_records(self._block_records(block), block.end)
                            continue
                        yield _Staged(block.first_line - 1, rows, block.end,
                                      range(block.first_line, block.first_line + rows),
                                      flags=flags, last_n=rows)
                    else:
                        return
                finally:
                    blocks.close()
        yield from self._staged_by_python(offset, first_line)

    def _scanned(self, blocks: Iterator[rawcsv.Block]
                 ) -> Iterator[tuple[rawcsv.Block, bool, bytes | None]]:
        """Each block, whether COPY may take it as it is, and then its flags."""
        for block in blocks:
            scan = rawcsv.scan(block.data)
            yield block, scan is not None, scan and vouch.vouch(scan, self.kinds)

    def _copyable_columns(self) -> bool:
        # Without an event_id column every row needs Python to derive one.
        return self.kind.name != "events" or "event_id" in self.reader.header

    def _copy_block(self, block: rawcsv.Block) -> int | None:
        """The block in csv_raw; None when COPY refused it or read it differently (then
        Python reads it, with its own messages)."""
        header = ", ".join(self.reader.header)
        self.conn.execute("TRUNCATE csv_raw RESTART IDENTITY")
        try:
            with self.conn.cursor() as cursor:
                with cursor.copy(f"COPY csv_raw ({header}) FROM STDIN "
                                 f"(FORMAT csv, FORCE_NULL ({header}))") as copy:
                    copy.write(block.data)
                rows = cursor.rowcount
        except psycopg.Error:
            return None
        return rows if rows == block.lines else None

    def _block_records(self, block: rawcsv.Block) -> list[tuple[int, list[str]]]:
        """The records of a block COPY could take but refused, as Python reads them (one a
        line: the block is copyable)."""
        try:
            text = block.data.decode()
        except UnicodeDecodeError as exc:
            line = block.first_line + block.data.count(b"\n", 0, exc.start)
            raise CsvImportError(f"{self.reader.path}: not UTF-8 text near line {line} "
                                 f"({exc.reason})") from exc
        lines = text.splitlines(keepends=True)
        return [(block.first_line + n, cells)
                for n, cells in enumerate(csv.reader(lines)) if cells]

    def _staged_by_python(self, offset: int, first_line: int) -> Iterator[_Staged]:
        records = records_from(self.reader.path, offset, first_line)
        try:
            batch: list[tuple[int, list[str]]] = []
            for record in records:
                batch.append(record)
                if len(batch) == self.batch_size:
                    yield self._copy_records(batch, records.binary.tell())
                    batch = []
            if batch:
                yield self._copy_records(batch, self.reader.size)
        finally:
            records.close()

    def _copy_records(self, batch: list[tuple[int, list[str]]], bytes_read: int) -> _Staged:
        base = batch[0][0] - 1
        staged = _Staged(base, len(batch), bytes_read, [line for line, _cells in batch],
                         last_n=batch[-1][0] - base)
        width = len(self.reader.header)
        self.conn.execute("TRUNCATE csv_raw RESTART IDENTITY")
        with self.conn.cursor() as cursor, cursor.copy(
                f"COPY csv_raw (n, {', '.join(self.names)}) FROM STDIN") as copy:
            for line, cells in batch:
                if len(cells) != width:
                    staged.rejects.append(Reject(line, "", cell_count_reason(len(cells), width)))
                    continue
                if column := nul_column(self.reader.header, cells):
                    staged.rejects.append(Reject(line, column, NUL_REASON))
                    continue
                copy.write_row((line - base, *self._raw_row(cells)))
        return staged

    def _raw_row(self, cells: list[str]) -> list[str | None]:
        given = dict(zip(self.reader.header, cells, strict=True))
        if self.kind.name == "events" and not (given.get("event_id") or "").strip():
            # The derived id needs the row as Python reads it; a bad cell is left for the
            # model to report.
            with contextlib.suppress(CellError):
                given["event_id"] = self.reader.values(cells)["event_id"]
        return [given.get(name) or None for name in self.names]

    # --- checking --------------------------------------------------------------------------

    def _check_json(self, cursor) -> None:
        """pydantic's verdict on each distinct JSON cell (checks.json_fields)."""
        for name, check in self.json.items():
            cursor.execute(f"TRUNCATE csv_json_{name}")
            cursor.execute(f"SELECT DISTINCT {name} FROM csv_raw WHERE {name} IS NOT NULL")
            cells = [cell for (cell,) in cursor.fetchall()]
            with cursor.copy(f"COPY csv_json_{name} (cell, value) FROM STDIN") as copy:
                for cell in cells:
                    value = check(cell)
                    if value is not None:
                        copy.write_row((cell, value))

    def _snapshot_customers_for_a_large_load(self, staged: _Staged) -> None:
        """Before the first chunk's checks (the writer has locked nothing yet): the
        customers' ids in csv_customers, when the file looks like a large load (the writer's
        rule, postgres.py: at least as many new orders as the table holds) into few
        customers."""
        if self.kind.name not in NAMES_CUSTOMER or not is_large_load(
                self.conn, self.kind.name, "csv_raw", storefront=self.storefront,
                file_size=self.reader.size, bytes_read=staged.bytes_read,
                least=SNAPSHOT_MIN_ROWS) or not few_customers(self.conn, self.batch_size):
            return
        self.conn.execute(f"CREATE TEMP TABLE csv_customers AS SELECT external_id, id "
                          f"FROM {Customer._meta.db_table}; ANALYZE csv_customers")
        self.knows_customers = True
        self.check_sql = self._check_sql()

    def _prepared(self, staged: _Staged) -> Prepared:
        if not self.tables:
            self._snapshot_customers_for_a_large_load(staged)
        table = self._new_table()
        with self.conn.cursor() as cursor:
            self._check_json(cursor)
            cursor.execute(self.check_sql.replace(CHECKED, table), self._params(staged))
            cursor.execute(
                f"SELECT r.n, {', '.join(f'r.{n}' for n in self.reader.header)} "
                f"FROM csv_raw r JOIN {table} c USING (n) WHERE NOT c.ok ORDER BY r.n")
            doubtful = cursor.fetchall()
        rejected_rows = len(staged.rejects)
        accepted: list[tuple[int, BaseModel]] = []
        for n, *cells in doubtful:
            line = staged.base + n
            model, rejects = self.reader.validate_cells(line, [c or "" for c in cells])
            if model is None:
                staged.rejects.extend(rejects)
                rejected_rows += 1
            else:
                accepted.append((n, model))
        if doubtful:
            self._replace_doubtful(table, accepted)
        prepared = Prepared(table, staged.rows - rejected_rows, staged.rows, rejected_rows,
                            staged.rejects, staged.bytes_read, staged.record_lines,
                            knows_customers=self.knows_customers, kind=self.kind.name,
                            names=self.names)
        if prepared.merged_by_the_checks:
            with self.conn.cursor() as cursor:
                prepared.merge_repeated_keys(cursor)
        return prepared

    def _params(self, staged: _Staged) -> dict[str, Any]:
        """The checks' parameters for the chunk: no flags (all 0) where vouch() did not run
        (the Python path, or a block whose lines it could not take apart)."""
        flags = staged.flags or bytes(self.layout.width * staged.last_n)
        return {**self.params, "flags": flags}

    def _new_table(self) -> str:
        """A table for the chunk's accepted rows, which the writer reads and drops: unlogged,
        so that the writer's connection sees it (a temporary table it would not)."""
        table = f"{HANDOVER_PREFIX}{self.conn.info.backend_pid}_{len(self.tables) + 1}"
        self.tables.append(table)
        self.conn.execute(f"CREATE UNLOGGED TABLE {table} ({self.checked_columns})")
        return table

    def _replace_doubtful(self, table: str, accepted: list[tuple[int, BaseModel]]) -> None:
        """The rows SQL could not vouch for leave; those pydantic accepted come back as
        pydantic read them."""
        with self.conn.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE NOT ok")
            with cursor.copy(f"COPY {table} (n, ok, {', '.join(self.names)}) FROM STDIN") \
                    as copy:
                for n, model in accepted:
                    copy.write_row((n, True, *_typed(model, self.names)))


def _typed(model: BaseModel, names: list[str]) -> list[Any]:
    """The model's values for the checked table: NULL for a field left out, JSON as text, times
    in UTC (PostgreSQL reads offsets up to 15:59 only; pydantic accepts up to 23:59)."""
    given = model.__pydantic_fields_set__
    values: list[Any] = []
    for name in names:
        value = getattr(model, name) if name in given else None
        if isinstance(value, dt.datetime):
            value = _utc(value)
        elif isinstance(value, dict | list):
            value = to_json(value).decode()
        values.append(value)
    return values


def _utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        return value

