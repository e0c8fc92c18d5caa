"""The CSV file as bytes, in blocks of whole lines, for PostgreSQL's COPY ... (FORMAT csv).

PostgreSQL's CSV reader and Python's csv module (the import's reference: line numbers,
blank lines, cell counts) agree on files that follow RFC 4180. A block is sent to COPY as it
is only when a few scans at C speed show it is such a block: one record per line, no blank
line, quotes only around whole cells, one kind of line break, nothing PostgreSQL treats
specially (NUL, the end-of-data marker). Otherwise the rest of the file goes through Python's
csv module (reading.py), which is exact whatever the file holds, and slower.
"""

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

READ_SIZE = 8 * 1024 * 1024
_QUOTE, _COMMA, _LF, _CR, _BACKSLASH, _DOT = b'",\n\r\\.'  # as byte values
# A line that starts with either is blank (a \r only ever comes before a \n here).
_BLANK_LINE_STARTS = np.array([_LF, _CR], dtype=np.uint8)
_OPENS_AFTER = np.array([_COMMA, _LF, _QUOTE], dtype=np.uint8)
_CLOSES_BEFORE = np.array([_COMMA, _LF, _CR, _QUOTE], dtype=np.uint8)
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class Block:
    first_line: int  # the file's line number of the block's first line
    data: bytes
    end: int  # offset in the file just past the block

    @functools.cached_property
    def breaks(self) -> int:
        return self.data.count(b"\n")

    @property
    def lines(self) -> int:
        return self.breaks + (not self.data.endswith(b"\n"))


def offset_after_lines(file: BinaryIO, lines: int) -> int:
    """The offset just past the first `lines` lines, counting line breaks as Python does
    (\\r\\n, \\r or \\n); the end of the file if it has fewer."""
    file.seek(0)
    head, size = b"", 64 * 1024
    while True:
        more = file.read(size)
        size = READ_SIZE
        head += more
        breaks = list(_LINE_BREAK.finditer(head))
        # A \r at the end of what was read may be the first half of \r\n.
        complete = [m for m in breaks if m.end() < len(head) or not more or m.group() != b"\r"]
        if len(complete) >= lines:
            return complete[lines - 1].end() if lines else 0
        if not more:
            return len(head)


def blocks(file: BinaryIO, offset: int, first_line: int, size: int) -> Iterator[Block]:
    """Blocks of `size` lines from `offset` on (the last one shorter). A block never ends
    inside a quoted cell that holds a line break, as far as quote parity tells."""
    file.seek(offset)
    buffer, breaks, at_end = b"", 0, False  # breaks: the line breaks in the buffer
    while buffer or not at_end:
        while not at_end and breaks < size:
            more = file.read(READ_SIZE)
            at_end = not more
            buffer += more
            breaks += more.count(b"\n")
        cut = _cut(buffer, size) if breaks >= size else len(buffer)
        cut = _even_quotes(buffer, cut)
        block = Block(first_line, buffer[:cut], offset + cut)
        if not block.data:
            return
        yield block
        first_line += block.lines
        breaks -= block.breaks
        offset += cut
        buffer = buffer[cut:]


def _cut(buffer: bytes, lines: int) -> int:
    rest = buffer.split(b"\n", lines)[-1]
    return len(buffer) - len(rest)


def _even_quotes(buffer: bytes, cut: int) -> int:
    while buffer.count(b'"', 0, cut) % 2 and cut < len(buffer):
        following = buffer.find(b"\n", cut)
        cut = len(buffer) if following < 0 else following + 1
    return cut


@dataclass(frozen=True)
class Scan:
    """A copyable block as copyable() scanned it: `padded` is its bytes with a line break
    added at each end (byte i of the block at i + 1) and PAD zero bytes after, `breaks` and
    `quotes` the offsets of its line breaks (the two added ones included) and quotes."""

    padded: np.ndarray
    breaks: np.ndarray
    quotes: np.ndarray
    size: int  # the block's bytes


PAD = 32  # zero bytes after a Scan's padded bytes, so that reading past a cell is safe


def copyable(data: bytes) -> bool:
    """Whether COPY ... (FORMAT csv) reads `data` exactly as Python's csv module does, one
    record per line (scan() says how)."""
    return scan(data) is not None


def scan(data: bytes) -> Scan | None:
    """The block's Scan when COPY ... (FORMAT csv) reads it exactly as Python's csv module
    does, one record per line; else None. A few vectorised scans (numpy) of the block with a
    line break added at each end, so that every byte has neighbours: ~12 ms for 50,000 lines
    of orders, where Python's byte scans and a regular expression took 51 ms
    (bench/README.md, CSV import)."""
    padded = np.frombuffer(b"\n" + data + b"\n" + bytes(PAD), dtype=np.uint8)
    last = len(data)  # the block's last byte in `padded`
    block = padded[:last + 2]
    if not block.all():  # a NUL
        return None
    if (padded[np.flatnonzero(block == _BACKSLASH) + 1] == _DOT).any():
        return None  # PostgreSQL's end-of-data marker
    breaks = np.flatnonzero(block == _LF)  # the two added ones included
    returns = np.flatnonzero(block == _CR)
    if len(returns) and (returns[-1] == last or (padded[returns + 1] != _LF).any()
                         or len(returns) != len(breaks) - 2):
        return None  # a lone \r, or \r\n and \n mixed
    line_starts = breaks[breaks < last]  # a line starts after each (the block's first too)
    if np.isin(padded[line_starts + 1], _BLANK_LINE_STARTS).any():
        return None  # a blank line: Python skips it, COPY would not
    quotes = np.flatnonzero(block == _QUOTE)
    if len(quotes) and not _quotes_round_whole_cells(padded, quotes, breaks):
        return None
    return Scan(padded, breaks, quotes, last)


def _quotes_round_whole_cells(padded: np.ndarray, quotes: np.ndarray,
                              breaks: np.ndarray) -> bool:
    """Every quote opens or closes a quoted cell (PostgreSQL would start a quoted part at a
    quote inside an unquoted cell, where Python keeps the quote), and no quoted cell holds a
    line break (so that a line is a record). Quotes pair up in order, the first of each pair
    opening and the second closing: an opening quote stands at the start of a cell or right
    after a closing one (a doubled quote inside the cell), a closing quote at the end of a
    cell (before a comma or a line break, \r\n being the only \r copyable() lets through) or
    right before an opening one, and a line break lies between pairs."""
    if len(quotes) % 2:
        return False
    opening, closing = quotes[0::2], quotes[1::2]
    return bool(
        np.isin(padded[opening - 1], _OPENS_AFTER).all()
        and np.isin(padded[closing + 1], _CLOSES_BEFORE).all()
        and not (np.searchsorted(quotes, breaks) % 2).any())
