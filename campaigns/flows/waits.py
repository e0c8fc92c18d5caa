"""Wait node types. A waiting journey stays at its wait node with its next look-at time
(`due_at`) in the database; the runner's sweep wakes it. No Celery countdown is involved, so
nothing is lost or doubled across broker restarts."""

import datetime
import re
from collections.abc import Sequence
from typing import Literal

from django.utils.translation import gettext_lazy as _
from pydantic import Field, field_validator

from campaigns.flows.configs import (
    ALL_WEEKDAYS,
    ATTRIBUTE_KEY,
    Duration,
    EventName,
    PropertyValue,
    TimeOfDay,
    Weekday,
    parse_time,
)
from campaigns.flows.lookups import (
    activity_times,
    customer_values,
    customer_zones,
    local_moment,
    zone,
)
from campaigns.flows.registry import (
    Category,
    Config,
    Go,
    Hold,
    NodeType,
    Outcome,
    Run,
    Walker,
    fixed_ports,
    register,
)

NEXT = fixed_ports("next")


def _hold_until(moment: datetime.datetime, run: Run, port: str = "next") -> Outcome:
    return Go(port) if moment <= run.now else Hold(until=moment)


# --- a duration ------------------------------------------------------------------------------

class WaitConfig(Duration):
    pass


def _wait(node_id: str, config: WaitConfig, walkers: Sequence[Walker], run: Run
          ) -> list[Outcome]:
    return [_hold_until(walker.arrived_at + config.delta(), run) for walker in walkers]


WAIT = register(NodeType(
    key="wait", label=_("Wait"), category=Category.WAIT, config=WaitConfig, ports=NEXT,
    execute=_wait, check=lambda config: config.problems(),
    description=_("Waits a number of days, hours and minutes.")))


# --- until a time of day ---------------------------------------------------------------------

class WaitUntilConfig(Config):
    time: TimeOfDay = Field(description="The time of day in the customer's time zone")
    weekdays: list[Weekday] = Field(default_factory=lambda: list(ALL_WEEKDAYS), min_length=1,
                                    max_length=7, description="On these weekdays (0 = Monday)")


def next_time_of_day(moment: datetime.datetime, at: datetime.time, weekdays: Sequence[int],
                     tz) -> datetime.datetime:
    """The first `at` on one of `weekdays` in `tz` at or after `moment`."""
    local_day = moment.astimezone(tz).date()
    for ahead in range(8):
        day = local_day + datetime.timedelta(days=ahead)
        if day.weekday() in weekdays:
            candidate = local_moment(day, at, tz)
            if candidate >= moment:
                return candidate
    raise ValueError("no weekday given")  # the config requires at least one


def _wait_until(node_id: str, config: WaitUntilConfig, walkers: Sequence[Walker], run: Run
                ) -> list[Outcome]:
    zones = customer_zones(w.customer_id for w in walkers)
    at = parse_time(config.time)
    return [_hold_until(next_time_of_day(w.arrived_at, at, config.weekdays,
                                         zones.get(w.customer_id) or zone("")), run)
            for w in walkers]


WAIT_UNTIL = register(NodeType(
    key="wait_until", label=_("Wait until a time of day"), category=Category.WAIT,
    config=WaitUntilConfig, ports=NEXT, execute=_wait_until,
    description=_("Waits until the time of day (on the chosen weekdays) in the customer's own "
                  "time zone, e.g. 10:00 on weekdays.")))


# --- until a date of the customer's ------------------------------------------------------------

DATE_FIELD = re.compile(r"^(birthday|signup_at|attributes\.[A-Za-z_][A-Za-z0-9_]{0,63})$")


class WaitForDateConfig(Config):
    field: str = Field(description="birthday, signup_at, or attributes.<key> holding a date "
                                   "(YYYY-MM-DD)", examples=["birthday"])
    offset_days: int = Field(0, ge=-365, le=365,
                             description="Negative: before the date (-3: three days before)")
    time: TimeOfDay = Field("09:00", description="The time of day in the customer's time zone")
    annual: bool = Field(True, description="Every year (birthdays, anniversaries); otherwise "
                                           "the date itself, once")

    @field_validator("field")
    @classmethod
    def _field(cls, value: str) -> str:
        if not DATE_FIELD.match(value):
            raise ValueError("birthday, signup_at or attributes.<key>")
        return value


