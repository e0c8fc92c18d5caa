"""Cells a few vectorised scans of a copyable block (rawcsv.py) can vouch for, so that the
SQL checks (checks.py) skip their regular expressions for them.

PostgreSQL's regular expressions cost ~0.2 us a call and ~0.05 us more for every state of the
pattern a cell walks through: an ISO timestamp ~2.2 us, a date ~0.7 us, the white-space test
of a row's text cells ~0.9 us. numpy reads the same bytes in ~0.05 us a cell. For each line of
the block, `vouch()` gives a byte per date or time column (the cell has exactly the shape
the SQL pattern demands, its day exists: VOUCHED for a date, NAIVE or AWARE for a date and
time), one for each email address and phone number column (VOUCHED: the cell passes the
pattern of its validator's SQL twin, checks.VALIDATORS: ~0.8 us a cell each in PostgreSQL),
and one for the row's text cells (VOUCHED: none starts or ends with white space). The
SQL takes the cell's value straight where the byte says so, and runs its own checks where it
is 0, so a cell numpy does not vouch for is never worse off; tests/customers/test_csv_vouch.py holds
numpy's verdicts against the SQL's on random cells.
"""

import re
from dataclasses import dataclass

import numpy as np

from customers.schemas import _PHONE

from . import checks, rawcsv
from .checks import AWARE, EMAIL, NAIVE, PHONE, TAGS, VOUCHED

DATE, DATETIME, TEXT = "date", "datetime", "text"  # what a column holds, for vouch()
TEXTS = (TEXT, EMAIL, PHONE)  # the kinds whose cells are text (their ends checked)

_QUOTE, _COMMA, _LF, _CR = b'",\n\r'
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0], dtype=np.int32)
# White space as checks.WHITE_SPACE lists it, by code point (all below U+3001).
_WHITE_SPACE = np.zeros(0x3002, dtype=bool)  # index 0x3001: none above
_WHITE_SPACE[list(checks.WHITE_SPACE)] = True


def _bytes_in(characters: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(characters)] = True
    return table


# The classes of checks.EMAIL_PATTERN's bytes, as bits: the dot-atom's characters (without
# the dot), a host's (with it), letters, letters and digits, and the three separators.
_ATOM, _HOST, _ALPHA, _ALNUM, _DOT, _AT, _HYPHEN = (np.uint8(1 << n) for n in range(7))
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_EMAIL_CLASSES = (
    (_bytes_in(_LETTERS + b"0123456789-!#$%&'*+/=?^_`{}|~") * _ATOM)
    | (_bytes_in(_LETTERS + b"0123456789-.") * _HOST) | (_bytes_in(_LETTERS) * _ALPHA)
    | (_bytes_in(_LETTERS + b"0123456789") * _ALNUM) | (_bytes_in(b".") * _DOT)
    | (_bytes_in(b"@") * _AT) | (_bytes_in(b"-") * _HYPHEN)).astype(np.uint8)
# customers.schemas._PHONE, ^\+?[class]{m,n}$: the class as a table of the ASCII bytes in it
_PHONE_SHAPE = checks.simple_pattern(_PHONE.pattern)
_PHONE_PREFIX = ord(_PHONE_SHAPE.prefix)
_PHONE_CHARS = _bytes_in(bytes(b for b in range(128)
                               if re.fullmatch(f"[{_PHONE_SHAPE.chars}]", chr(b))))
# The bytes of a list of tags (`a|b|c`) vouched for: none of white space, and none that
# starts a white-space character above ASCII in UTF-8 (C2, E1, E2, E3: they also start some
# punctuation, symbols and kana, whose cells go to the SQL's pattern; CJK ideographs start
# with E4-E9).
_TAG_BYTES = np.ones(256, dtype=bool)
_TAG_BYTES[[chr(code).encode()[0] for code in checks.WHITE_SPACE]] = False
TAGS_MOST = 256  # bytes of a list of tags vouched for at most


@dataclass(frozen=True)
class Layout:
    """Which byte of a line's flags says what: `columns[name]` for a column of a FLAGGED
    kind (in file order), `ends` for the text cells; `width` bytes a line."""

    columns: dict[str, int]
    ends: int

    @property
    def width(self) -> int:
        return self.ends + 1


def kind(column: checks.Column) -> str | None:
    """What vouch() can say of the column's cells."""
    return {"date": DATE, "timestamptz": DATETIME}.get(column.sql_type) or column.shape or (
        TEXT if column.text else None)


