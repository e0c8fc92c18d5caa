"""Session settings for rule queries on PostgreSQL."""

import contextlib

from django.db import connection, transaction

# A condition under OR or NOT ("in segment X or ...", "did not do event Y") becomes a hashed
# subplan only when its id set fits in work_mem; otherwise PostgreSQL re-runs the subquery
# for every customer (minutes instead of a second on 1M customers). 256 MB holds millions.
WORK_MEM = "256MB"
# JIT compiles each big query's expressions: ~0.2 s a query, more than it saves on ours.
SETTINGS = [f"SET LOCAL work_mem = '{WORK_MEM}'", "SET LOCAL jit = off"]


@contextlib.contextmanager
def rule_queries():
    """A transaction in which rule queries get the memory they need, without JIT."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for statement in SETTINGS:
                    cursor.execute(statement)
        yield
