"""Triggers: each active campaign reads its trigger's source from where it left off
(TriggerCursor) and starts journeys for what is new.

- Segment entered/left: the segment's change log by id, up to the id the change-log barrier
  says is settled (segments/services/changelog.py), so no change is ever skipped.
- Lifecycle changes, events and paid orders: by time, re-reading OVERLAP before the last read
  so rows committed late are still seen; journeys are unique per (campaign, customer, entry
  key: "life:<id>", "event:<id>", "order:<id>"), so a row read twice starts one journey.
  Right after a storefront sends orders or events, the same happens for just those customers
  (triggers_consume_for), so journeys start within seconds.
- Schedules: the latest occurrence not yet started (missed ones are not made up), in the
  shop's time zone or, per time zone, in the customers' own.

Nothing before the campaign became active starts a journey; an event or order that arrives
more than LATE after it happened starts none either (a backfill is not a trigger).
"""

import datetime
import logging
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models import CharField, F, Max, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from campaigns.flows.configs import parse_time
from campaigns.flows.lookups import local_moment, zone
from campaigns.models import Campaign, TriggerCursor
from campaigns.services.entry import journeys_enter, version_graph
from customers.models import Customer, Event, LifecycleChange, Order, OrderStatus
from segments.models import SegmentChange, SegmentMembership
from segments.services.changelog import change_log_settled

log = logging.getLogger(__name__)

OVERLAP = datetime.timedelta(minutes=15)
ZONES_CACHE_KEY, ZONES_CACHE_SECONDS = "campaigns:customer-zones", 600
LATE = datetime.timedelta(hours=24)


def _keyed(queryset: QuerySet, prefix: str) -> QuerySet:
    """`queryset` as the (customer_id, entry_key) rows journeys_enter reads."""
    return queryset.annotate(entry_key=Concat(Value(prefix), Cast("pk", CharField()),
                                              output_field=CharField())
                             ).values("customer_id", "entry_key")


def _cursor(campaign: Campaign, source: str) -> TriggerCursor:
    cursor, _created = TriggerCursor.objects.get_or_create(campaign=campaign, source=source)
    return cursor


# --- segment change log --------------------------------------------------------------------------

def _segment_changes(kind: str):
    def consume(campaign: Campaign, config, now: datetime.datetime,
                customers: Iterable[int] | None) -> int:
        if customers is not None:
            return 0  # the change log is read whole, right after each evaluation
        cursor = _cursor(campaign, _segment_source(config.segment, kind))
        settled = change_log_settled(config.segment)
        if settled is None:  # an evaluation is writing; next time
            return 0
        started = 0
        if cursor.read_until is not None:  # else new: only what comes from now on
            changes = SegmentChange.objects.filter(segment_id=config.segment, kind=kind,
                                                   id__gt=cursor.position, id__lte=settled)
            started = journeys_enter(campaign=campaign, source=_keyed(changes, "seg:"),
                                     now=now)
        cursor.position, cursor.read_until = settled, now
        cursor.save(update_fields=["position", "read_until", "updated_at"])
        return started

    return consume


def _segment_source(segment_id: int, kind: str) -> str:
    return f"segment:{segment_id}:{kind}"


# --- rows read by time ---------------------------------------------------------------------------

def _by_time(source: str, rows: Callable[[object], QuerySet], column: str, prefix: str):
    """A consumer of rows stamped with `column`, starting one journey per row."""
    def consume(campaign: Campaign, config, now: datetime.datetime,
                customers: Iterable[int] | None) -> int:
        floor = max(campaign.activated_at or now, now - LATE)
        selected = rows(config).filter(**{f"{column}__lte": now + LATE})
        if customers is not None:
            selected = selected.filter(customer_id__in=set(customers),
                                       **{f"{column}__gte": floor})
            return journeys_enter(campaign=campaign, source=_keyed(selected, prefix), now=now)
        cursor = _cursor(campaign, source)
        since = max(floor, cursor.read_until - OVERLAP) if cursor.read_until else floor
        started = journeys_enter(
            campaign=campaign, now=now,
            source=_keyed(selected.filter(**{f"{column}__gte": since}), prefix))
        cursor.read_until = now
        cursor.save(update_fields=["read_until", "updated_at"])
        return started

    return consume