def layout(kinds: dict[str, str | None]) -> Layout:
    """The flags of a file whose columns (in file order) hold `kinds`."""
    flagged = [name for name, kind in kinds.items() if kind in FLAGGED]
    return Layout({name: n for n, name in enumerate(flagged)}, len(flagged))


def vouch(scan: rawcsv.Scan, kinds: dict[str, str | None]) -> bytes | None:
    """The flags of every line of a copyable block (its rawcsv.Scan), with a cell per column
    of `kinds` on each line, `layout(kinds).width` bytes a line; None when the block holds
    another number of cells (COPY then refuses it anyway)."""
    buf = scan.padded
    bounds = _cells(scan, len(kinds))
    if bounds is None:
        return None
    starts, ends = bounds
    bytes_of = layout(kinds)
    flags = np.zeros((starts.shape[1], bytes_of.width), dtype=np.uint8)
    names = list(kinds)
    for name, byte in bytes_of.columns.items():
        n = names.index(name)
        check = _CHECKS[kinds[name]]
        flags[:, byte] = check(buf, *_unquoted(buf, starts[n], ends[n]))
    text = [n for n, kind in enumerate(kinds.values()) if kind in TEXTS]
    free = _ends_free(buf, *_unquoted(buf, starts[text], ends[text]))
    flags[:, bytes_of.ends] = free.all(axis=0) * VOUCHED
    return flags.tobytes()


