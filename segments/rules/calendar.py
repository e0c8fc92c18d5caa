"""Calendar conditions in the customer's own time zone, set-based.

At any instant every time zone's local date is one of at most three dates, so a condition on
"today" becomes one OR-branch per local date, each naming the time zones that are on that date.
Customers without a valid time zone use the shop's (Context.default_zone).
"""

import calendar
import datetime
import functools
import zoneinfo

from django.db.models import Q

from segments.rules.context import Context


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local_date(now: datetime.datetime, zone_name: str, default: zoneinfo.ZoneInfo
               ) -> datetime.date:
    """The date at `now` in `zone_name`, or in `default` when the name is blank or unknown."""
    zone = _zone(zone_name) if zone_name in _zone_set() else default
    return now.astimezone(zone).date()


@functools.cache
def _zone_set() -> frozenset[str]:
    return frozenset(_zone_names())


def zone_groups(context: Context) -> list[tuple[datetime.date, Q]]:
    """(local date, Q selecting customers whose local date it is) for each date in use now.
    The default zone's date also takes every customer whose zone is blank or unknown."""
    key = ("zone_groups", context.now)
    if key in context.cache:
        return context.cache[key]
    default_date = context.now.astimezone(context.default_zone).date()
    names_by_date: dict[datetime.date, list[str]] = {}
    for name in _zone_names():
        names_by_date.setdefault(context.now.astimezone(_zone(name)).date(), []).append(name)
    others = [name for day, names in names_by_date.items() if day != default_date
              for name in names]
    groups = [(default_date, ~Q(time_zone__in=others))]
    groups += [(day, Q(time_zone__in=names)) for day, names in sorted(names_by_date.items())
               if day != default_date]
    context.cache[key] = groups
    return groups


def month_day(day: datetime.date) -> int:
    return day.month * 100 + day.day


def anniversary_ranges(start: datetime.date, days: int) -> list[tuple[int, int]]:
    """Month-day ranges (MMDD, inclusive) whose anniversaries fall on start .. start + days.
    29 February is celebrated on 28 February in years without one."""
    ranges: list[list[int]] = []
    previous_year = None
    for offset in range(days + 1):
        day = start + datetime.timedelta(days=offset)
        md = month_day(day)
        if day.year != previous_year:
            ranges.append([md, md])
            previous_year = day.year
        ranges[-1][1] = md
        if md == 228 and not calendar.isleap(day.year):
            ranges[-1][1] = 229
    return [(low, high) for low, high in ranges]


def celebrates(birthday: datetime.date, on: datetime.date) -> bool:
    """Plain-Python statement of the rule above, for one day (used by explain and tests)."""
    if (birthday.month, birthday.day) == (on.month, on.day):
        return True
    return (birthday.month, birthday.day) == (2, 29) and (on.month, on.day) == (2, 28) \
        and not calendar.isleap(on.year)
