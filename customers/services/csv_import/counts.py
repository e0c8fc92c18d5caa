from typing import NamedTuple


class Counts(NamedTuple):
    """What writing one chunk did: rows created, updated, and unchanged or duplicate."""

    created: int
    updated: int
    unchanged: int