def lifecycle_rows(config) -> QuerySet:
    rows = LifecycleChange.objects.filter(to_stage=config.to_stage)
    if config.from_stage:
        rows = rows.filter(from_stage=config.from_stage)
    return rows


def event_rows(config) -> QuerySet:
    return Event.objects.filter(name=config.name, **{f"properties__{key}": value
                                                     for key, value in config.properties.items()})


def order_rows(config) -> QuerySet:
    rows = Order.objects.filter(status=OrderStatus.PAID)
    if config.min_amount is not None:
        rows = rows.annotate(net=F("amount") - F("refunded_amount")).filter(
            net__gte=config.min_amount)
    return rows


# --- schedules -----------------------------------------------------------------------------------

def _latest_occurrence(config, now: datetime.datetime, tz) -> datetime.datetime | None:
    """The latest scheduled moment at or before `now` in `tz` (None: none yet)."""
    if config.at is not None:
        return config.at if config.at <= now else None
    at = parse_time(config.time)
    today = now.astimezone(tz).date()
    for back in range(8):
        day = today - datetime.timedelta(days=back)
        if day.weekday() in config.weekdays:
            moment = local_moment(day, at, tz)
            if moment <= now:
                return moment
    return None


def _scheduled(campaign: Campaign, config, now: datetime.datetime,
               customers: Iterable[int] | None) -> int:
    if customers is not None:
        return 0
    members = SegmentMembership.objects.filter(segment_id=config.segment)
    if config.at is not None or not config.local_time:
        return _occurrence(campaign, config, now, "schedule", zone(""), members)
    by_zone: dict[str, list[str]] = {}
    for name in _customer_zone_names():
        by_zone.setdefault(zone(name).key, []).append(name)
    return sum(_occurrence(campaign, config, now, f"schedule:{key}", zone(key),
                           members.filter(customer__time_zone__in=names))
               for key, names in sorted(by_zone.items()))


def _customer_zone_names() -> list[str]:
    """The time zones customers have: a handful, cached (a new one waits for the cache)."""
    names = cache.get(ZONES_CACHE_KEY)
    if names is None:
        names = sorted(Customer.objects.values_list("time_zone", flat=True).distinct())
        cache.set(ZONES_CACHE_KEY, names, ZONES_CACHE_SECONDS)
    return names


# Members of a schedule's audience entered per transaction: the runners start on the first
# ones while the rest enter (a million in one transaction kept a core idle for its ~25 s).
ENTRY_CHUNK = 20_000


def _occurrence(campaign: Campaign, config, now: datetime.datetime, source: str, tz,
                members: QuerySet) -> int:
    """Start the members for the latest occurrence, unless that one was already started or
    came before the campaign was active (a one-off `at` in the past starts at once). A large
    audience enters ENTRY_CHUNK members at a time, in customer id order: the cursor keeps the
    occurrence under way and the last member entered, and triggers_consume goes on with the
    next chunk in a transaction of its own."""
    moment = _latest_occurrence(config, now, tz)
    cursor = _cursor(campaign, source)
    if moment is None or (cursor.read_until is not None and moment <= cursor.read_until):
        return 0
    started = 0
    if config.at is not None or moment >= (campaign.activated_at or now):
        after = cursor.position if cursor.occurrence == moment else 0
        chunk = members.filter(customer_id__gt=after)
        last = chunk.order_by("customer_id").values_list("customer_id", flat=True)[
            ENTRY_CHUNK - 1:ENTRY_CHUNK].first()
        if last is not None:  # more may follow
            chunk = chunk.filter(customer_id__lte=last)
        key = f"sched:{moment.astimezone(tz).isoformat()}"
        started = journeys_enter(campaign=campaign, now=now, resample=after == 0,
                                 source=chunk.annotate(entry_key=Value(key, CharField()))
                                 .values("customer_id", "entry_key"))
        if last is not None:
            cursor.occurrence, cursor.position = moment, last
            cursor.save(update_fields=["occurrence", "position", "updated_at"])
            return started
    cursor.read_until, cursor.occurrence, cursor.position = moment, None, 0
    cursor.save(update_fields=["read_until", "occurrence", "position", "updated_at"])
    return started


