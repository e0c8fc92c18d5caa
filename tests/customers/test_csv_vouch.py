"""What numpy vouches for in a block (customers/services/csv_import/vouch.py) against the SQL
checks themselves: a chunk checked with vouch()'s flags reads every row exactly as it reads
with no flags (every cell through the SQL patterns), and the cells of a plain export are
vouched for, so that the patterns are skipped for them."""

import csv
import io
import zoneinfo

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic import BaseModel

from customers.schemas import CustomerIn, OrderIn
from customers.services.csv_import import checks, rawcsv, vouch
from customers.services.csv_import.prepare import CHECKED, Preparer
from customers.services.csv_import.reading import KINDS, CsvReader

from .test_csv_checks import ODD, SETTINGS

pytestmark = pytest.mark.postgres

_SPACES = st.sampled_from([" ", "\t", "\u00a0", "\u0085", "\u1680", "\u2003", "\u2028",
                           "\u202f", "\u205f", "\u3000", "\x1c", "\x0b", "\u200b", "\ufeff"])
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r\n"),
                max_size=8)
_spaced = st.builds(lambda a, b, c: a + b + c, st.one_of(st.just(""), _SPACES), _text,
                    st.one_of(st.just(""), _SPACES))


@st.composite
def _iso(draw) -> str:
    """Dates and times in the shapes vouch() takes and their near misses: a digit, a
    separator or the length off; days a month lacks; the last hour, minute, second, offset."""
    year = draw(st.sampled_from(["2024", "2023", "1900", "2000", "2100", "1000", "9999", "0999",
                                 "20x4", "+024"]))
    month = draw(st.sampled_from(["01", "02", "04", "12", "13", "00", "1a", "2"]))
    day = draw(st.sampled_from(["01", "28", "29", "30", "31", "32", "00", "3"]))
    time = draw(st.sampled_from(["", "T10:00:00", " 23:59:59", "T24:00:00", "T23:60:00",
                                 "T10:59:60", "T10:00", "t10:00:00", "T10:00:00.5", "T1:00:00",
                                 "T10-00:00", "_10:00:00"]))
    zone = draw(st.sampled_from(["", "Z", "z", "+08:00", "-05:30", "+14:59", "+15:00",
                                 "-14:60", "+0800", "+08:0", " +08:00"]))
    cell = f"{year}-{month}-{day}{time}{zone}"
    return draw(st.one_of(st.just(cell), st.sampled_from(ODD), st.just(cell[:-1]),
                          st.just(cell + "0")))


@st.composite
def _email(draw) -> str:
    """Addresses in the shape vouch() takes and their near misses: a dot, hyphen or @ out
    of place, a short or numeric top-level domain, characters beyond the pattern's, the
    length at and past its limit."""
    local = draw(st.sampled_from(["a", "ada.king", "a+b", "o'neil", "x_y-z", ".a", "a.",
                                  "a..b", "a b", "\"a\"", "李", "A.B", "~{|}", "a@b", ""]))
    host = draw(st.sampled_from(["b.co", "shop.example.com", "b-c.io", "-b.co", "b-.co",
                                 "b.-c.co", "b..co", "b.c", "b.c0", "b.c-m", "b", ".b.co",
                                 "B.CO", "1.2.cn", "b_c.co", "b.co.", "xn--p1ai.xn--p1ai"]))
    cell = f"{local}@{host}"
    padded = "a" * max(0, 64 - len(cell)) + cell
    return draw(st.one_of(st.just(cell), st.just(padded), st.just("a" + padded),
                          st.just(cell.upper()), st.just(cell.replace("@", "")),
                          st.sampled_from(ODD)))


@st.composite
def _phone(draw) -> str:
    """Numbers in the shape vouch() takes and their near misses: the plus elsewhere or
    twice, a character beyond the class, the length at and past both limits."""
    body = draw(st.sampled_from(["138 0000 0000", "(21) 555-0100", "123", "12", "1" * 32,
                                 "1" * 33, "12.34", "12a4", "1\t2 3", "+1 234",
                                 "\uff11\uff12\uff13"]))  # full-width digits
    return draw(st.sampled_from([body, "+" + body, body + "+", "++" + body, "+", ""]))


@st.composite
def _tags(draw) -> str:
    """Lists of tags in the shape vouch() takes and their near misses: an empty part, a
    part with white space at an end or inside, wide characters that start like white space,
    and past the number of tags or the length of one."""
    part = st.sampled_from(["vip", "会员", "a-b_c", "x" * 64, "x" * 65, " vip", "vip ",
                            "v ip", "vip\u3000", "\u3000", "\u00a0", "「新」", "", "ä", "\x01"])
    parts = draw(st.lists(part, min_size=1, max_size=4))
    cell = "|".join(parts)
    return draw(st.sampled_from([cell, "|" + cell, cell + "|", cell.replace("|", "||"),
                                 "|".join(["t"] * 51), "|".join(["t"] * 50)]))


