"""Optimistic concurrency for the operator editors (the canvas, the segment builder, the
template editor): the version an editor read is the object's `updated_at` in ISO 8601 (an
ETag in the API, quoted); a save naming an older version is refused, never applied over a
newer change."""

import datetime


def is_version(tag: str, updated_at: datetime.datetime) -> bool:
    """Whether `tag` (an ISO 8601 time, optionally as a quoted or weak ETag) names the
    version `updated_at`. Anything unreadable names no version."""
    try:
        read = datetime.datetime.fromisoformat(tag.strip().removeprefix("W/").strip('"'))
    except ValueError:
        return False
    return read.tzinfo is not None and read == updated_at
