"""The SQL twins of the input models (customers/services/csv_import/checks.py) against the
models themselves: wherever the SQL vouches for a row, pydantic accepts it and reads every cell
to the same value. (The SQL may doubt rows pydantic accepts; those go to pydantic.)"""

import csv
import datetime as dt
import json
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_validator

from customers.schemas import CustomerIn, EventIn, OrderIn
from customers.services.csv_import import checks
from customers.services.csv_import.prepare import CHECKED, Preparer
from customers.services.csv_import.reading import KINDS, CsvReader

pytestmark = pytest.mark.postgres

# Cells a storefront's export may hold, good and bad, for every kind of field.
ODD = [
    "", " ", "\t", "\u00a0", "\u3000x", "x ", " x", "x\n", "\x1cx", "\uff11\uff12", "-0", "0", "00",
    "1e5", "1E-2", "NaN", "Infinity", "+1", ".5", "5.", "1_000", "12,50", "-5", "1.005",
    "999999999999.99", "9999999999999", "0000000000000.5", "1.500", "120.50",
    "2024-02-29", "2023-02-29", "2024-02-30", "2024-13-01", "2024-1-01", "0000-01-01",
    "0999-12-31", "1899-12-31", "1900-01-01", "2024-01-01T00:00:00Z", "2024-01-01 10:00:00",
    "2024-01-01T10:00", "2024-01-01T10:00:00.1234567Z", "2024-01-01T10:00:00.123456+08:00",
    "2024-01-01T00:00:00+14:59", "2024-01-01T00:00:00+15:00", "2024-01-01T00:00:00+23:59",
    "2024-01-01T24:00:00", "2024-01-01T23:59:60", "2024-01-01t10:00:00z", "20240101",
    "1700000000", "2999-01-01T00:00:00Z", "2024-03-10 02:30:00", "2024-11-03 01:30:00",
    "1850-06-01 12:00:00", "yes", "No", "TRUE", "t", "f", "2", "on", "\uff39\uff25\uff33",
    "a@b.co", "Ada@Example.COM", "a@b", "a..b@c.de", ".a@b.co", "x@-a.com", "x@a-.com",
    "x@a.c0m", "user+tag@sub.example.org", "a@b.co ", "é@b.co", "a@" + "b" * 70 + ".com",
    "Asia/Shanghai", "asia/shanghai", "UTC", "Etc/GMT+5", "Mars/Base",
    "+86 138 0000 0001", "++1", "(0) 1-2", "12", "1" * 33, "+" + "1" * 32,
    "female", "Female", "other", "paid", "PAID", "refunded", "cny", "CN", "C1Y", "usd",
    "visit", "cart:add", "a b", "x" * 64, "x" * 65, "x" * 200, "x" * 201, "李娜",
    "vip|new", "|vip", "vip||x", "vip|", " vip", "vip | x", "a" * 65, "|".join("t" * 51),
    '{"a": 1}', '{"a": 1e5}', '{"a": -0.0}', "[1]", '{"a": "\\u0000"}', "{", "{}",
    '{"tier": "gold", "n": [1, {"x": null}]}', '[{"sku": "A", "quantity": 2}]',
    '[{"sku": " A"}]', '[{"sku": "A", "price": 49.90}]', '[{"sku": "A", "extra": 1}]', "[]",
]


_any_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                    max_size=12)  # what a UTF-8 file can hold, but NUL


def _text(draw_cell: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ODD), draw_cell, _any_text)


_datetimes = st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(2100, 1, 1)).map(
    lambda d: d.isoformat(sep=" "))
_cells = {
    CustomerIn: {"email": st.emails().map(str), "birthday": st.dates().map(str),
                 "signup_at": _datetimes},
    OrderIn: {"amount": st.decimals(0, 10**13, places=2).map(str), "placed_at": _datetimes},
    EventIn: {"occurred_at": _datetimes},
}


@st.composite
def rows(draw, model: type[BaseModel]) -> list[dict[str, str]]:
    """Rows of cells: each field a good cell of its own, or an odd one."""
    good = {"external_id": "x1", "customer": "c1", "amount": "10.00", "name": "visit",
            "placed_at": "2024-05-01T10:00:00Z"}
    extra = _cells[model]
    out = []
    for _ in range(draw(st.integers(1, 12))):
        row = {}
        for name in model.model_fields:
            strategy = _text(extra.get(name, _any_text))
            base = good.get(name, "")
            row[name] = draw(st.one_of(st.just(base), strategy))
        out.append(row)
    return out


