"""The one registry of canvas node types. The graph validator, the runner, the dry run, the
API's palette (GET /api/v1/flow-node-types/) and the docs all read it; nothing else declares a
node type.

A node type has a config (a pydantic model: its JSON Schema drives the canvas side panel), its
outgoing ports, what it refers to in the database, and, except for triggers, an executor that
runs it for a whole batch of journeys at once and says for each where it goes next.
"""

import dataclasses
import datetime
import enum
from collections.abc import Callable, Sequence
from typing import Any

from django.utils.functional import Promise
from pydantic import BaseModel, ConfigDict


class Category(enum.StrEnum):
    TRIGGER = "trigger"
    WAIT = "wait"
    LOGIC = "logic"  # conditions and splits
    ACTION = "action"
    EXIT = "exit"


class Config(BaseModel):
    """Base of every node config: unknown keys are refused by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclasses.dataclass(frozen=True)
class Reference:
    """A row a node's config points at; the validator checks it exists."""

    kind: str  # "segment", "coupon_definition", "message_template", "webhook"
    id: int
    field: str  # the config key, for the message
    expect: str = ""  # what the row must be, e.g. a template's channel


@dataclasses.dataclass(frozen=True)
class Walker:
    """One journey as an executor sees it: who, where, since when."""

    journey_id: int
    campaign_id: int
    customer_id: int
    step: int  # the number this node's step will be recorded under
    entered_at: datetime.datetime
    arrived_at: datetime.datetime  # when it reached the node being executed
    coupon_id: int | None = None  # the latest coupon the journey issued


# What an executor decides for one walker.
@dataclasses.dataclass(frozen=True)
class Go:
    """Leave through `port` now."""

    port: str
    note: str = ""
    coupon_id: int | None = None  # a coupon this step issued (messages after it mention it)


@dataclasses.dataclass(frozen=True)
class Hold:
    """Stay at this node; look again at `until` (or earlier when the customer acts)."""

    until: datetime.datetime


@dataclasses.dataclass(frozen=True)
class End:
    """The journey ends here (an exit node)."""

    note: str = ""


Outcome = Go | Hold | End


@dataclasses.dataclass(frozen=True)
class Run:
    """What an executor runs against. `outbox`: where the runner collects the messages it
    sends itself after its commit (campaigns.services.dispatch.Outbox); None when the
    dispatcher sends them (the runner inside a caller's transaction, a dry run)."""

    now: datetime.datetime
    outbox: Any = None


# execute(node_id, config, walkers, run) -> one outcome per walker, in order.
Execute = Callable[[str, Any, Sequence[Walker], Run], list[Outcome]]


@dataclasses.dataclass(frozen=True)
class NodeType:
    key: str  # stored in graph JSON; never renamed
    label: Promise
    category: Category
    config: type[Config]
    description: Promise
    # The ports a node of this type has, given its config (an A/B split's are its branches).
    ports: Callable[[Any], tuple[str, ...]]
    execute: Execute | None = None  # None for triggers: they start journeys, not run them
    references: Callable[[Any], list[Reference]] = lambda config: []
    # Extra checks that need more than the schema (e.g. a template of the node's channel).
    check: Callable[[Any], list[str]] = lambda config: []


NODE_TYPES: dict[str, NodeType] = {}


def register(node_type: NodeType) -> NodeType:
    if node_type.key in NODE_TYPES:
        raise ValueError(f"duplicate node type {node_type.key}")
    NODE_TYPES[node_type.key] = node_type
    return node_type


def fixed_ports(*names: str) -> Callable[[Any], tuple[str, ...]]:
    return lambda config: names


def describe() -> list[dict[str, Any]]:
    """The palette, as the canvas reads it: every type with its config schema and ports."""
    return [{
        "type": node_type.key,
        "label": str(node_type.label),
        "category": node_type.category.value,
        "description": str(node_type.description),
        "config_schema": node_type.config.model_json_schema(),
        # Ports of a default config; a split's ports follow its configured branches.
        "ports": list(_default_ports(node_type)),
    } for node_type in sorted(NODE_TYPES.values(), key=_palette_order)]


def _palette_order(node_type: NodeType) -> int:
    return list(Category).index(node_type.category)


def _default_ports(node_type: NodeType) -> tuple[str, ...]:
    try:
        return node_type.ports(None)
    except (AttributeError, TypeError):
        return ()
