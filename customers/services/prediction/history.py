"""Each customer's purchase history as the models read it, built in SQL into a temporary
table: one purchase per customer per day (the shop's days), as Fader and Hardie count them.

    x     repeat purchases (purchase days after the first)
    t_x   days from the first purchase to the last
    t     days from the first purchase to the cutoff (the papers' T)
    m_x   average net spend of the repeat purchase days (NULL without one)

Only the distinct histories leave the database (a million customers share far fewer), with
the number of customers behind each as its weight.
"""

import datetime

import numpy as np
from django.conf import settings
from django.db import connection

from customers.models import Order, OrderStatus

HISTORY = "value_history"
ORDERS = Order._meta.db_table


def day_sql(column: str) -> str:
    """SQL: the shop's day of a timestamp column (params: %(tz)s)."""
    if connection.vendor == "postgresql":
        return f"({column} AT TIME ZONE %(tz)s)::date"
    return f"date({column})"  # SQLite keeps UTC: days are UTC days there


def _days_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def history_build(cutoff: datetime.datetime) -> int:
    """(Re)create the temporary history table from the paid orders placed before `cutoff`.
    Returns the customers in it."""
    cutoff_day = _local_day(cutoff)
    params = {"tz": settings.TIME_ZONE, "paid": OrderStatus.PAID, "cutoff": cutoff,
              "cutoff_day": cutoff_day}
    cutoff_day_sql = "CAST(%(cutoff_day)s AS DATE)" if connection.vendor == "postgresql" \
        else "%(cutoff_day)s"
    statement = f"""
        CREATE TEMPORARY TABLE {HISTORY} AS
        WITH days AS (
            SELECT customer_id, day, spend,
                   ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY day) AS nth
            FROM (SELECT customer_id, {day_sql('placed_at')} AS day,
                         SUM(amount - refunded_amount) AS spend
                  FROM {ORDERS} WHERE status = %(paid)s AND placed_at < %(cutoff)s
                  GROUP BY customer_id, {day_sql('placed_at')}) per_day)
        SELECT customer_id,
               COUNT(*) - 1 AS x,
               {_days_between('MAX(day)', 'MIN(day)')} AS t_x,
               {_days_between(cutoff_day_sql, 'MIN(day)')} AS t,
               ROUND(SUM(CASE WHEN nth > 1 THEN spend END) / NULLIF(COUNT(*) - 1, 0), 2)
                   AS m_x
        FROM days GROUP BY customer_id"""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {HISTORY}")
        cursor.execute(statement, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {HISTORY}")  # temporary tables get no autovacuum
        cursor.execute(f"SELECT COUNT(*) FROM {HISTORY}")
        return cursor.fetchone()[0]


def _local_day(moment: datetime.datetime) -> datetime.date:
    """The last day a period ending (exclusively) at `moment` covers: a period ending at
    midnight ends the day before, as the papers count T."""
    from django.utils import timezone

    return timezone.localtime(moment - datetime.timedelta(microseconds=1)).date()


def histories() -> dict[str, np.ndarray]:
    """The distinct (x, t_x, t) and how many customers have each."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT x, t_x, t, COUNT(*) FROM {HISTORY} GROUP BY x, t_x, t")
        rows = cursor.fetchall()
    columns = np.array(rows, dtype=float).reshape(-1, 4)
    return {"x": columns[:, 0], "t_x": columns[:, 1], "t": columns[:, 2],
            "weight": columns[:, 3]}


def spends() -> dict[str, np.ndarray]:
    """The distinct (x, m_x) of repeat buyers with a positive spend, and their counts."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT x, m_x, COUNT(*) FROM {HISTORY} WHERE x > 0 AND m_x > 0 "
                       f"GROUP BY x, m_x")
        rows = cursor.fetchall()
    columns = np.array(rows, dtype=float).reshape(-1, 3)
    return {"x": columns[:, 0], "m_x": columns[:, 1], "weight": columns[:, 2]}


def all_spends() -> dict[str, np.ndarray]:
    """Every distinct (x, m_x) in the history, m_x NULL (nan) for those without a repeat."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT x, m_x FROM {HISTORY}")
        rows = cursor.fetchall()
    columns = np.array([(x, np.nan if m is None else float(m)) for x, m in rows],
                       dtype=float).reshape(-1, 2)
    return {"x": columns[:, 0], "m_x": columns[:, 1]}