_cells = {
    CustomerIn: {"birthday": _iso(), "signup_at": _iso(), "email_consent_at": _iso(),
                 "name": _spaced, "city": _spaced, "email": st.one_of(_email(), _spaced),
                 "phone": st.one_of(_phone(), _spaced), "tags": _tags()},
    OrderIn: {"placed_at": _iso(), "coupon_code": _spaced, "customer": _spaced,
              "currency": _spaced},
}
_plain = {CustomerIn: {"external_id": "c1"},
          OrderIn: {"external_id": "o1", "customer": "c1", "amount": "10.00",
                    "placed_at": "2024-05-01 10:00:00"}}


@st.composite
def _rows(draw, model: type[BaseModel]) -> list[dict[str, str]]:
    out = []
    for _ in range(draw(st.integers(1, 12))):
        row = dict(_plain[model])
        for name, strategy in _cells[model].items():
            row[name] = draw(st.one_of(st.just(row.get(name, "")), strategy))
        out.append(row)
    return out


def _block(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(list(row.values()) for row in rows)
    return out.getvalue().encode()


def _checked(tmp_path, model, rows, flags: bytes | None, time_zone: str) -> list[tuple]:
    """(n, ok, values) of every row, the chunk checked with these flags (None: all 0)."""
    kind = next(k for k in KINDS.values() if k.model is model)
    path = tmp_path / "header.csv"
    path.write_text(",".join(rows[0]) + "\n")
    reader = CsvReader(path, kind)
    reader.context = {"tz": zoneinfo.ZoneInfo(time_zone)}
    preparer = Preparer(reader=reader, time_zone=time_zone, batch_size=100)
    try:
        block = rawcsv.Block(2, _block(rows), 0)
        assert preparer._copy_block(block) == len(rows)
        table = preparer._new_table()
        with preparer.conn.cursor() as cursor:
            preparer._check_json(cursor)
            given_flags = flags or bytes(preparer.layout.width * len(rows))
            cursor.execute(preparer.check_sql.replace(CHECKED, table),
                           {**preparer.params, "flags": given_flags})
            cursor.execute(f"SELECT * FROM {table} ORDER BY n")
            return cursor.fetchall()
    finally:
        reader.close()
        preparer.close()


def _flags(model, rows) -> bytes | None:
    """vouch()'s flags for the rows, the file's columns being the rows' keys."""
    typed = {c.name: c for c in checks.columns(model, checks.UTC)}
    scan = rawcsv.scan(_block(rows))
    return scan and vouch.vouch(scan, {name: vouch.kind(typed[name]) for name in rows[0]})


def _assert_flags_change_nothing(tmp_path, model, rows, time_zone="UTC"):
    data = _block(rows)
    assume(rawcsv.copyable(data))  # the import vouches for copyable blocks only
    flags = _flags(model, rows)
    assert flags is not None, "every line has its cells"
    with_flags = _checked(tmp_path, model, rows, flags, time_zone)
    without = _checked(tmp_path, model, rows, None, time_zone)
    for checked, plain, row in zip(with_flags, without, rows, strict=True):
        assert checked == plain, f"vouched for {row}: {checked} against the SQL's {plain}"


@SETTINGS
@given(rows=_rows(CustomerIn))
@example(rows=[{"external_id": "c1", "birthday": "2024-02-29", "signup_at": "2023-02-29T10:00:00",
                "email_consent_at": "2024-01-01T00:00:00+14:59", "name": "\u3000Ada",
                "city": "Shanghai\u00a0", "email": "a@b.co", "phone": "+86 1"}])
@example(rows=[{"external_id": f"c{n}", "email": email, "phone": phone}
               for n, (email, phone) in enumerate([
                   ("ada.king@shop.example.com", "+86 138 0000 0000"), ("a..b@b.co", "++123"),
                   ("a@b-.co", "12"), ("a@b.c0", "(21) 555-0100"), (".a@b.co", "+" + "1" * 33),
                   ("a" * 59 + "@b.co", "1" * 32), ("a" * 60 + "@b.co", "+" + "1" * 32)])])
@example(rows=[{"external_id": f"c{n}", "tags": tags} for n, tags in enumerate(
    ["vip|会员", "vip||x", "|vip", "vip|", "vip |x", "vip|\u3000x", "「新」|x" * 9])])
def test_vouched_customers_read_as_the_sql_reads_them(db, tmp_path, rows):
    _assert_flags_change_nothing(tmp_path, CustomerIn, rows)


@SETTINGS
@given(rows=_rows(OrderIn))
@example(rows=[{**_plain[OrderIn], "placed_at": placed_at}
               for placed_at in ("2024-03-10 02:30:00", "2024-11-03 01:30:00", "2024-02-29",
                                 "2024-07-01T12:00:00-04:00", "1883-11-18 12:00:00",
                                 "2024-01-01T24:00:00", "2024-01-01 23:60:00",
                                 "2024-01-01 23:59:60", "2024-01-01T10:00:00+15:00",
                                 "2024-01-01T10:00:00-14:60", "2100-02-29 10:00:00",
                                 "2000-02-29 10:00:00", "2024-04-31T10:00:00Z",
                                 "0999-12-31 10:00:00", "2024-00-10 10:00:00")])
def test_vouched_orders_read_as_the_sql_reads_them_in_a_zone_with_summer_time(db, tmp_path,
                                                                             rows):
    _assert_flags_change_nothing(tmp_path, OrderIn, rows, time_zone="America/New_York")


def test_the_cells_of_a_plain_export_are_vouched_for():
    rows = [{"external_id": f"c{n}", "birthday": "1990-02-28", "signup_at": signup_at,
             "name": "李娜", "city": "Shanghai, CN", "email": "a@b.co"}
            for n, signup_at in enumerate(["2024-01-15T09:30:00+08:00", "2024-01-15 09:30:00",
                                           "2024-01-15T01:30:00Z"])]

    flags = _flags(CustomerIn, rows)

    # birthday, signup_at, email, then the text cells' ends: a byte each, a line each
    assert list(flags) == [vouch.VOUCHED, vouch.AWARE, vouch.VOUCHED, vouch.VOUCHED,
                           vouch.VOUCHED, vouch.NAIVE, vouch.VOUCHED, vouch.VOUCHED,
                           vouch.VOUCHED, vouch.AWARE, vouch.VOUCHED, vouch.VOUCHED]


def _vouch(data: bytes, kinds: dict[str, str | None]) -> bytes | None:
    return vouch.vouch(rawcsv.scan(data), kinds)


def test_a_line_with_a_cell_too_many_is_not_vouched_for():
    kinds = {"external_id": vouch.TEXT, "placed_at": vouch.DATETIME}

    assert _vouch(b"o1,2024-01-01 10:00:00\no2,2024-01-01 10:00:00,x\n", kinds) is None
    assert _vouch(b"o1,2024-01-01 10:00:00\r\n", kinds) == bytes([vouch.NAIVE, 1])
    assert _vouch(b'"o,1",2024-01-01T10:00:00Z', kinds) == bytes([vouch.AWARE, 1])


def test_dates_and_times_numpy_leaves_to_the_sql():
    kinds = {"placed_at": vouch.DATETIME, "birthday": vouch.DATE}
    cells = ["2024-01-01T10:00,2024-02-30", "2024-01-01T10:00:00.5Z,2023-02-29",
             "2024-01-01,0999-12-31", '"2024-01-01 10:00:00 ",2024-1-01']

    flags = _vouch("\n".join(cells).encode(), kinds)

    assert list(flags) == [0, 0, 1] * 4


def test_addresses_and_numbers_numpy_vouches_for_and_those_it_leaves_to_the_sql():
    kinds = {"email": vouch.EMAIL, "phone": vouch.PHONE}
    lines = ["ada.king@shop.example.com,+86 138 0000 0000", "o'neil+tag@b-c.io,(21) 555-0100",
             "a..b@b.co,++123", "a@b-.co,12", "a@b.c0,1 2 3 4 a", ".a@b.co,+" + "1" * 33,
             "a" * 60 + "@b.co,", '"a@b.co ",+1 234']

    flags = _vouch("\n".join(lines).encode(), kinds)

    assert list(flags) == [1, 1, 1, 1, 1, 1] + [0, 0, 1] * 5 + [0, 1, 0]


def test_lists_of_tags_numpy_vouches_for_and_those_it_leaves_to_the_sql():
    kinds = {"external_id": vouch.TEXT, "tags": vouch.TAGS}
    lines = ["c1,vip|newsletter", "c2,会员|VIP", "c3,vip||x", "c4,|vip", "c5,vip|",
             "c6,vip |x", "c7,vip|\u3000x", "c8,「新」", "c9,",
             "c10," + "|".join(["x" * 63] * 4), "c11," + "|".join(["x" * 64] * 4)]

    flags = _vouch("\n".join(lines).encode(), kinds)

    assert list(flags)[::2] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]  # c11: 259 bytes
