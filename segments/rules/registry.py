"""The one registry of rule fields and operators. The parser, the compiler, the explainer, the
API's field list and the docs all read it; nothing else declares a field or an operator."""

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Q
from django.utils.functional import Promise
from pydantic import TypeAdapter

from segments.rules.context import Context


class FieldType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"
    DATE = "date"
    DAYS_SINCE = "days_since"  # whole days since a moment, derived at evaluation time
    TAGS = "tags"
    ATTRIBUTE = "attribute"  # one key of the free-form attributes: string, number or boolean
    BEHAVIOUR = "behaviour"  # not a value: events, orders, carts, membership
    SEGMENT = "segment"


class Group(enum.StrEnum):
    PROFILE = "profile"
    CONSENT = "consent"
    VALUE = "value"
    BEHAVIOUR = "behaviour"
    MEMBERSHIP = "membership"


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    label: Promise
    type: FieldType
    group: Group
    operators: tuple[str, ...]
    # ORM path from Customer to the stored value (None for behaviour pseudo-fields).
    path: str | None = None
    choices: tuple[tuple[str, Promise], ...] = ()
    description: Promise | str = ""
    # (condition, customer, context) -> the customer's side of a condition, for the explainer:
    # fields registered by a higher app (campaigns) bring their own, as segments cannot read
    # their tables.
    explain: Callable[..., Any] | None = None

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(value for value, _label in self.choices)


# compile(field, value, context) -> Q over Customer. The Q must be a definite true/false for
# every customer (never SQL NULL), so that "!" of it is its exact complement.
Compile = Callable[[Field, Any, Context], Q]


@dataclasses.dataclass(frozen=True)
class Operator:
    name: str  # the JsonLogic operation (standard ones where JsonLogic has one)
    label: Promise
    compile: Compile
    # The value's schema for a field: a pydantic TypeAdapter (None: the operator takes no value).
    value_schema: Callable[[Field], TypeAdapter | None]
    nulls: Promise  # what it does with a customer who has no value
    # True when the result moves with the clock alone (needs scheduled re-evaluation).
    time_dependent: bool | Callable[[Field], bool] = False
    description: Promise | str = ""

    def is_time_dependent(self, field: Field) -> bool:
        if callable(self.time_dependent):
            return self.time_dependent(field)
        return self.time_dependent


ATTRIBUTE_PREFIX = "attributes."
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

FIELDS: dict[str, Field] = {}
OPERATORS: dict[str, Operator] = {}


def register_field(field: Field) -> Field:
    assert field.name not in FIELDS, field.name  # noqa: S101 - a programming error at import
    FIELDS[field.name] = field
    return field


def register_operator(operator: Operator) -> Operator:
    assert operator.name not in OPERATORS, operator.name  # noqa: S101
    OPERATORS[operator.name] = operator
    return operator


def field_lookup(name: str) -> Field | None:
    """The registered field, or the attribute field for `attributes.<key>`."""
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name.removeprefix(ATTRIBUTE_PREFIX)
        if not ATTRIBUTE_KEY.match(key):
            return None
        template = FIELDS[ATTRIBUTE_PREFIX + "*"]
        return dataclasses.replace(template, name=name, path=f"attributes__{key}")
    if name.endswith("*"):
        return None
    return FIELDS.get(name)


def attribute_key(field: Field) -> str:
    return field.name.removeprefix(ATTRIBUTE_PREFIX)


def describe() -> Mapping[str, Any]:
    """The registry as the operator UI's rule builder reads it (GET /api/v1/segment-fields/)."""
    return {
        "fields": [_describe_field(field) for field in FIELDS.values()],
        "operators": [_describe_operator(op) for op in OPERATORS.values()],
    }


def _describe_field(field: Field) -> dict[str, Any]:
    return {
        "name": field.name,
        "label": str(field.label),
        "type": field.type.value,
        "group": field.group.value,
        "description": str(field.description),
        "operators": [
            {"name": name, "value_schema": _schema(OPERATORS[name].value_schema(field))}
            for name in field.operators
        ],
        "choices": [{"value": value, "label": str(label)} for value, label in field.choices],
    }


def _describe_operator(operator: Operator) -> dict[str, Any]:
    return {
        "name": operator.name,
        "label": str(operator.label),
        "nulls": str(operator.nulls),
        "description": str(operator.description),
    }


def _schema(adapter: TypeAdapter | None) -> dict[str, Any] | None:
    return None if adapter is None else adapter.json_schema()