def _cells(scan: rawcsv.Scan, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(starts, ends): the offsets in scan.padded of each cell, (width, lines) arrays (a
    column a row)."""
    buf, breaks = scan.padded, scan.breaks
    if buf[scan.size] == _LF:
        breaks = breaks[:-1]  # the added line break ends no line
    line_starts, line_ends = breaks[:-1] + 1, breaks[1:]
    lines = len(line_ends)
    # \r\n: copyable() lets a \r through only right before a \n.
    text_ends = line_ends - (buf[line_ends - 1] == _CR)
    commas = np.flatnonzero(buf[1:scan.size + 1] == _COMMA) + 1
    if len(scan.quotes):
        commas = commas[_outside_quotes(commas, scan.quotes)]
    if len(commas) != lines * (width - 1):
        return None
    starts = np.empty((width, lines), dtype=np.int64)
    ends = np.empty((width, lines), dtype=np.int64)
    starts[0], ends[-1] = line_starts, text_ends
    if width > 1:
        # As many commas as the lines need: a line has its share when its first comma and
        # its last one lie on it (the commas being in order).
        per_line = commas.reshape(lines, width - 1)
        if (per_line[:, 0] < line_starts).any() or (per_line[:, -1] > line_ends).any():
            return None
        ends[:-1] = per_line.T
        starts[1:] = ends[:-1] + 1
    return starts, ends


def _outside_quotes(commas: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    """Which commas follow an even number of quotes: each comma looked up among the quotes,
    or, where quotes are few, each quote among the commas (its gap between two commas),
    then the quotes per gap added up (5 ms instead of 11 ms for 50,000 lines of customers
    with a JSON cell on one in five)."""
    if 4 * len(quotes) >= len(commas):
        return (np.searchsorted(quotes, commas) & 1) == 0
    gaps = np.bincount(np.searchsorted(commas, quotes), minlength=len(commas) + 1)
    return (np.cumsum(gaps[:-1]) & 1) == 0


def _unquoted(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """The cells' bounds without the quotes of those quoted."""
    quoted = (ends - starts >= 2) & (buf[starts] == _QUOTE)
    return starts + quoted, ends - quoted


_SPAN = np.arange(25)


def _digits(buf: np.ndarray, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `length` bytes of each cell, and their values as digits (garbage where a
    byte is no digit: see the second array, whether it is)."""
    raw = buf[starts[:, None] + _SPAN[:length]].astype(np.int32)
    return raw, (raw >= 48) & (raw <= 57)


def _number(raw: np.ndarray, *positions: int) -> np.ndarray:
    value = np.zeros(raw.shape[0], dtype=np.int32)
    for position in positions:
        value = value * 10 + raw[:, position] - 48
    return value


def _date_at_start(raw: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD, a year from 1000 (DATE_PATTERN's), a day the month has."""
    year, month, day = _number(raw, 0, 1, 2, 3), _number(raw, 5, 6), _number(raw, 8, 9)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _DAYS[np.clip(month, 0, 15)] + (leap & (month == 2))
    return (digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & (raw[:, 4] == ord("-"))
            & (raw[:, 7] == ord("-")) & (year >= 1000) & (month >= 1) & (month <= 12)
            & (day >= 1) & (day <= days))


def _date(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    raw, digit = _digits(buf, starts, 10)
    return (ends - starts == 10) & _date_at_start(raw, digit)


def _datetime(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """NAIVE for YYYY-MM-DD[T ]HH:MM:SS, AWARE for that and Z or +HH:MM / -HH:MM (offsets up
    to 14:59, as DATETIME_PATTERN's), else 0: no seconds, fractions of a second or a date
    alone are left to the SQL."""
    raw, digit = _digits(buf, starts, 25)
    length = ends - starts
    hour, minute, second = _number(raw, 11, 12), _number(raw, 14, 15), _number(raw, 17, 18)
    at_seconds = (_date_at_start(raw, digit) & digit[:, [11, 12, 14, 15, 17, 18]].all(axis=1)
                  & ((raw[:, 10] == ord("T")) | (raw[:, 10] == ord(" ")))
                  & (raw[:, 13] == ord(":")) & (raw[:, 16] == ord(":"))
                  & (hour <= 23) & (minute <= 59) & (second <= 59))
    zulu = (length == 20) & (raw[:, 19] == ord("Z"))
    offset = ((length == 25) & ((raw[:, 19] == ord("+")) | (raw[:, 19] == ord("-")))
              & digit[:, [20, 21, 23, 24]].all(axis=1) & (raw[:, 22] == ord(":"))
              & (_number(raw, 20, 21) <= 14) & (_number(raw, 23, 24) <= 59))
    return np.where(at_seconds & (length == 19), NAIVE,
                    np.where(at_seconds & (zulu | offset), AWARE, 0)).astype(np.uint8)


def _ends_free(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether a cell neither starts nor ends with white space (an empty one does not), for
    arrays of cells: the first and last characters looked up, those beyond ASCII decoded
    from their UTF-8 bytes (COPY has checked the encoding) where there are any."""
    length = ends - starts
    first, last = buf[starts], buf[np.maximum(ends - 1, 0)]
    spaced = _WHITE_SPACE[first] | _WHITE_SPACE[last]
    wide = np.flatnonzero(((first | last) >= 0x80) & (length > 0))
    if len(wide):
        flat_starts, flat_ends = starts.reshape(-1)[wide], ends.reshape(-1)[wide]
        spaced.reshape(-1)[wide] = (_WHITE_SPACE[_first_char(buf, flat_starts)]
                                    | _WHITE_SPACE[_last_char(buf, flat_starts, flat_ends)])
    return (length == 0) | ~spaced


def _first_char(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The code point a cell starts with, 0x3001 (no white space) from four bytes up."""
    b0, b1, b2 = (buf[starts + k].astype(np.int32) for k in range(3))
    return np.where(b0 < 0x80, b0, np.where(
        (b0 & 0xE0) == 0xC0, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
        np.where((b0 & 0xF0) == 0xE0, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                 0x3001))).clip(0, 0x3001)


def _last_char(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The code point a cell ends with, 0x3001 (no white space) from four bytes up."""
    length = ends - starts
    b1, b2, b3 = (buf[np.maximum(ends - k, 0)].astype(np.int32) for k in (1, 2, 3))
    return np.where(b1 < 0x80, b1, np.where(
        (length >= 2) & ((b2 & 0xE0) == 0xC0), ((b2 & 0x1F) << 6) | (b1 & 0x3F),
        np.where((length >= 3) & ((b3 & 0xF0) == 0xE0),
                 ((b3 & 0x0F) << 12) | ((b2 & 0x3F) << 6) | (b1 & 0x3F), 0x3001))).clip(0, 0x3001)


def _window(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, inside, positions): the first max(lengths) bytes of each cell, whether each
    lies inside the cell, and their positions in it. (Rows of a sliding window over the
    block where they fit in it: 1.7 ms instead of 8 ms for 50,000 addresses.)"""
    width = int(lengths.max(initial=0))
    positions = np.arange(width)
    if len(starts) and int(starts.max()) + width <= len(buf):
        raw = np.lib.stride_tricks.sliding_window_view(buf, width)[starts]
    else:
        raw = buf[np.minimum(starts[:, None] + positions, len(buf) - 1)]
    return raw, positions < lengths[:, None], positions


def _email(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """VOUCHED for an address checks.EMAIL_PATTERN takes within checks.EMAIL_MAX characters:
    a dot-atom (no dot first, last or twice in a row), one @, then host labels of letters,
    digits and inner hyphens, the last one letters only and at least two. Else 0. Each
    byte's classes are looked up once, as bits (~24 ms for 50,000 addresses, against ~42 ms
    of PostgreSQL's pattern)."""
    lengths = ends - starts
    fits = (lengths >= 6) & (lengths <= checks.EMAIL_MAX)  # a@b.cd: 6
    flags = np.zeros(len(starts), dtype=np.uint8)
    if not fits.any():
        return flags
    rows = np.flatnonzero(fits)
    lengths = lengths[rows]
    raw, inside, positions = _window(buf, starts[rows], lengths)
    positions = positions.astype(np.int8)  # at most EMAIL_MAX
    classes = _EMAIL_CLASSES[raw] * inside  # nothing beyond the cell's end
    at, dot = (classes & _AT) > 0, (classes & _DOT) > 0
    one_at = at.sum(axis=1, dtype=np.int32) == 1
    where_at = at.argmax(axis=1).astype(np.int8)
    host = (positions > where_at[:, None]) & inside
    host_dots = dot & host
    last_dot = (raw.shape[1] - 1 - host_dots[:, ::-1].argmax(axis=1)).astype(np.int8)
    index = np.arange(len(rows))
    after_at = classes[index, np.minimum(where_at + 1, raw.shape[1] - 1)]
    tld = positions > last_dot[:, None]  # beyond the host's last dot (where there is one)
    left, right = classes[:, :-1], classes[:, 1:]
    ok = (one_at & host_dots.any(axis=1) & (lengths - 1 - last_dot >= 2)
          & ((classes[:, 0] & (_AT | _DOT)) == 0) & ((after_at & _ALNUM) > 0)
          # every byte of the cell an atom's, a dot or the @; of the host a host's; of the
          # top-level domain a letter
          & ~(inside & ((classes & (_ATOM | _DOT | _AT)) == 0)).any(axis=1)
          & ~(host & ((classes & _HOST) == 0)).any(axis=1)
          & ~(host & tld & ((classes & _ALPHA) == 0)).any(axis=1)
          # no "..", ".@" or "@.", nor "-." or ".-" in the host
          & ~(((left & _DOT) > 0) & ((right & (_DOT | _AT)) > 0)).any(axis=1)
          & ~(((left & _AT) > 0) & ((right & _DOT) > 0)).any(axis=1)
          & ~(host[:, 1:] & (((left & _HYPHEN) > 0) & ((right & _DOT) > 0)
                             | ((left & _DOT) > 0) & ((right & _HYPHEN) > 0))).any(axis=1))
    flags[rows] = ok * VOUCHED
    return flags


def _phone(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """VOUCHED for what customers.schemas._PHONE takes: an optional +, then 3 to 32 digits,
    spaces, hyphens and parentheses (as its pattern says). Else 0."""
    lengths = ends - starts
    plus = (lengths > 0) & (buf[starts] == _PHONE_PREFIX)
    least, most = _PHONE_SHAPE.least, _PHONE_SHAPE.most
    fits = (lengths - plus >= least) & (lengths - plus <= most)
    flags = np.zeros(len(starts), dtype=np.uint8)
    if not fits.any():
        return flags
    rows = np.flatnonzero(fits)
    raw, inside, positions = _window(buf, starts[rows], lengths[rows])
    body = inside & ~((positions == 0) & plus[rows][:, None])
    flags[rows] = ~(body & ~_PHONE_CHARS[raw]).any(axis=1) * VOUCHED
    return flags


def _tags(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """VOUCHED for a list of tags whose parts need no stripping and none is empty: no white
    space at all (_TAG_BYTES), no | first, last or twice in a row. Else 0, and for cells
    longer than TAGS_MOST bytes (the window is as wide as the longest cell)."""
    lengths = ends - starts
    flags = np.zeros(len(starts), dtype=np.uint8)
    rows = np.flatnonzero((lengths > 0) & (lengths <= TAGS_MOST))
    if not len(rows):
        return flags
    raw, inside, _positions = _window(buf, starts[rows], lengths[rows])
    bar = inside & (raw == ord("|"))
    last = raw[np.arange(len(rows)), lengths[rows] - 1]
    ok = (~(inside & ~_TAG_BYTES[raw]).any(axis=1) & (raw[:, 0] != ord("|"))
          & (last != ord("|")) & ~(bar[:, :-1] & bar[:, 1:]).any(axis=1))
    flags[rows] = ok * VOUCHED
    return flags


# The kinds of column with a byte of their own, and the check that gives it.
_CHECKS = {DATE: _date, DATETIME: _datetime, EMAIL: _email, PHONE: _phone, TAGS: _tags}
FLAGGED = tuple(_CHECKS)
