"""The CSV file as bytes, in blocks of whole lines, for PostgreSQL's COPY ... (FORMAT csv).

PostgreSQL's CSV reader and Python's csv module (the import's reference: line numbers,
blank lines, cell counts) agree on files that follow RFC 4180. A block is sent to COPY as it
is only when a few scans at C speed show it is such a block: one record per line, no blank
line, quotes only around whole cells, one kind of line break, nothing PostgreSQL treats
specially (NUL, the end-of-data marker). Otherwise the rest of the file goes through Python's
csv module (reading.py), which is exact whatever the file holds, and slower.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

READ_SIZE = 8 * 1024 * 1024
# A quoted cell: doubled quotes inside, anything else (line breaks too) between.
_QUOTED = re.compile(rb'"(?:[^"]++|"")*+"')
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class Block:
    first_line: int  # the file's line number of the block's first line
    data: bytes
    end: int  # offset in the file just past the block

    @property
    def lines(self) -> int:
        return self.data.count(b"\n") + (not self.data.endswith(b"\n"))


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
    buffer, at_end = b"", False
    while buffer or not at_end:
        while not at_end and buffer.count(b"\n") < size:
            more = file.read(READ_SIZE)
            at_end = not more
            buffer += more
        cut = _cut(buffer, size) if buffer.count(b"\n") >= size else len(buffer)
        cut = _even_quotes(buffer, cut)
        block = Block(first_line, buffer[:cut], offset + cut)
        if not block.data:
            return
        yield block
        first_line += block.lines
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


def copyable(data: bytes) -> bool:
    """Whether COPY ... (FORMAT csv) reads `data` exactly as Python's csv module does, one
    record per line."""
    if b"\0" in data or b"\\." in data:  # NUL; PostgreSQL's end-of-data marker
        return False
    crlf = data.count(b"\r\n")
    if data.count(b"\r") != crlf or crlf not in (0, data.count(b"\n")):  # lone or mixed \r
        return False
    if data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data:
        return False  # a blank line: Python skips it, COPY would not
    return b'"' not in data or _quotes_round_whole_cells(data)


def _quotes_round_whole_cells(data: bytes) -> bool:
    """Every quote opens or closes a quoted cell (PostgreSQL would start a quoted part at a
    quote inside an unquoted cell, where Python keeps the quote), and no quoted cell holds a
    line break (so that a line is a record)."""
    rest = _QUOTED.sub(b"\0", data)
    cells = rest.count(b"\0")
    opened = rest.count(b",\0") + rest.count(b"\n\0") + rest.startswith(b"\0")
    closed = (rest.count(b"\0,") + rest.count(b"\0\n") + rest.count(b"\0\r\n")
              + rest.endswith(b"\0"))
    return (b'"' not in rest and opened == cells == closed
            and rest.count(b"\n") == data.count(b"\n"))
