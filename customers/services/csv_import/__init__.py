"""CSV import of customers, orders and events (`python manage.py import_csv`).

The file is streamed in chunks; rejected rows are set aside with their line numbers and reasons
and the others are written. Importing the same file again changes nothing.

On PostgreSQL the file's bytes go to COPY as they are and the cells are checked set-based by
SQL twins of the API's pydantic models, which still judge every row the SQL cannot vouch for
(prepare.py, on a connection of its own); the accepted rows are written with set-based SQL
(postgres.py), the whole import in one transaction. Elsewhere (SQLite) every row is validated
by the pydantic models and written through the API's ingest services, one transaction per
chunk.
"""

import csv
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DataError, IntegrityError, connection, transaction

from customers.models import Storefront

from .batched import BatchedLoader
from .counts import Counts
from .postgres import PostgresWriter
from .prepare import Prepared, Preparer
from .readahead import ReadAhead
from .reading import KINDS, Chunk, CsvImportError, CsvReader, Reject

__all__ = ["KINDS", "CsvImportError", "ImportReport", "Reject", "csv_import"]

DEFAULT_STOREFRONT = "csv-import"
# Rows per chunk. On PostgreSQL a chunk costs a dozen statements on two connections and, for
# orders and events, a read of the customers: 10,000 ran slower; 50,000 and 100,000 alike,
# 50,000 overlapping the two connections better on small files (bench/import_csv.py).
DEFAULT_BATCH_SIZE = 50_000
REJECTS_KEPT = 50  # rejects kept in the report for printing; the file gets all of them
# While the read-ahead thread validates, the writing thread gets the GIL back only when the
# interval (5 ms by default) runs out: up to 5 ms lost after each of the few statements per
# chunk, while the database waits. 1 ms made small bench/import_csv.py runs 10-40% faster.
SWITCH_INTERVAL = 0.001


@dataclass
class ImportReport:
    kind: str
    storefront: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)  # the first REJECTS_KEPT
    rejects_path: Path | None = None  # where every reject went, when there were any
    seconds: float = 0.0

    def add(self, rows: int, rejected_rows: int, rejects: list[Reject], counts: Counts) -> None:
        self.rows += rows
        self.created += counts.created
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.rejected += rejected_rows
        room = REJECTS_KEPT - len(self.rejects)
        self.rejects.extend(rejects[:max(room, 0)])


class _RejectsFile:
    """line, field, reason per rejected cell; created on the first reject only."""

    def __init__(self, path: Path | None):
        self.path, self.file, self.writer = path, None, None

    def write(self, rejects: list[Reject]) -> None:
        if not rejects or self.path is None:
            return
        if self.writer is None:
            self.file = self.path.open("w", encoding="utf-8", newline="")
            self.writer = csv.writer(self.file)
            self.writer.writerow(["line", "field", "reason"])
        self.writer.writerows((r.line, r.field, r.reason) for r in rejects)

    def close(self) -> None:
        if self.file:
            self.file.close()


def _prepared(chunks: Iterator[Chunk], loader: BatchedLoader) -> Iterator[Chunk]:
    for chunk in chunks:
        chunk.prepared = loader.prepare(chunk.rows)
        yield chunk


def _refused(exc: Exception) -> str:
    return f"the database refused this chunk: {str(exc).splitlines()[0]}"


def _write_batched(loader: BatchedLoader, chunk: Chunk) -> Counts:
    """One chunk, all or nothing. Should the database refuse it (a constraint spanning the
    stored row, such as a refund larger than the stored amount), its rows are rejected."""
    if not chunk.rows:
        return Counts(0, 0, 0)
    try:
        with transaction.atomic():
            return loader.load(chunk.prepared)
    except (IntegrityError, DataError) as exc:
        chunk.rejects.extend(Reject(line, "", _refused(exc)) for line, _model in chunk.rows)
        chunk.rejected_rows += len(chunk.rows)
        chunk.rows = []
        return Counts(0, 0, 0)


def _write_postgres(writer: PostgresWriter, chunk: Prepared) -> Counts:
    """As _write_batched, the chunk being a savepoint of the import's transaction."""
    try:
        return writer.write(chunk)
    except (IntegrityError, DataError) as exc:
        lines = chunk.accepted_lines()
        chunk.rejects.extend(Reject(line, "", _refused(exc)) for line in lines)
        chunk.rejects.sort(key=lambda reject: reject.line)
        chunk.rejected_rows += chunk.accepted
        return Counts(0, 0, 0)


class _Run:
    """What an import reports as it goes: the report, the rejects file, the progress."""

    def __init__(self, report: ImportReport, rejects: _RejectsFile,
                 progress: Callable[[int], object] | None):
        self.report, self.rejects_file, self.progress = report, rejects, progress

    def add(self, rows: int, rejected_rows: int, rejects: list[Reject], counts: Counts,
            bytes_read: int) -> None:
        self.report.add(rows, rejected_rows, rejects, counts)
        self.rejects_file.write(rejects)
        if self.progress:
            self.progress(bytes_read)


def _import_postgres(reader: CsvReader, storefront: Storefront, batch_size: int,
                     run: _Run) -> None:
    preparer = Preparer(reader=reader, time_zone=storefront.time_zone, batch_size=batch_size,
                        storefront=storefront.pk)
    writer = PostgresWriter(kind=reader.kind.name, storefront=storefront, file_size=reader.size)
    ahead = ReadAhead(preparer.chunks())
    try:
        with transaction.atomic():
            writer.begin(batch_size)
            for chunk in ahead:
                counts = _write_postgres(writer, chunk)
                run.add(chunk.rows, chunk.rejected_rows, chunk.rejects, counts, chunk.bytes_read)
            writer.finish()
    finally:
        ahead.close()
        preparer.close()


def _import_batched(reader: CsvReader, storefront: Storefront, batch_size: int,
                    run: _Run) -> None:
    loader = BatchedLoader(kind=reader.kind.name, storefront=storefront)
    ahead = ReadAhead(_prepared(reader.chunks(batch_size), loader))
    try:
        for chunk in ahead:
            counts = _write_batched(loader, chunk)
            run.add(chunk.size, chunk.rejected_rows, chunk.rejects, counts, chunk.bytes_read)
    finally:
        ahead.close()


def csv_import(
    *,
    kind: str,
    path: Path,
    storefront_name: str = DEFAULT_STOREFRONT,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rejects_path: Path | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import a CSV file of `kind` (customers, orders, events). Raises CsvImportError before
    writing anything when the file is missing or its header is unusable, and, on PostgreSQL,
    having written nothing when the file turns out not to be UTF-8 text further on.
    `progress` is called with the number of bytes read so far."""
    reader = CsvReader(Path(path), KINDS[kind])  # checks the header before anything is written
    storefront, _created = Storefront.objects.get_or_create(name=storefront_name)
    # Naive timestamps in the file are in the storefront's time zone, as in the API.
    reader.context = {"tz": zoneinfo.ZoneInfo(storefront.time_zone)}
    report = ImportReport(kind=kind, storefront=storefront.name)
    rejects = _RejectsFile(rejects_path)
    run = _Run(report, rejects, progress)
    started = time.monotonic()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    try:
        if connection.vendor == "postgresql":
            _import_postgres(reader, storefront, batch_size, run)
        else:
            _import_batched(reader, storefront, batch_size, run)
    finally:
        sys.setswitchinterval(interval)
        reader.close()
        rejects.close()
    report.seconds = time.monotonic() - started
    report.rejects_path = rejects.path if report.rejected else None
    return report
