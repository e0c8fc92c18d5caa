"""Optimistic concurrency for the operator editors (the canvas, the segment builder, the
template editor, the coupon definition form) and the operator API: the version an editor
read is the object's `updated_at` in ISO 8601 (an ETag in the API, quoted); a save naming
an older version is refused, never applied over a newer change."""

import datetime


def is_version(tag: str, updated_at: datetime.datetime) -> bool:
    """Whether `tag` (an ISO 8601 time, optionally as a quoted or weak ETag) names the
    version `updated_at`. Anything unreadable names no version."""
    try:
        read = datetime.datetime.fromisoformat(tag.strip().removeprefix("W/").strip('"'))
    except ValueError:
        return False
    return read.tzinfo is not None and read == updated_at


def changed_since_read(model, pk: int, read_at: str) -> bool:
    """Whether the row `pk` of `model` (its `updated_at`) changed since an editor's page read
    version `read_at`, locking the row until the transaction ends. A page that sent no
    version (an older one) saves as before."""
    if not read_at:
        return False
    current = model.objects.select_for_update().values_list("updated_at", flat=True).get(pk=pk)
    return not is_version(read_at, current)