def date_of(value, tz) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.astimezone(tz).date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _on_year(date: datetime.date, year: int) -> datetime.date:
    """`date`'s month and day in `year`; 29 February is 28 February in other years."""
    if date.month == 2 and date.day == 29 and not _leap(year):
        return datetime.date(year, 2, 28)
    return date.replace(year=year)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def date_moment(date: datetime.date, config: WaitForDateConfig, after: datetime.datetime, tz
                ) -> datetime.datetime:
    """When the wait ends: the date (this or a later year when annual) plus the offset, at
    the time of day in `tz`. Not annual and already past: `after` itself (go on at once)."""
    at, offset = parse_time(config.time), datetime.timedelta(days=config.offset_days)
    if not config.annual:
        return max(local_moment(date + offset, at, tz), after)
    year = after.astimezone(tz).year
    for candidate_year in range(year - 1, year + 3):
        moment = local_moment(_on_year(date, candidate_year) + offset, at, tz)
        if moment >= after:
            return moment
    raise AssertionError("unreachable: a later year always qualifies")


def _wait_for_date(node_id: str, config: WaitForDateConfig, walkers: Sequence[Walker],
                   run: Run) -> list[Outcome]:
    column = "attributes" if config.field.startswith("attributes.") else config.field
    values = customer_values([w.customer_id for w in walkers], column, "time_zone")
    outcomes: list[Outcome] = []
    for walker in walkers:
        raw, zone_name = values.get(walker.customer_id, (None, ""))
        if column == "attributes":
            raw = (raw or {}).get(config.field.removeprefix("attributes."))
        tz = zone(zone_name)
        date = date_of(raw, tz)
        if date is None:
            outcomes.append(Go("missing", note="no date"))
        else:
            outcomes.append(_hold_until(date_moment(date, config, walker.arrived_at, tz), run))
    return outcomes


WAIT_FOR_DATE = register(NodeType(
    key="wait_for_date", label=_("Wait for a date"), category=Category.WAIT,
    config=WaitForDateConfig, ports=fixed_ports("next", "missing"), execute=_wait_for_date,
    description=_("Waits until a date of the customer's, with an offset, at a time of day in "
                  "their time zone: e.g. 3 days before their birthday at 09:00. Customers "
                  "without the date leave through 'missing'.")))


# --- for an event, with a timeout --------------------------------------------------------------

class WaitForEventConfig(Config):
    kind: Literal["order", "event"] = Field(
        "event", description="order: a paid order; event: a behaviour event by name")
    name: EventName | None = Field(None, description="With kind event: the event's name")
    properties: dict[str, PropertyValue] = Field(
        default_factory=dict, max_length=10,
        description="With kind event: only events with these property values")
    timeout: Duration = Field(description="How long to wait before leaving through 'timeout'")

    @field_validator("properties")
    @classmethod
    def _keys(cls, value: dict) -> dict:
        bad = [key for key in value if not ATTRIBUTE_KEY.match(key)]
        if bad:
            raise ValueError(f"property names are letters, digits and _: {', '.join(bad)}")
        return value


def _check_event(config: WaitForEventConfig) -> list[str]:
    problems = config.timeout.problems()
    if config.kind == "event" and not config.name:
        problems.append("name the event to wait for")
    if config.kind == "order" and (config.name or config.properties):
        problems.append("an order has no name or properties; leave them out")
    return problems


def _wait_for_event(node_id: str, config: WaitForEventConfig, walkers: Sequence[Walker],
                    run: Run) -> list[Outcome]:
    since = min(w.arrived_at for w in walkers)
    times = activity_times([w.customer_id for w in walkers], since, kind=config.kind,
                           name=config.name or "", properties=config.properties)
    outcomes: list[Outcome] = []
    for walker in walkers:
        happened = [t for t in times.get(walker.customer_id, ()) if t >= walker.arrived_at]
        if happened:
            outcomes.append(Go("happened"))
        else:
            outcomes.append(_hold_until(walker.arrived_at + config.timeout.delta(), run,
                                        port="timeout"))
    return outcomes


WAIT_FOR_EVENT = register(NodeType(
    key="wait_for_event", label=_("Wait for an event"), category=Category.WAIT,
    config=WaitForEventConfig, ports=fixed_ports("happened", "timeout"),
    execute=_wait_for_event, check=_check_event,
    description=_("Waits until the customer orders (or does the event), leaving through "
                  "'happened' at once, or through 'timeout' when the time is up.")))
