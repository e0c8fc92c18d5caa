"""A barrier that makes the change log safe to read by id.

Change ids come from a sequence when a row is inserted, but evaluations commit in their own
time: a long evaluation can commit ids lower than ones a shorter one committed before it. A
consumer that remembered "everything up to id N" would then skip the late rows for good.

So every evaluation holds a shared advisory lock on its segment while it writes, and a reader
takes the exclusive one for an instant before asking for the highest id: that waits for the
writers in flight, and every writer after it draws higher ids. Everything up to the id it
returns is committed and final. SQLite runs one write transaction at a time, so there the
highest id is always settled.
"""

from django.db import OperationalError, connection, transaction
from django.db.models import Max

from segments.models import SegmentChange

_LOCK_SPACE = 0x5345474D << 32  # "SEGM": keeps these keys apart from other advisory locks
WAIT = "5s"  # how long a reader waits for an evaluation in flight before trying later


def change_log_writing(segment_id: int) -> None:
    """Called inside an evaluation's transaction before it writes changes."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_LOCK_SPACE + segment_id])


def change_log_settled(segment_id: int) -> int | None:
    """The highest change id of the segment below which no change can still appear (0 when
    there are none), or None when an evaluation kept writing for longer than WAIT."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{WAIT}'")
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_SPACE + segment_id])
            latest = SegmentChange.objects.filter(segment_id=segment_id).aggregate(Max("id"))
    except OperationalError:  # lock_timeout: an evaluation is still writing
        return None
    return latest["id__max"] or 0
