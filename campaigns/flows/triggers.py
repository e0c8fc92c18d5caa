"""Trigger node types: what starts a journey. How each one reads its source (the segment
change log, lifecycle changes, events, orders, a schedule) is campaigns/services/triggers.py,
keyed by these types."""

import datetime
from decimal import Decimal
from typing import Literal

from django.utils.translation import gettext_lazy as _
from pydantic import Field, model_validator

from campaigns.flows.configs import ALL_WEEKDAYS, EventName, Id, PropertyValue, TimeOfDay, Weekday
from campaigns.flows.registry import Category, Config, NodeType, Reference, fixed_ports, register

NEXT = fixed_ports("next")
Stage = Literal["prospect", "new", "active", "dormant", "churned"]


class SegmentTrigger(Config):
    segment: Id = Field(description="The segment's id")


def _segment_ref(config) -> list[Reference]:
    return [Reference("segment", config.segment, "segment")]


SEGMENT_ENTERED = register(NodeType(
    key="segment_entered", label=_("Entered a segment"), category=Category.TRIGGER,
    config=SegmentTrigger, ports=NEXT, references=_segment_ref,
    description=_("Starts when a customer enters the segment (its change log).")))

SEGMENT_EXITED = register(NodeType(
    key="segment_exited", label=_("Left a segment"), category=Category.TRIGGER,
    config=SegmentTrigger, ports=NEXT, references=_segment_ref,
    description=_("Starts when a customer leaves the segment.")))


class LifecycleTrigger(Config):
    to_stage: Stage = Field(description="The stage the customer moves to")
    from_stage: Stage | None = Field(None, description="Only from this stage (null: any)")


LIFECYCLE_CHANGED = register(NodeType(
    key="lifecycle_changed", label=_("Lifecycle stage changed"), category=Category.TRIGGER,
    config=LifecycleTrigger, ports=NEXT,
    description=_("Starts when a customer moves to the stage (optionally: from a given "
                  "stage), e.g. became dormant.")))


class EventTrigger(Config):
    name: EventName = Field(description="The event's name, as the storefront sends it")
    properties: dict[str, PropertyValue] = Field(
        default_factory=dict, max_length=10,
        description='Only events with these property values, e.g. {"sku": "TEA-01"}')


EVENT = register(NodeType(
    key="event", label=_("Event happened"), category=Category.TRIGGER,
    config=EventTrigger, ports=NEXT,
    description=_("Starts when the storefront sends the event (cart_add, signup, a custom "
                  "one), optionally with given properties. Events that happened more than a "
                  "day before they arrive start nothing.")))


class OrderTrigger(Config):
    min_amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2,
                                       description="Only orders of at least this amount, "
                                                   "net of refunds")


ORDER_PLACED = register(NodeType(
    key="order_placed", label=_("Order paid"), category=Category.TRIGGER,
    config=OrderTrigger, ports=NEXT,
    description=_("Starts when a paid order arrives (optionally: at least this amount).")))


class ScheduledTrigger(Config):
    segment: Id = Field(description="Who: the segment's members at that moment")
    at: datetime.datetime | None = Field(
        None, description="A one-off broadcast at this moment (in the past: as soon as the "
                          "campaign is active)")
    time: TimeOfDay | None = Field(None, description="Recurring: every chosen weekday at "
                                                     "this time of day")
    weekdays: list[Weekday] = Field(default_factory=lambda: list(ALL_WEEKDAYS),
                                    min_length=1, max_length=7,
                                    description="Recurring: on these weekdays (0 = Monday)")
    local_time: bool = Field(False, description="Recurring: in each customer's own time "
                                                "zone rather than the shop's")

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.at is None) == (self.time is None):
            raise ValueError("give either `at` (a one-off broadcast) or `time` (recurring)")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("`at` needs a time zone offset, e.g. 2026-12-24T09:00:00+08:00")
        return self


SCHEDULED = register(NodeType(
    key="scheduled", label=_("On a schedule"), category=Category.TRIGGER,
    config=ScheduledTrigger, ports=NEXT, references=_segment_ref,
    description=_("Starts the segment's members once at a given moment (a broadcast), or "
                  "every day (or chosen weekdays) at a time of day, in the shop's or each "
                  "customer's time zone.")))