CONSUMERS = {
    "segment_entered": _segment_changes(SegmentChange.Kind.ENTERED),
    "segment_exited": _segment_changes(SegmentChange.Kind.EXITED),
    "lifecycle_changed": _by_time("lifecycle", lifecycle_rows, "changed_at", "life:"),
    "event": _by_time("event", event_rows, "occurred_at", "event:"),
    "order_placed": _by_time("order", order_rows, "placed_at", "order:"),
    "scheduled": _scheduled,
}


def triggers_consume(*, now: datetime.datetime | None = None,
                     customers: Iterable[int] | None = None) -> int:
    """Read every active campaign's trigger source and start the journeys it calls for;
    with `customers`, just those customers' recent events and orders. A campaign another
    worker is reading right now is skipped (it is being done). Returns journeys started."""
    now = now or timezone.now()
    customers = None if customers is None else list(customers)
    started = 0
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.ACTIVE).exclude(
            current_version=None).values_list("pk", flat=True):
        started += _consume_one(campaign_id, now, customers)
        under_way = _entries_under_way(campaign_id) if customers is None else []
        while under_way:  # a large audience: its next chunk, each committed on its own
            started += _consume_one(campaign_id, now, customers)
            under_way, before = _entries_under_way(campaign_id), under_way
            if under_way == before:  # paused, or another worker is at it
                break
    return started


def _entries_under_way(campaign_id: int) -> list[int]:
    """How far each chunked entry of the campaign has got (none: nothing under way)."""
    return sorted(TriggerCursor.objects.filter(campaign_id=campaign_id, occurrence__isnull=False)
                  .values_list("position", flat=True))


def _consume_one(campaign_id: int, now: datetime.datetime,
                 customers: list[int] | None) -> int:
    with transaction.atomic():
        # NO KEY UPDATE: excludes another reader of the campaign and a status change, but not
        # the runners, whose foreign-key checks take KEY SHARE locks on the campaign row.
        campaign = (Campaign.objects.select_for_update(skip_locked=True, no_key=True)
                    .filter(pk=campaign_id, status=Campaign.Status.ACTIVE).first())
        if campaign is None or campaign.current_version_id is None:
            return 0
        trigger = version_graph(campaign.current_version_id).trigger
        return CONSUMERS[trigger.type.key](campaign, trigger.config, now, customers)


def triggers_start(campaign: Campaign, now: datetime.datetime) -> None:
    """On activation (campaign.activated_at = now): a segment trigger reads the change log
    from its current end. Time-read triggers and schedules need nothing: they never look
    before activated_at."""
    trigger = version_graph(campaign.current_version_id).trigger
    kind = {"segment_entered": SegmentChange.Kind.ENTERED,
            "segment_exited": SegmentChange.Kind.EXITED}.get(trigger.type.key)
    if kind is None:
        return
    settled = change_log_settled(trigger.config.segment)
    if settled is None:  # an evaluation began before activation: what it writes is before
        settled = SegmentChange.objects.filter(segment_id=trigger.config.segment).aggregate(
            Max("id"))["id__max"] or 0
    TriggerCursor.objects.update_or_create(
        campaign=campaign, source=_segment_source(trigger.config.segment, kind),
        defaults={"position": settled, "read_until": now})
