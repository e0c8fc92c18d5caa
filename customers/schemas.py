"""The shapes storefronts send, declared once.

The storefront API, the CSV import and the OpenAPI docs all read these pydantic models.
pydantic validates in compiled code, which keeps batch ingest and CSV import fast.

Naive datetimes are read in the time zone passed as validation context (`{"tz": ZoneInfo}`),
which the API sets to the storefront's own zone.
"""

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import pydantic_core
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from customers.models import is_time_zone

MAX_BATCH = 1000
# Clock skew a storefront may have before a timestamp counts as "in the future".
MAX_FUTURE = dt.timedelta(days=1)

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{3}$")]
EventName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
# BCP 47 as storefronts send it ("en", "zh-Hans-CN"), stored in lower case; "" clears it.
Language = Annotated[str, StringConstraints(
    strip_whitespace=True, to_lower=True, max_length=16,
    pattern=r"^([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)?$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
_PHONE = re.compile(r"^\+?[0-9 ()\-]{3,32}$")
_MAX_JSON_KEYS = 100
# Free-form JSON (attributes, properties) nests at most this deep: room for real payloads,
# none for a hostile one that costs every later reader recursion.
_MAX_JSON_DEPTH = 8


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def in_utc(moment: dt.datetime) -> dt.datetime:
    """An aware moment in UTC, as it is stored: ISO 8601 allows offsets up to 23:59,
    PostgreSQL reads at most 15:59. Raises ValueError for a moment UTC cannot hold (year 1
    with a positive offset)."""
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


def _aware(value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        tz = (info.context or {}).get("tz") or dt.UTC
        value = value.replace(tzinfo=tz)
    value = in_utc(value)
    if value > timezone.now() + MAX_FUTURE:
        raise ValueError("is in the future")
    return value


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > _MAX_JSON_KEYS:
        raise ValueError(f"has more than {_MAX_JSON_KEYS} keys")
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > _MAX_JSON_DEPTH:
                raise ValueError(f"nests deeper than {_MAX_JSON_DEPTH} levels")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(node, float) and not math.isfinite(node):
            # JSON has no NaN or Infinity, and PostgreSQL's jsonb refuses them.
            raise ValueError("contains NaN or Infinity")
    return value


class CustomerIn(_Input):
    """A customer profile. Fields left out keep their stored value."""

    external_id: ExternalId
    email: Annotated[str, StringConstraints(max_length=254)] = ""
    phone: Annotated[str, StringConstraints(max_length=32)] = ""
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    gender: Literal["", "female", "male", "other"] = ""
    birthday: dt.date | None = None
    city: ShortText = ""
    signup_at: dt.datetime | None = None
    acquisition_channel: Annotated[str, StringConstraints(max_length=50)] = ""
    time_zone: Annotated[str, StringConstraints(max_length=64)] = ""
    language: Language = Field(
        default="", description="BCP 47 language tag, e.g. `en`, `zh-Hans` or `zh-Hans-CN` "
                                "(stored in lower case); messages use its translation.")
    email_consent: bool | None = None
    email_consent_at: dt.datetime | None = None
    sms_consent: bool | None = None
    sms_consent_at: dt.datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value:
            try:
                validate_email(value)
            except DjangoValidationError as exc:
                raise ValueError("is not a valid email address") from exc
        return value.lower()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and not _PHONE.match(value):
            raise ValueError("is not a phone number (digits, spaces, +, -, parentheses)")
        return value

    @field_validator("birthday")
    @classmethod
    def _birthday(cls, value: dt.date | None) -> dt.date | None:
        if value and not dt.date(1900, 1, 1) <= value <= timezone.now().date():
            raise ValueError("must be between 1900-01-01 and today")
        return value

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        if value and not is_time_zone(value):
            raise ValueError(f"{value!r} is not an IANA time zone such as 'Asia/Shanghai'")
        return value

    @field_validator("signup_at", "email_consent_at", "sms_consent_at")
    @classmethod
    def _timestamps(cls, value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        return _aware(value, info)

    _attributes = field_validator("attributes")(_small_json)


class LineItem(_Input):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    quantity: int = Field(default=1, ge=1, le=100_000)
    price: Money = Decimal(0)
    category: Annotated[str, StringConstraints(max_length=100)] = ""


class OrderIn(_Input):
    """An order. Sending the same external_id again updates it (a refund is a status change)."""

    external_id: ExternalId
    customer: ExternalId = Field(
        description="The customer's external id; unknown ones are created.")
    amount: Money
    refunded_amount: Money = Decimal(0)
    currency: Currency | None = Field(default=None, description="Defaults to the storefront's.")
    status: Literal["pending", "paid", "refunded", "cancelled"] = "paid"
    placed_at: dt.datetime
    coupon_code: Annotated[str, StringConstraints(max_length=64)] = ""
    items: list[LineItem] = Field(default_factory=list, max_length=500)

    @field_validator("placed_at")
    @classmethod
    def _placed_at(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        return _aware(value, info)

    @model_validator(mode="after")
    def _refund_within_amount(self) -> "OrderIn":
        if self.refunded_amount > self.amount:
            raise ValueError("refunded_amount cannot exceed amount")
        return self


class EventIn(_Input):
    """A behaviour event. With an event_id, sending it again changes nothing."""

    customer: ExternalId = Field(
        description="The customer's external id; unknown ones are created.")
    name: EventName = Field(description="visit, login, cart_add, ... (letters, digits, _ . : -)")
    occurred_at: dt.datetime | None = Field(default=None, description="Defaults to now.")
    properties: dict[str, Any] = Field(default_factory=dict)
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at(cls, value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        return _aware(value, info)

    _properties = field_validator("properties")(_small_json)


class CustomerBatchIn(_Input):
    items: list[CustomerIn] = Field(min_length=1, max_length=MAX_BATCH)


class OrderBatchIn(_Input):
    items: list[OrderIn] = Field(min_length=1, max_length=MAX_BATCH)


class EventBatchIn(_Input):
    items: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


def error_list(exc) -> list[dict[str, str]]:
    """pydantic errors as [{"field": "items[3].amount", "message": ...}] (the API's format)."""
    out = []
    for error in exc.errors(include_url=False):
        field = ""
        for part in error["loc"]:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        message = error["msg"].removeprefix("Value error, ")
        out.append({"field": field, "message": message})
    return out


def has_nul(node: Any) -> bool:
    """Whether a JSON value holds the NUL character anywhere: PostgreSQL text and jsonb cannot
    store it, and JSON can only carry it escaped (\\u0000)."""
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(has_nul(key) or has_nul(value) for key, value in node.items())
    if isinstance(node, list):
        return any(has_nul(value) for value in node)
    return False


class NulInJson(ValueError):
    """JSON text holding NUL (\\u0000), which no PostgreSQL text or jsonb value can store."""


def read_json(text: str | bytes) -> Any:
    """A JSON value read with jiter: NaN/Infinity and lone surrogates refused, nesting stopped
    at 200 levels (where Python's json module recurses until it fails), text holding NUL
    refused (NulInJson). Raises ValueError. JSON carries NUL only escaped, so values are
    searched for it only when the text holds the escape."""
    value = pydantic_core.from_json(text, allow_inf_nan=False)
    escape = b"\\u0000" if isinstance(text, bytes) else "\\u0000"
    if escape in text and has_nul(value):
        raise NulInJson("holds NUL (\\u0000)")
    return value
