"""Profile changes made by journeys: tags and attributes, set-based for a whole batch. The
customers' segments are re-evaluated once the change commits (a rule may select on them)."""

import json
from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer

TABLE = Customer._meta.db_table


def customers_tag(customer_ids: Sequence[int], tag: str, *, add: bool) -> int:
    """Add (or remove) `tag` on these customers; customers already so are left alone."""
    ids = sorted(set(customer_ids))
    if connection.vendor == "postgresql":
        change = ("tags = tags || to_jsonb(%s::text)" if add else "tags = tags - %s::text")
        has = "tags @> jsonb_build_array(%s::text)"
        where = f"id = ANY(%s) AND {'NOT ' if add else ''}{has}"
        params = [tag, _now(), ids, tag]
    else:
        change = ("tags = json_insert(tags, '$[#]', %s)" if add else
                  "tags = (SELECT json_group_array(value) FROM json_each(tags) "
                  "WHERE value != %s)")
        has = "EXISTS (SELECT 1 FROM json_each(tags) WHERE value = %s)"
        where = (f"id IN (SELECT value FROM json_each(%s)) AND "
                 f"{'NOT ' if add else ''}{has}")
        params = [tag, _now(), json.dumps(ids), tag]
    return _update(f"UPDATE {TABLE} SET {change}, updated_at = %s WHERE {where}", params, ids)


def customers_set_attribute(customer_ids: Sequence[int], key: str, value) -> int:
    """Set attributes[key] = value on these customers (None removes the key)."""
    ids = sorted(set(customer_ids))
    if connection.vendor == "postgresql":
        change = ("attributes = attributes - %s" if value is None
                  else "attributes = attributes || jsonb_build_object(%s::text, %s::jsonb)")
        values = [key] if value is None else [key, json.dumps(value)]
        sql = f"UPDATE {TABLE} SET {change}, updated_at = %s WHERE id = ANY(%s)"
        params = [*values, _now(), ids]
    else:
        path = f'$."{key}"'
        change = ("attributes = json_remove(attributes, %s)" if value is None
                  else "attributes = json_set(attributes, %s, json(%s))")
        values = [path] if value is None else [path, json.dumps(value)]
        sql = (f"UPDATE {TABLE} SET {change}, updated_at = %s "
               f"WHERE id IN (SELECT value FROM json_each(%s))")
        params = [*values, _now(), json.dumps(ids)]
    return _update(sql, params, ids)


def _update(sql: str, params: list, ids: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed = cursor.rowcount
    if changed:
        from segments.tasks import evaluate_customers_task

        transaction.on_commit(lambda: evaluate_customers_task.delay(ids), robust=True)
    return changed


def _now():
    return connection.ops.adapt_datetimefield_value(timezone.now())
