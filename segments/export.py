"""Segment members as a CSV download: UTF-8 with a byte-order mark (so that spreadsheet
programs read Chinese names right), times in the shop's time zone with their offset, and
text cells that a spreadsheet would run as a formula made inert.

Names, emails and cities come from storefronts, and a cell such as `=HYPERLINK(...)` is run
by the spreadsheet that opens the file (CSV injection). Such cells get a leading apostrophe,
which spreadsheets show as text; phone numbers such as `+86 138 0013 8000` stay as they are.
"""

import csv
import datetime
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import timezone

ROWS_PER_PIECE = 1000  # rows joined into each piece of the streamed answer
_FORMULA_STARTS = ("=", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"[+-][\d\s().-]*")


def inert(text: str) -> str:
    """The text, or the text behind an apostrophe when a spreadsheet would run it."""
    if text.startswith(_FORMULA_STARTS) or (
            text[:1] in ("+", "-") and not _NUMBER_LIKE.fullmatch(text)):
        return "'" + text
    return text


def _cell(value: Any, zone: datetime.tzinfo) -> str:
    """One value as its cell; text is the common case, tested first (a million rows of
    thirteen cells each)."""
    if isinstance(value, str):
        return inert(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    return str(value)  # numbers: int, Decimal


def csv_pieces(header: Iterable[str], rows: Iterable[tuple]) -> Iterator[str]:
    """The file as pieces of ROWS_PER_PIECE rows each, the header (after the byte-order mark)
    first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    zone = timezone.get_current_timezone()
    buffer.write("\ufeff")
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_cell(value, zone) for value in row])
        if n % ROWS_PER_PIECE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
