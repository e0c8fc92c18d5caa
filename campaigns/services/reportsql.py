"""The few SQL pieces where PostgreSQL and SQLite differ, for the results and the dry run.

Queries use named parameters (%(name)s), which Django passes to both backends.

SQLite keeps datetimes as text. The ORM writes 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC), but a raw
statement given an aware datetime writes the same with '+00:00' after it (journeys_enter
does), and text comparison between the two forms is wrong at the very edge (an order placed at
the moment a journey entered would sort before it). So on SQLite every stored moment is read
through Django's own date arithmetic function (django_format_dtdelta, what the ORM emits for
F("at") + timedelta), which returns the ORM's form; windows end at a moment computed the same
way. Exact to the microsecond, unlike julianday() arithmetic.

Money is summed in integer cents on both, so sums are exact (SQLite stores decimals as floats).
"""

import datetime
import json
from collections.abc import Iterable

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

MICROSECOND = datetime.timedelta(microseconds=1)


def postgres() -> bool:
    return connection.vendor == "postgresql"


def moment(column: str) -> str:
    """A stored datetime, comparable with moment()s, plus() and time_param()s."""
    return column if postgres() else f"django_format_dtdelta('+', {column}, 0)"


def plus(column: str, param: str) -> str:
    """`column` + the duration in parameter `param` (see delta_param)."""
    if postgres():
        return f"({column} + %({param})s)"
    return f"django_format_dtdelta('+', {column}, %({param})s)"


def delta_param(delta: datetime.timedelta) -> datetime.timedelta | int:
    return delta if postgres() else delta // MICROSECOND


def time_param(value: datetime.datetime) -> datetime.datetime | str:
    return value if postgres() else connection.ops.adapt_datetimefield_value(value)


def cents(expression: str) -> str:
    """A 2-place money expression as whole cents."""
    return f"CAST(round(({expression}) * 100) AS BIGINT)"


def square_sum(expression: str) -> str:
    """SUM of the squares: exact numeric on PostgreSQL; a float on SQLite, whose integer
    SUM would overflow (a customer's cents squared times a million customers)."""
    if postgres():
        return f"SUM(CAST({expression} AS NUMERIC) * {expression})"
    return f"SUM(CAST({expression} AS REAL) * {expression})"


def in_ids(column: str, param: str) -> str:
    """`column` is one of the ids in parameter `param` (see ids_param): one parameter
    whatever the number of ids, so a million ids cost one array, not a million
    placeholders."""
    if postgres():
        return f"{column} = ANY(%({param})s)"
    return f"{column} IN (SELECT value FROM json_each(%({param})s))"


def ids_param(ids: Iterable[int | str]) -> list | str:
    values = sorted(ids)
    return values if postgres() else json.dumps(values)


def ids_filter(model, column: str, ids: Iterable[int]) -> RawSQL:
    """For the ORM: `.filter(ids_filter(Customer, "id", ids))`, one parameter for all the
    ids. On PostgreSQL `= ANY(array)`, which it hashes: three times faster than
    `IN (SELECT unnest(array))`, whose row count the planner guesses at 200 (900,000 ids:
    2.5 s against 7.3 s, a nested loop)."""
    target = f'"{model._meta.db_table}"."{column}"'
    if postgres():
        return RawSQL(f"{target} = ANY(%s::bigint[])", [sorted(ids)],  # noqa: S611
                      output_field=BooleanField())  # the table and column are the model's
    return RawSQL(f"{target} IN (SELECT value FROM json_each(%s))",  # noqa: S611
                  [json.dumps(sorted(ids))], output_field=BooleanField())


def rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def named(sql: str, params: list | tuple, prefix: str) -> tuple[str, dict]:
    """A compiled ORM query (positional %s, no other percent signs: values are always bound)
    with named parameters instead, to embed in a named-parameter statement."""
    pieces = sql.split("%s")
    if len(pieces) != len(params) + 1:
        raise ValueError("the query's placeholders do not match its parameters")
    names = {f"{prefix}{index}": value for index, value in enumerate(params)}
    out = pieces[0]
    for index, piece in enumerate(pieces[1:]):
        out += f"%({prefix}{index})s" + piece
    return out, names
