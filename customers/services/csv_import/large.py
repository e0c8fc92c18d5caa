"""When a CSV import is a large load: at least so many new rows, and at least as many as the
table holds. The writer (postgres.py) then sets the table's secondary indexes and foreign keys
aside; the checks (prepare.py), seeing the first chunk before the writer does, copy the
customers' ids for it. Both ask here, the one of a chunk's handover table, the other of the
raw chunk: they must agree on what a stored row is."""

from customers.models import Customer, Event, Order

# Customers per row of a chunk up to which they are read whole (a hash join) to find those
# the chunk's orders or events name, and up to which the checks copy the customers' ids.
HASH_CUSTOMERS_PER_ROW = 4

# By kind: the table, and the condition of a stored row `t` with the key of a staged row `s`
# (by the table's unique index: an event id is the storefront's own).
STORED_ROW = {
    "customers": (Customer, "t.external_id = s.external_id"),
    "orders": (Order, "t.external_id = s.external_id"),
    "events": (Event, "t.storefront_id = %(storefront)s AND t.event_id = s.event_id"),
}


def rows_up_to(cursor, table: str, most: int) -> int:
    """The rows of `table`, counted no further than `most`. `cursor`: a psycopg cursor or
    connection."""
    return cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT %s) t",
                          [most]).fetchone()[0]


def few_customers(cursor, batch_size: int) -> bool:
    """At most HASH_CUSTOMERS_PER_ROW customers per row of a chunk of `batch_size`."""
    most = HASH_CUSTOMERS_PER_ROW * batch_size
    return rows_up_to(cursor, Customer._meta.db_table, most + 1) <= most


def is_large_load(cursor, kind: str, staged: str, *, storefront: int | None, file_size: int,
                  bytes_read: int, least: int) -> bool:
    """Whether a file of `file_size` bytes whose first `bytes_read` are the rows of the table
    `staged` adds at least `least` rows of `kind`, and at least as many as the table holds."""
    model, stored = STORED_ROW[kind]
    table = model._meta.db_table
    new = cursor.execute(
        f"SELECT count(*) FROM {staged} s WHERE NOT EXISTS (SELECT 1 FROM {table} t "
        f"WHERE {stored})", {"storefront": storefront}).fetchone()[0]
    new = new * file_size // max(bytes_read, 1)
    return new >= least and rows_up_to(cursor, table, new + 1) <= new
