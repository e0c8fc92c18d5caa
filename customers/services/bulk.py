"""Large loads on PostgreSQL: a table's secondary indexes and foreign keys set aside while
rows pour in, then built and checked whole before the commit.

Maintaining an index and checking a foreign key row by row cost several times what building
the index in one sort and checking the key in one join cost (bench/README.md: ~25 us against
~3 us a new order in a first CSV import; 2M deferred key checks took 6-10 s at the commit of
the first metrics run). The price is an ACCESS EXCLUSIVE lock on the table and, while a
foreign key is away, on the table it references, until the commit: callers do this only for
first loads, and give up (write through the indexes) when the lock is not granted quickly.
"""

from dataclasses import dataclass

from django.db import OperationalError, transaction
from psycopg.errors import LockNotAvailable, ObjectInUse

# Room to sort a million rows in memory, and for parallel workers.
REBUILD_MEMORY = "256MB"
# How long a large load waits for the exclusive lock before writing through the indexes.
LOCK_TIMEOUT = "2s"


@dataclass
class SetAside:
    """What a large load took off a table, to be put back before the commit."""

    table: str
    indexes: list[str]  # CREATE INDEX statements
    constraints: list[tuple[str, str]]  # foreign keys (and unique ones): (quoted name, definition)

    def restore(self, cursor) -> None:
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [REBUILD_MEMORY])
        for statement in self.indexes:
            cursor.execute(statement)
        for name, definition in self.constraints:
            # A foreign key checks every row in one join, instead of a trigger's query per
            # row; a unique constraint builds its index in one sort.
            cursor.execute(f"ALTER TABLE {self.table} ADD CONSTRAINT {name} {definition}")
        cursor.execute("RESET maintenance_work_mem")


def set_aside(cursor, table: str, *, unique: bool = False) -> SetAside | None:
    """Lock `table` exclusively and drop its secondary (non-unique) indexes and its foreign
    keys, and with `unique` its unique constraints too (not the primary key); None, with
    nothing dropped, when a lock is not granted within LOCK_TIMEOUT or the table cannot be
    altered now."""
    try:
        with transaction.atomic():
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            # Dropping a foreign key locks the referenced table too: under the same timeout,
            # lest a long reader there queue every later reader behind this load.
            dropped = _drop(cursor, table, unique=unique)
            cursor.execute("RESET lock_timeout")
            return dropped
    except OperationalError as exc:
        # ObjectInUse: this transaction has foreign-key checks pending on the table, which
        # cannot be altered until they have run.
        if isinstance(exc.__cause__, LockNotAvailable | ObjectInUse):
            return None
        raise


def _drop(cursor, table: str, *, unique: bool) -> SetAside:
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND NOT i.indisprimary",
        [table])
    indexes = cursor.fetchall()
    kinds = ["f", "u"] if unique else ["f"]
    cursor.execute("SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = %s::regclass AND contype = ANY(%s)", [table, kinds])
    constraints = cursor.fetchall()
    for name, _definition in constraints:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return SetAside(table, [definition for _name, definition in indexes], constraints)
