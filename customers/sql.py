"""Hot-path statements as server-side prepared statements on PostgreSQL.

Planning, not running, is most of what a one-row lookup costs PostgreSQL: the coupon lookup
(four tables) plans in ~0.45 ms and runs in ~0.1 ms (bench/coupons.py). Django keeps psycopg's
automatic preparation off (for transaction-pooling proxies), so these statements are prepared
by name, once per database session, and run with EXECUTE; the statement text stays short and
goes through Django's cursor (health checks, error wrapping, query logging) as any other.
DB_PREPARED_STATEMENTS=0 runs them unprepared, e.g. behind PgBouncer in transaction mode
before 1.21.
"""

import itertools
import weakref
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection

# Names prepared in each psycopg connection (a reconnect starts with none).
_prepared: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()


def _numbered(sql: str) -> str:
    """%s placeholders as $1, $2, ... (PREPARE's form)."""
    counter = itertools.count(1)
    parts = sql.split("%s")
    return "".join(part + (f"${next(counter)}" if i < len(parts) - 1 else "")
                   for i, part in enumerate(parts))


def _execute(cursor, name: str, sql: str, params: Sequence[Any]) -> None:
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    done = _prepared.setdefault(connection.connection, set())
    if name not in done:
        cursor.execute(f"PREPARE {name} AS {_numbered(sql)}")  # survives a rollback
        done.add(name)
    cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)


def fetch_one(name: str, sql: str, params: Sequence[Any]) -> tuple | None:
    with connection.cursor() as cursor:
        _execute(cursor, name, sql, params)
        return cursor.fetchone()


def fetch_all(name: str, sql: str, params: Sequence[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        _execute(cursor, name, sql, params)
        return cursor.fetchall()
