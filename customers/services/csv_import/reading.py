"""Python's reading of a CSV file: streamed into rows validated by the API's own pydantic
models (customers.schemas), chunk by chunk, never the whole file at once. On SQLite it reads
the whole import; on PostgreSQL the header, the rows the SQL checks doubt, and the files COPY
cannot take as they are (rawcsv.py).

What is CSV-specific is only how a cell becomes a value: an empty cell leaves the field out,
`tags` are `a|b|c`, JSON fields hold JSON text.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ValidationError

from customers.schemas import CustomerIn, EventIn, NulInJson, OrderIn, error_list, read_json

# csv's default limit (128 KiB a cell) would stop the import at a large `items` cell.
csv.field_size_limit(16 * 1024 * 1024)


class CsvImportError(Exception):
    """The file cannot be imported at all (missing, unreadable, wrong columns)."""


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[BaseModel]
    key: str  # what makes two rows the same record
    json_columns: frozenset[str] = frozenset()
    list_columns: frozenset[str] = frozenset()

    @property
    def columns(self) -> list[str]:
        return list(self.model.model_fields)

    @property
    def required(self) -> list[str]:
        return [name for name, info in self.model.model_fields.items() if info.is_required()]


KINDS = {
    "customers": Kind("customers", CustomerIn, "external_id", frozenset({"attributes"}),
                      frozenset({"tags"})),
    "orders": Kind("orders", OrderIn, "external_id", frozenset({"items"})),
    "events": Kind("events", EventIn, "event_id", frozenset({"properties"})),
}


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    field: str
    reason: str


@dataclass
class Chunk:
    """Valid rows as (line, model) pairs, in file order, and the rejects among them."""

    rows: list[tuple[int, BaseModel]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    rejected_rows: int = 0
    bytes_read: int = 0
    prepared: Any = None  # the valid rows made ready for the database by the loader

    @property
    def size(self) -> int:
        return len(self.rows) + self.rejected_rows


class _Records:
    """(line where the record starts, cells) of a UTF-8 CSV stream; a quoted cell may span
    several lines, blank lines are skipped."""

    def __init__(self, path: Path, binary: BinaryIO, first_line: int, encoding: str):
        self.path, self.binary, self.first_line = path, binary, first_line
        self.text = io.TextIOWrapper(binary, encoding=encoding, newline="")
        self.reader = csv.reader(self.text)

    @property
    def line_num(self) -> int:
        return self.first_line - 1 + self.reader.line_num

    def next_record(self) -> list[str] | None:
        try:
            return next(self.reader, None)
        except UnicodeDecodeError as exc:
            raise CsvImportError(f"{self.path}: not UTF-8 text near line "
                                 f"{self.line_num + 1} ({exc.reason})") from exc
        except csv.Error as exc:
            raise CsvImportError(f"{self.path}: line {self.line_num}: {exc}") from exc

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        line = self.line_num + 1
        while (cells := self.next_record()) is not None:
            if cells:  # csv yields [] for a blank line
                yield line, cells
            line = self.line_num + 1

    def close(self) -> None:
        self.text.close()


def records_from(path: Path, offset: int, first_line: int) -> _Records:
    """The records of FILE from byte `offset` on, which starts line `first_line`."""
    binary = path.open("rb")
    binary.seek(offset)
    return _Records(path, binary, first_line, "utf-8")


class CsvReader:
    """Reads FILE as UTF-8 (a byte-order mark is fine) and yields validated chunks.

    Raises CsvImportError before reading any data row when the header names an unknown column,
    repeats one or lacks a required one."""

    def __init__(self, path: Path, kind: Kind):
        self.path, self.kind = path, kind
        self.context: dict[str, Any] = {}  # pydantic's validation context ({"tz": ...})
        try:
            self.binary = path.open("rb")
            self.size = path.stat().st_size
        except OSError as exc:
            raise CsvImportError(f"{path}: {exc.strerror or exc}") from exc
        self.records = _Records(path, self.binary, 1, "utf-8-sig")
        try:
            self.header = self._header()
        except CsvImportError:
            self.close()
            raise
        self.header_lines = self.records.line_num
        self.json_columns = [name for name in self.header if name in kind.json_columns]
        self.list_columns = [name for name in self.header if name in kind.list_columns]
        self.validate = kind.model.__pydantic_validator__.validate_python

    def close(self) -> None:
        self.records.close()

    def _header(self) -> list[str]:
        row = self.records.next_record()
        if row is None:
            raise CsvImportError(f"{self.path}: the file is empty; the first line must name "
                                 f"the columns ({', '.join(self.kind.required)} at least)")
        header = [cell.strip() for cell in row]
        known = set(self.kind.columns)
        unknown = [name for name in header if name not in known]
        if unknown:
            raise CsvImportError(
                f"{self.path}: unknown column {unknown[0]!r} in the header (line 1). "
                f"Columns for {self.kind.name}: {', '.join(self.kind.columns)}")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise CsvImportError(f"{self.path}: column {repeated[0]!r} appears twice in the "
                                 "header (line 1)")
        missing = [name for name in self.kind.required if name not in header]
        if missing:
            raise CsvImportError(f"{self.path}: required column {missing[0]!r} is missing "
                                 f"from the header (line 1); {self.kind.name} need "
                                 f"{', '.join(self.kind.required)}")
        return header

    def chunks(self, size: int) -> Iterator[Chunk]:
        chunk = Chunk()
        for line, cells in self.records:
            self._add(chunk, line, cells)
            if chunk.size >= size:
                chunk.bytes_read = self.binary.tell()
                yield chunk
                chunk = Chunk()
        if chunk.size:
            chunk.bytes_read = self.size
            yield chunk

    def _add(self, chunk: Chunk, line: int, cells: list[str]) -> None:
        model, rejects = self.validate_cells(line, cells)
        if model is None:
            chunk.rejects.extend(rejects)
            chunk.rejected_rows += 1
        else:
            chunk.rows.append((line, model))

    def validate_cells(self, line: int, cells: list[str]) -> tuple[BaseModel | None,
                                                                    list[Reject]]:
        """The record's model, or None and why not."""
        try:
            return self.validate(self.values(cells), context=self.context), []
        except CellError as exc:
            return None, [Reject(line, exc.column, exc.reason)]
        except ValidationError as exc:
            return None, [Reject(line, e["field"], e["message"]) for e in error_list(exc)]

    def values(self, cells: list[str]) -> dict[str, Any]:
        """The record as the model's input; raises CellError for a bad cell."""
        if len(cells) != len(self.header):
            raise CellError("", cell_count_reason(len(cells), len(self.header)))
        if column := nul_column(self.header, cells):
            raise CellError(column, NUL_REASON)
        # An empty (or blank) cell leaves the field out: the stored value or the default.
        values: dict[str, Any] = {
            name: cell for name, cell in zip(self.header, cells, strict=True)
            if cell and not cell.isspace()
        }
        for name in self.json_columns:
            if name in values:
                values[name] = _json_cell(name, values[name])
        for name in self.list_columns:
            if name in values:
                values[name] = [part.strip() for part in values[name].split("|") if part.strip()]
        if self.kind.name == "events" and "event_id" not in values:
            values["event_id"] = derived_event_id(values)
        return values


def cell_count_reason(cells: int, columns: int) -> str:
    return f"has {cells} cells but the header has {columns} columns"


NUL_REASON = "must not contain the NUL character (\\u0000)"


def nul_column(header: list[str], cells: list[str]) -> str | None:
    """The first column whose cell holds a NUL character, which no PostgreSQL text can."""
    return next((name for name, cell in zip(header, cells, strict=True) if "\x00" in cell),
                None)


class CellError(Exception):
    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column, self.reason = column, reason


def _json_cell(column: str, text: str) -> Any:
    try:
        return read_json(text)  # 3x faster than json.loads
    except NulInJson:
        raise CellError(column, NUL_REASON) from None
    except ValueError as exc:
        raise CellError(column, f"is not valid JSON ({exc})") from exc


def derived_event_id(values: dict[str, Any]) -> str:
    """An event id for a row without one, from what the row says, so that importing the same
    file again records nothing new. Identical rows (same customer, name, time and properties)
    are one event."""
    parts = [values.get(name, "") for name in ("customer", "name", "occurred_at")]
    parts.append(json.dumps(values.get("properties", {}), sort_keys=True))
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16)
    return f"csv-{digest.hexdigest()}"
