"""Bulk writes for the runner and the dispatcher: a whole batch in one statement.

PostgreSQL gets the rows as ONE JSON parameter (json_to_recordset), as the storefront ingest
does (customers/services/ingest.py): for thousands of rows that is a few milliseconds of
Python instead of building model instances and quoting tens of thousands of parameters.
The JSON is written by orjson, which encodes datetimes natively: json.dumps with a default
hook spent 10 ms a batch of 1,000 journeys on them (bench/dispatch.py).
SQLite, the embedded default, takes plain parameterised statements.
"""


import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson
from django.db import connection, models


def _default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def as_json(rows: list) -> str:
    return orjson.dumps(rows, default=_default).decode()


def one_of(column: str, values: Iterable) -> tuple[str, Any]:
    """SQL `column` in `values`, the values as ONE parameter: a 1,000-id IN list costs ~10 ms
    of Python quoting and PostgreSQL planning, one array ~0.1 ms."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", list(values)
    return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(list(values))


def filter_one_of(queryset: models.QuerySet, column: str, values: Iterable) -> models.QuerySet:
    """`queryset` narrowed to rows whose `column` is in `values`, as one_of writes it."""
    match, param = one_of(column, values)
    return queryset.extra(where=[match], params=[param])  # noqa: S610 - our own SQL


def _record(model: type[models.Model], columns: Sequence[str]) -> str:
    fields = {field.column: field for field in model._meta.concrete_fields}
    return ", ".join(f"{name} {fields[name].db_type(connection)}" for name in columns)


def rows_insert(model: type[models.Model], rows: list[dict[str, Any]], *,
                conflict: Sequence[str] = (), returning: Sequence[str] = ()) -> list[tuple]:
    """INSERT the rows (dicts of column -> value, all with the same columns). With
    `conflict`, a row whose key exists is skipped (ON CONFLICT DO NOTHING). Returns the
    `returning` columns of the rows actually inserted."""
    if not rows:
        return []
    columns = list(rows[0])
    table = model._meta.db_table
    on_conflict = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING" if conflict else ""
    back = f" RETURNING {', '.join(returning)}" if returning else ""
    if connection.vendor == "postgresql":
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
               f"SELECT {', '.join(f'r.{name}' for name in columns)} "
               f"FROM json_to_recordset(%s::json) AS r({_record(model, columns)})"
               f"{on_conflict}{back}")
        with connection.cursor() as cursor:
            cursor.execute(sql, [as_json(rows)])
            return cursor.fetchall() if returning else []
    return _portable_insert(model, rows, columns, on_conflict, back)


def _portable_insert(model, rows, columns, on_conflict, back) -> list[tuple]:
    table = model._meta.db_table
    placeholders = ", ".join(["%s"] * len(columns))
    fields = {field.column: field for field in model._meta.concrete_fields}
    results: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            values = [fields[name].get_db_prep_save(row[name], connection)
                      if not isinstance(fields[name], models.JSONField)
                      else json.dumps(row[name]) for name in columns]
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
                           f"{on_conflict}{back}", values)
            if back:
                results.extend(cursor.fetchall())
    return results


def rows_update(model: type[models.Model], rows: list[dict[str, Any]], *,
                key: str = "id") -> int:
    """UPDATE each row (a dict of column -> value, all with the same columns) by `key`."""
    if not rows:
        return 0
    columns = [name for name in rows[0] if name != key]
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        sql = (f"UPDATE {table} SET {', '.join(f'{name} = r.{name}' for name in columns)} "
               f"FROM json_to_recordset(%s::json) AS r({_record(model, [key, *columns])}) "
               f"WHERE {table}.{key} = r.{key}")
        with connection.cursor() as cursor:
            cursor.execute(sql, [as_json(rows)])
            return cursor.rowcount
    fields = {field.column: field for field in model._meta.concrete_fields}
    changed = 0
    with connection.cursor() as cursor:
        for row in rows:
            values = [fields[name].get_db_prep_save(row[name], connection) for name in columns]
            cursor.execute(f"UPDATE {table} SET {', '.join(f'{name} = %s' for name in columns)} "
                           f"WHERE {key} = %s", [*values, row[key]])
            changed += cursor.rowcount
    return changed