def _sql_verdicts(tmp_path: Path, model: type[BaseModel], batch: list[dict[str, str]],
                  time_zone: str) -> list[tuple[bool, dict[str, Any]]]:
    """(SQL vouches for the row, its values) for each row, as the import computes them."""
    kind = next(k for k in KINDS.values() if k.model is model)
    path = tmp_path / "header.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerow(list(model.model_fields))
    reader = CsvReader(path, kind)
    preparer = Preparer(reader=reader, time_zone=time_zone, batch_size=100)
    try:
        with preparer.conn.cursor() as cursor:
            with cursor.copy(f"COPY csv_raw ({', '.join(model.model_fields)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row([cell or None for cell in row.values()])
            table = preparer._new_table()
            preparer._check_json(cursor)
            no_flags = bytes(preparer.layout.width * len(batch))  # SQL checks every cell
            cursor.execute(preparer.check_sql.replace(CHECKED, table),
                           {**preparer.params, "flags": no_flags})
            cursor.execute(f"SELECT ok, {', '.join(model.model_fields)} FROM {table} ORDER BY n")
            return [(ok, dict(zip(model.model_fields, values, strict=True)))
                    for ok, *values in cursor.fetchall()]
    finally:
        reader.close()
        preparer.close()


def _same(sql: Any, python: Any) -> bool:
    if isinstance(python, list | dict):
        python = json.loads(json.dumps(python, default=lambda m: m.model_dump(mode="json")))
        return (json.loads(sql) if isinstance(sql, str) else sql) == python
    return sql == python


def _assert_never_looser(tmp_path, model, batch, time_zone="UTC"):
    kind = next(k for k in KINDS.values() if k.model is model)
    path = tmp_path / "header.csv"
    for (ok, values), row in zip(_sql_verdicts(tmp_path, model, batch, time_zone), batch,
                                 strict=True):
        if not ok:
            continue
        reader = CsvReader(path, kind)
        reader.context = {"tz": zoneinfo.ZoneInfo(time_zone)}
        parsed, rejects = reader.validate_cells(2, list(row.values()))
        reader.close()
        assert parsed is not None, f"SQL accepted {row}, pydantic rejects it: {rejects}"
        given = parsed.model_fields_set
        for name, value in values.items():
            if name not in given:
                assert value is None, f"{name}: SQL has {value!r} for a field left out"
            else:
                assert _same(value, getattr(parsed, name)), \
                    f"{name}: SQL {value!r}, pydantic {getattr(parsed, name)!r} for {row}"


SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(batch=rows(CustomerIn))
@example(batch=[{**dict.fromkeys(CustomerIn.model_fields, ""), "external_id": "c1",
                 "email": "Ada@Example.com", "tags": "vip|newsletter",
                 "attributes": '{"tier": "gold"}', "signup_at": "2024-01-15T09:30:00+08:00",
                 "birthday": "2000-02-29", "email_consent": "yes", "time_zone": "Asia/Shanghai"}])
def test_sql_never_accepts_a_customer_pydantic_rejects(db, tmp_path, batch):
    _assert_never_looser(tmp_path, CustomerIn, batch)


@SETTINGS
@given(batch=rows(OrderIn))
@example(batch=[{**dict.fromkeys(OrderIn.model_fields, ""), "external_id": "o1",
                 "customer": "c1", "amount": "80.00", "refunded_amount": "90.00",
                 "placed_at": "2024-05-01 10:00:00", "currency": "cny",
                 "items": '[{"sku": "TEE-1", "quantity": 2, "price": "60.25"}]'}])
def test_sql_never_accepts_an_order_pydantic_rejects(db, tmp_path, batch):
    _assert_never_looser(tmp_path, OrderIn, batch)


@SETTINGS
@given(batch=rows(EventIn))
def test_sql_never_accepts_an_event_pydantic_rejects(db, tmp_path, batch):
    _assert_never_looser(tmp_path, EventIn, batch)


@SETTINGS
@given(batch=rows(OrderIn))
@example(batch=[{**dict.fromkeys(OrderIn.model_fields, ""), "external_id": "o1",
                 "customer": "c1", "amount": "1.00", "placed_at": placed_at}
                for placed_at in ("2024-03-10 02:30:00", "2024-11-03 01:30:00",
                                  "2024-07-01 12:00:00", "1883-11-18 12:00:00", "2024-02-29",
                                  "2024-07-01T12:00:00-04:00")])
def test_naive_times_are_read_in_the_storefront_zone_as_pydantic_reads_them(db, tmp_path,
                                                                             batch):
    _assert_never_looser(tmp_path, OrderIn, batch, time_zone="America/New_York")


def test_sql_vouches_for_the_plain_rows_of_an_export(db, tmp_path):
    """The point of the twins: ordinary rows need no Python."""
    rows_ = [{**dict.fromkeys(OrderIn.model_fields, ""), "external_id": f"o{n}",
              "customer": "c1", "amount": "12.50", "placed_at": "2024-05-01 10:00:00",
              "status": "paid", "items": '[{"sku": "A", "quantity": 1, "price": "12.50"}]'}
             for n in range(3)]

    verdicts = _sql_verdicts(tmp_path, OrderIn, rows_, "UTC")

    assert [ok for ok, _values in verdicts] == [True] * 3
    assert verdicts[0][1]["amount"] == Decimal("12.50")


def test_every_model_validator_has_an_sql_twin():
    for model in (CustomerIn, OrderIn, EventIn):
        checks.columns(model, checks.UTC)  # raises NoSqlTwin otherwise


def test_a_validator_without_an_sql_twin_is_refused():
    class Loyal(CustomerIn):
        @field_validator("city")
        @classmethod
        def _no_paris(cls, value: str) -> str:
            return value

    with pytest.raises(checks.NoSqlTwin, match="_no_paris"):
        checks.columns(Loyal, checks.UTC)


@pytest.mark.parametrize("word", [*checks.TRUE_WORDS, *checks.FALSE_WORDS])
def test_boolean_words_are_pydantics(word):
    expected = word in checks.TRUE_WORDS
    for variant in (word, word.upper(), word.capitalize()):
        assert CustomerIn(external_id="c", email_consent=variant).email_consent is expected


@pytest.mark.parametrize("name", sorted(checks.ALWAYS_UTC))
def test_the_names_of_utc_are_utc_in_the_tz_database(name):
    today = dt.date(2026, 12, 5)

    assert checks.zone(name, today) == checks.zone_by_days(name, today)
    assert checks.zone(name, today).fixed == dt.timedelta(0)
