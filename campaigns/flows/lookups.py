"""Batch reads the executors share: one query for a whole batch of walkers, never one per
customer."""

import datetime
import functools
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings

from customers.models import Customer, Event, Order, OrderStatus, is_time_zone


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The customer's zone; the shop's (settings.TIME_ZONE) when unknown or unset."""
    return zoneinfo.ZoneInfo(name if name and is_time_zone(name) else settings.TIME_ZONE)


def customer_zones(customer_ids: Iterable[int]) -> dict[int, zoneinfo.ZoneInfo]:
    rows = Customer.objects.filter(pk__in=set(customer_ids)).values_list("pk", "time_zone")
    return {pk: zone(name) for pk, name in rows}


def customer_values(customer_ids: Iterable[int], *fields: str) -> dict[int, tuple]:
    rows = Customer.objects.filter(pk__in=set(customer_ids)).values_list("pk", *fields)
    return {row[0]: row[1:] for row in rows}


def activity_times(customer_ids: Iterable[int], since: datetime.datetime, *, kind: str,
                   name: str = "", properties: dict | None = None
                   ) -> dict[int, list[datetime.datetime]]:
    """When each customer did it since `since`: a paid order (kind "order") or an event
    with this name and these property values (kind "event")."""
    ids = set(customer_ids)
    if kind == "order":
        rows = Order.objects.filter(customer_id__in=ids, status=OrderStatus.PAID,
                                    placed_at__gte=since).values_list("customer_id", "placed_at")
    else:
        filters = {f"properties__{key}": value for key, value in (properties or {}).items()}
        rows = Event.objects.filter(customer_id__in=ids, name=name, occurred_at__gte=since,
                                    **filters).values_list("customer_id", "occurred_at")
    times: dict[int, list[datetime.datetime]] = defaultdict(list)
    for customer_id, moment in rows:
        times[customer_id].append(moment)
    return times


def local_moment(day: datetime.date, at: datetime.time, tz: zoneinfo.ZoneInfo
                 ) -> datetime.datetime:
    """`at` on `day` in `tz`, as UTC. A time skipped by a daylight-saving change falls an
    hour later (as the wall clock reads after the jump)."""
    naive = datetime.datetime.combine(day, at)
    moment = naive.replace(tzinfo=tz).astimezone(datetime.UTC)
    if moment.astimezone(tz).replace(tzinfo=None) != naive:  # the wall clock skipped it
        moment = (naive + datetime.timedelta(hours=1)).replace(tzinfo=tz).astimezone(
            datetime.UTC)
    return moment
