"""What PostgreSQL says a table is made of (for tests that take parts of it away and back),
and how it plans to read one."""

from django.db import connection


def table_schema(table: str) -> list[tuple]:
    """The table's indexes and constraints (with whether each is validated)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                       "ORDER BY 1", [table])
        indexes = cursor.fetchall()
        cursor.execute("SELECT conname, pg_get_constraintdef(oid), convalidated "
                       "FROM pg_constraint WHERE conrelid = %s::regclass ORDER BY 1", [table])
        return indexes + cursor.fetchall()


def plan_without_sequential_scans(queryset) -> str:
    """PostgreSQL's plan for `queryset` when any index can serve it."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())
