"""Paging without a count, for the campaigns app's operator pages over big tables."""

import dataclasses
from typing import Any

from django.db.models import QuerySet


@dataclasses.dataclass(frozen=True)
class Window:
    """One page of a list paged by id instead of by offset and without counting it (a count,
    or a deep OFFSET, of a million codes would cost more than the page): its rows, newest
    first, and the ids the older and newer pages start after (None: no such page)."""

    rows: list[Any]
    older: int | None
    newer: int | None


def _id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def window(queryset: QuerySet, *, before: str | None, after: str | None,
           per_page: int) -> Window:
    """The `per_page` rows (highest id first) below id `before`, or just above id `after`,
    or the newest; one LIMIT query on an index that leads with the filter and the id."""
    before_id, after_id = _id(before), _id(after)
    if after_id is not None:
        rows = list(queryset.filter(pk__gt=after_id).order_by("pk")[:per_page + 1])
        newer = rows[per_page - 1].pk if len(rows) > per_page else None
        rows = rows[:per_page][::-1]
        return Window(rows, rows[-1].pk if rows else None, newer)
    if before_id is not None:
        queryset = queryset.filter(pk__lt=before_id)
    rows = list(queryset.order_by("-pk")[:per_page + 1])
    older = rows[per_page - 1].pk if len(rows) > per_page else None
    return Window(rows[:per_page], older, rows[0].pk if rows and before_id else None)
