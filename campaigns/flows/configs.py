"""Value types shared by node configs."""

import datetime
import re
from typing import Annotated

from pydantic import AfterValidator, Field, PositiveInt

from campaigns.flows.registry import Config

TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _time_of_day(value: str) -> str:
    if not TIME_OF_DAY.match(value):
        raise ValueError("a time of day is HH:MM, 00:00 to 23:59")
    return value


def parse_time(value: str) -> datetime.time:
    hours, minutes = value.split(":")
    return datetime.time(int(hours), int(minutes))


TimeOfDay = Annotated[str, AfterValidator(_time_of_day),
                      Field(description="HH:MM, 24-hour clock", examples=["09:00"])]
Weekday = Annotated[int, Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")]
Id = Annotated[PositiveInt, Field(description="The id of the row it refers to")]
EventName = Annotated[str, Field(min_length=1, max_length=64)]
PropertyValue = str | int | float | bool


class Duration(Config):
    days: int = Field(0, ge=0, le=365, description="Days (added to hours and minutes)")
    hours: int = Field(0, ge=0, le=24 * 365, description="Hours")
    minutes: int = Field(0, ge=0, le=60 * 24 * 365, description="Minutes")

    def delta(self) -> datetime.timedelta:
        return datetime.timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    def problems(self, *, at_least: datetime.timedelta = datetime.timedelta(minutes=1),
                 at_most: datetime.timedelta = datetime.timedelta(days=365)) -> list[str]:
        if not at_least <= self.delta() <= at_most:
            return [f"the duration must be between {at_least} and {at_most.days} days"]
        return []


ALL_WEEKDAYS = (0, 1, 2, 3, 4, 5, 6)
