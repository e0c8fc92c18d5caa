"""Value schemas of rule operators (pydantic), by field type. Strict: a string is not a number."""

import datetime
import decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from customers.models import LifecycleStage
from customers.schemas import EventName
from segments.rules.registry import Field as RuleField
from segments.rules.registry import FieldType

MAX_DAYS = 36_500
MAX_LIST = 500

Text = Annotated[str, StringConstraints(max_length=200)]
Days = Annotated[StrictInt, Field(ge=0, le=MAX_DAYS)]
WindowDays = Annotated[StrictInt, Field(ge=1, le=MAX_DAYS)]
def _json_number(value: Any) -> Any:
    """Lax Decimal would take true as 1 and "5" as 5; a rule saying so is a mistake."""
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal):
        raise ValueError("expected a number")
    return value


def _number_schema(**bounds) -> WithJsonSchema:
    """What the rule builder is told: a JSON number (pydantic would say "number or string"
    for a Decimal, and strings are refused)."""
    return WithJsonSchema({"type": "number", **bounds})


Number = Annotated[
    decimal.Decimal,
    BeforeValidator(_json_number),
    Field(allow_inf_nan=False, ge=-(10**14), le=10**14),
    _number_schema(minimum=-(10**14), maximum=10**14),
]

def _iso_date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


IsoDate = Annotated[
    str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_iso_date)
]
AttributeValue = StrictBool | StrictInt | Annotated[float, Field(allow_inf_nan=False)] | Text


def scalar(field: RuleField) -> Any:
    """The type of one comparison value for this field."""
    match field.type:
        case FieldType.STRING:
            return Text
        case FieldType.INTEGER:
            return StrictInt
        case FieldType.NUMBER:
            return Number
        case FieldType.BOOLEAN:
            return StrictBool
        case FieldType.ENUM:
            return Literal[field.choice_values]
        case FieldType.DATE:
            return IsoDate
        case FieldType.DAYS_SINCE:
            return Days
        case FieldType.ATTRIBUTE:
            return AttributeValue
    raise ValueError(f"{field.type} has no scalar value")


def one(field: RuleField) -> TypeAdapter:
    return TypeAdapter(scalar(field))


def many(field: RuleField) -> TypeAdapter:
    return TypeAdapter(Annotated[list[scalar(field)], Field(min_length=1, max_length=MAX_LIST)])


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float | decimal.Decimal) else type(value).__name__


def _ordered_pair(pair: tuple) -> tuple:
    low, high = pair
    if _kind(low) != _kind(high):  # an attribute's bounds: [1, "a"] cannot be ordered
        raise ValueError("both bounds must be of the same type")
    if low > high:
        raise ValueError("the first bound must not exceed the second")
    return pair


def pair(field: RuleField) -> TypeAdapter:
    item = scalar(field)
    return TypeAdapter(Annotated[tuple[item, item], AfterValidator(_ordered_pair)])


def none(_field: RuleField) -> None:
    return None


def text(_field: RuleField) -> TypeAdapter:
    return TypeAdapter(Annotated[str, StringConstraints(min_length=1, max_length=200)])


def texts(_field: RuleField) -> TypeAdapter:
    item = Annotated[str, StringConstraints(min_length=1, max_length=200)]
    return TypeAdapter(Annotated[list[item], Field(min_length=1, max_length=MAX_LIST)])


def days(_field: RuleField) -> TypeAdapter:
    return TypeAdapter(Days)


def window_days(_field: RuleField) -> TypeAdapter:
    return TypeAdapter(WindowDays)


def percent(_field: RuleField) -> TypeAdapter:
    return TypeAdapter(Annotated[
        decimal.Decimal, BeforeValidator(_json_number), Field(gt=0, le=100, allow_inf_nan=False),
        _number_schema(exclusiveMinimum=0, maximum=100),
    ])


def segment_id(_field: RuleField) -> TypeAdapter:
    return TypeAdapter(Annotated[StrictInt, Field(ge=1)])


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


PropertyValue = StrictBool | StrictInt | Annotated[float, Field(allow_inf_nan=False)] | Text


class EventCondition(_Value):
    name: EventName
    min_count: Annotated[int, Field(ge=1, le=100_000)] = 1
    within_days: WindowDays | None = None
    properties: Annotated[dict[Annotated[str, StringConstraints(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], PropertyValue], Field(max_length=10)] = {}


class OrdersCondition(_Value):
    within_days: WindowDays
    min_count: Annotated[int, Field(ge=1, le=100_000)] | None = None
    min_amount: Annotated[decimal.Decimal, BeforeValidator(_json_number), Field(
        ge=0, le=10**14, allow_inf_nan=False, strict=False),
        _number_schema(minimum=0, maximum=10**14)] | None = None

    @model_validator(mode="after")
    def _needs_a_threshold(self) -> "OrdersCondition":
        if self.min_count is None and self.min_amount is None:
            raise ValueError("give min_count, min_amount or both")
        return self


class FirstOrderCondition(_Value):
    days: WindowDays


class WaitCondition(_Value):
    """An action not followed up within `hours` (carts, unpaid orders), looked for over the
    last `within_days` days."""

    hours: Annotated[int, Field(ge=1, le=24 * 90)]
    within_days: Annotated[int, Field(ge=1, le=365)] = 7


class StageChangeCondition(_Value):
    stage: Literal[tuple(LifecycleStage.values)]
    within_days: WindowDays


def model(value_model: type[BaseModel]):
    adapter = TypeAdapter(value_model)

    def schema(_field: RuleField) -> TypeAdapter:
        return adapter

    return schema
