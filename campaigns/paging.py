"""Paging without a count, for the campaigns app's operator pages over big tables."""

import dataclasses
from typing import Any

from django.db.models import QuerySet


@dataclasses.dataclass(frozen=True)
class Window:
    """One page of a list paged without counting it (a count of a million codes would cost
    more than the page): the rows, and whether there are pages before and after."""

    rows: list[Any]
    number: int
    has_previous: bool
    has_next: bool

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def page_number(raw: str | None) -> int:
    try:
        return max(int(raw or 1), 1)
    except ValueError:
        return 1


def window(queryset: QuerySet, raw_page: str | None, per_page: int) -> Window:
    """Rows of page `raw_page` (1 for anything unreadable), read with one LIMIT query."""
    number = page_number(raw_page)
    start = (number - 1) * per_page
    rows = list(queryset[start:start + per_page + 1])
    return Window(rows[:per_page], number, number > 1, len(rows) > per_page)
