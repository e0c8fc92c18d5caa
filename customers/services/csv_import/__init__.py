"""CSV import of customers, orders and events (`python manage.py import_csv`).

The file is streamed in chunks. Each chunk's rows are validated by the API's pydantic models;
rejected rows are set aside with their line numbers and reasons, and the valid ones are written
in one transaction per chunk (all or nothing): through COPY and set-based SQL on PostgreSQL,
through the API's ingest services elsewhere. Importing the same file again changes nothing.
"""

import csv
import queue
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import DataError, IntegrityError, connection, transaction

from customers.models import Storefront

from .counts import Counts
from .reading import KINDS, Chunk, CsvImportError, CsvReader, Kind, Reject

__all__ = ["KINDS", "CsvImportError", "ImportReport", "Reject", "csv_import"]

DEFAULT_STOREFRONT = "csv-import"
DEFAULT_BATCH_SIZE = 10_000
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

    def add(self, chunk: Chunk, counts: Counts) -> None:
        self.rows += chunk.size
        self.created += counts.created
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.rejected += chunk.rejected_rows
        room = REJECTS_KEPT - len(self.rejects)
        self.rejects.extend(chunk.rejects[:max(room, 0)])


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


def _loader(kind: Kind, storefront: Storefront):
    if connection.vendor == "postgresql":
        from .postgres import PostgresLoader

        return PostgresLoader(kind=kind.name, storefront=storefront)
    from .batched import BatchedLoader

    return BatchedLoader(kind=kind.name, storefront=storefront)


def _prepared(chunks: Iterator[Chunk], loader) -> Iterator[Chunk]:
    for chunk in chunks:
        chunk.prepared = loader.prepare(chunk.rows)
        yield chunk


class _ReadAhead:
    """Iterates `source` in a thread, a few items ahead of the consumer: the file is parsed
    and validated while the database writes the previous chunk (psycopg and sqlite3 release
    the GIL while they wait). Exceptions reach the consumer in order."""

    _DONE = object()

    def __init__(self, source: Iterator[Any], depth: int = 2):
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True,
                                       name="csv-import-read-ahead")

    def _run(self, source: Iterator[Any]) -> None:
        try:
            for item in source:
                if not self._put(item):
                    return
            self._put(self._DONE)
        except Exception as exc:  # handed to the consumer, who raises it
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def __iter__(self) -> Iterator[Any]:
        self.thread.start()
        while (item := self.queue.get()) is not self._DONE:
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


def _write(loader, chunk: Chunk) -> Counts:
    """One chunk, all or nothing. Should the database refuse it (a constraint spanning the
    stored row, such as a refund larger than the stored amount), its rows are rejected."""
    if not chunk.rows:
        return Counts(0, 0, 0)
    try:
        with transaction.atomic():
            return loader.load(chunk.prepared)
    except (IntegrityError, DataError) as exc:
        reason = f"the database refused this chunk: {str(exc).splitlines()[0]}"
        chunk.rejects.extend(Reject(line, "", reason) for line, _model in chunk.rows)
        chunk.rejected_rows += len(chunk.rows)
        chunk.rows = []
        return Counts(0, 0, 0)


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
    writing anything when the file is missing or its header is unusable. `progress` is called
    with the number of bytes read so far."""
    spec = KINDS[kind]
    reader = CsvReader(Path(path), spec)  # checks the header before anything is written
    storefront, _created = Storefront.objects.get_or_create(name=storefront_name)
    # Naive timestamps in the file are in the storefront's time zone, as in the API.
    reader.context = {"tz": zoneinfo.ZoneInfo(storefront.time_zone)}
    report = ImportReport(kind=kind, storefront=storefront.name)
    rejects = _RejectsFile(rejects_path)
    loader = _loader(spec, storefront)
    started = time.monotonic()
    ahead = _ReadAhead(_prepared(reader.chunks(batch_size), loader))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    try:
        for chunk in ahead:
            report.add(chunk, _write(loader, chunk))
            rejects.write(chunk.rejects)
            if progress:
                progress(chunk.bytes_read)
    finally:
        sys.setswitchinterval(interval)
        ahead.close()
        reader.close()
        rejects.close()
    report.seconds = time.monotonic() - started
    report.rejects_path = rejects.path if report.rejected else None
    return report
