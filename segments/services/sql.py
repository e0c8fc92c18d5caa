"""Session settings for rule queries on PostgreSQL."""

import contextlib

from django.db import connection, transaction

# A condition under OR or NOT ("in segment X or ...", "did not do event Y") becomes a hashed
# subplan only when its id set fits in work_mem; otherwise PostgreSQL re-runs the subquery
# for every customer (minutes instead of a second on 1M customers). 256 MB holds millions.
WORK_MEM = "256MB"
# JIT compiles each big query's expressions: ~0.2 s a query, more than it saves on ours.
SETTINGS = [f"SET LOCAL work_mem = '{WORK_MEM}'", "SET LOCAL jit = off"]
# A full evaluation joins the member set with the stored members (a full join over up to a
# million ids on each side). Without hash joins both come in customer order, the rule's
# joins of customers with metrics merging along the primary keys and the stored members read
# from theirs, so no hash table of 700,000 ids is built on either side: 50 segments at 1M
# customers 18.9 s -> 14.0 s, the biggest segments in half the time, none slower by more than
# 40 ms. Previews keep hash joins: one of them (likely to churn among important customers)
# turned erratic without them.
# Nor does a full evaluation wait for its commit to reach the disk (~10% of the commit time
# of 50 segments): a crash may lose the last ones' changes, never half of one, and they are
# found again by the next evaluation; anything that read them and committed made them durable
# first, since its own commit flushes the log up to itself.
FULL_EVALUATION_SETTINGS = ["SET LOCAL enable_hashjoin = off",
                            "SET LOCAL synchronous_commit = off"]


@contextlib.contextmanager
def rule_queries(*, full_evaluation: bool = False):
    """A transaction in which rule queries get the memory they need, without JIT."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            extra = FULL_EVALUATION_SETTINGS if full_evaluation else []
            with connection.cursor() as cursor:
                for statement in SETTINGS + extra:
                    cursor.execute(statement)
        yield
