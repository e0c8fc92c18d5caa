"""Reads of segments for the operator API and the UI: previews, members, the change log."""

import dataclasses
import datetime
import time
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet

from customers.models import Customer
from customers.services.erasure import not_erased
from segments.models import Segment, SegmentChange, SegmentEvaluation, SegmentMembership
from segments.rules import Context, compile_node, is_time_dependent
from segments.services.changelog import change_log_settled
from segments.services.segments import rule_check
from segments.services.sql import rule_queries

PREVIEW_SAMPLE = 20
HISTORY_POINTS = 200  # a week of hourly evaluations and then some
SAMPLE_FIELDS = ("external_id", "name", "email", "city")


@dataclasses.dataclass(frozen=True)
class Preview:
    count: int
    sample: list[dict[str, Any]]
    time_dependent: bool
    duration_ms: int


def segment_preview(rule: Any, *, now: datetime.datetime | None = None,
                    sample_size: int = PREVIEW_SAMPLE) -> Preview:
    """Who a rule selects right now, without saving anything: one count query and one
    sample query (plus what the rule's own conditions need, such as a percentile cut-off).
    RuleError names the bad part."""
    started = time.monotonic()
    node = rule_check(rule)
    with rule_queries():
        members = not_erased(Customer.objects).filter(compile_node(node, Context.at(now)))
        count, sample_ids = _count_and_sample(members, sample_size)
        by_id = Customer.objects.filter(pk__in=sample_ids).order_by("pk")
        sample = list(by_id.values(*SAMPLE_FIELDS))
    return Preview(count, sample, is_time_dependent(node),
                   round((time.monotonic() - started) * 1000))


def _count_and_sample(members: QuerySet[Customer], size: int) -> tuple[int, list[int]]:
    """The count and a sample in one pass of the rule: the least id of each residue class
    modulo `size`, aggregates PostgreSQL computes in parallel beside the count. (A count,
    then a LIMIT query for the sample, ran the rule twice: an aggregate over recent orders
    or a top-% cut-off was half of a two-second preview.) Fewer classes than members found
    (a handful of members): the sample is read as before."""
    sql, params = members.values(member=F("pk")).query.sql_with_params()
    picks = [f"min(member) FILTER (WHERE member %% {size} = {k})" for k in range(size)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(['count(*)', *picks])} FROM ({sql}) m", params)
        count, *picked = cursor.fetchone()
    sample = sorted(pk for pk in picked if pk is not None)
    if len(sample) < min(count, size):
        sample = list(members.values_list("pk", flat=True)[:size])
    return count, sample


def segment_members(segment: Segment) -> QuerySet[SegmentMembership]:
    # Customer order follows the membership's primary key (segment, customer): no sort.
    return (SegmentMembership.objects.filter(segment=segment).select_related("customer")
            .order_by("customer_id"))


# A member export's columns (named as the storefront API names them) and the fields they are
# read from.
EXPORT_COLUMNS = {
    "external_id": "customer__external_id", "name": "customer__name",
    "email": "customer__email", "phone": "customer__phone", "city": "customer__city",
    "email_consent": "customer__email_consent", "sms_consent": "customer__sms_consent",
    "lifecycle_stage": "customer__metrics__lifecycle_stage",
    "rfm_class": "customer__metrics__rfm_class", "ltv": "customer__metrics__ltv",
    "order_count": "customer__metrics__order_count",
    "last_order_at": "customer__metrics__last_order_at", "entered_at": "entered_at",
}
EXPORT_CHUNK = 5000  # rows fetched at a time (a server-side cursor on PostgreSQL)


def segment_member_rows(segment: Segment) -> Iterator[tuple]:
    """Every member as of the last evaluation, one tuple of EXPORT_COLUMNS each, in customer
    order, read a chunk at a time: a million members never sit in memory."""
    return segment_members(segment).values_list(*EXPORT_COLUMNS.values()).iterator(
        chunk_size=EXPORT_CHUNK)


def segment_changes(segment: Segment, *, after: int | None = None, kind: str | None = None
                    ) -> QuerySet[SegmentChange]:
    """The change log in id order (the order campaigns consume it), from after `after`, up
    to its settled end (segments/services/changelog.py): a reader that keeps the last id it
    saw never misses a change committed late. While an evaluation is still writing, the
    rows after the last settled read wait for the next call."""
    settled = change_log_settled(segment.pk)
    changes = SegmentChange.objects.filter(segment=segment, id__lte=settled or 0) \
        .select_related("customer")
    if after is not None:
        changes = changes.filter(id__gt=after)
    if kind:
        changes = changes.filter(kind=kind)
    return changes.order_by("id")


def segment_history(segment: Segment, *, points: int = HISTORY_POINTS
                    ) -> list[SegmentEvaluation]:
    """The last `points` evaluations, oldest first."""
    latest = SegmentEvaluation.objects.filter(segment=segment).order_by("-evaluated_at", "-id")
    return list(reversed(latest[:points]))


def segment_size_histories(segment_ids: list[int], *, points: int) -> dict[int, list[int]]:
    """The sizes of each segment's last `points` evaluations, oldest first: one query per
    segment (a page of them), each reading `points` rows of the (segment, evaluated_at) index.
    A window over all of their evaluations would read a year of hourly rows per segment."""
    sizes = {}
    for segment_id in segment_ids:
        latest = (SegmentEvaluation.objects.filter(segment_id=segment_id)
                  .order_by("-evaluated_at", "-id").values_list("size", flat=True)[:points])
        sizes[segment_id] = list(reversed(latest))
    return sizes
