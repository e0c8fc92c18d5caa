"""Why a customer is (not) in a segment: each condition of the rule checked against the
customer, with the customer's own value beside it, and the verdict of every group.

Each condition's verdict comes from the database (the compiled condition, filtered to the one
customer), so it is exactly what an evaluation decides. Groups combine their children's
verdicts; that is exact too, because a compiled condition is never SQL NULL.
"""

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, F, Max, Sum
from pydantic import BaseModel

from customers.models import Customer, Erasure, Event, Order, OrderStatus
from segments.models import Segment, SegmentMembership
from segments.rules import Context, compile_node, parse
from segments.rules.operators import percentile_threshold
from segments.rules.registry import FieldType, attribute_key
from segments.rules.tree import Condition, Node, Not

DAY = datetime.timedelta(days=1)


def segment_explain(*, segment: Segment, customer: Customer,
                    now: datetime.datetime | None = None) -> dict[str, Any]:
    """The explanation as the API returns it. Raises RuleError when the stored rule no
    longer parses."""
    context = Context.at(now)
    tree = _explain(parse(segment.rule), customer, context)
    membership = SegmentMembership.objects.filter(segment=segment, customer=customer).first()
    return {
        "segment": {"id": segment.pk, "name": segment.name},
        "customer": {"external_id": customer.external_id, "name": customer.name},
        "at": context.now,
        # An erased customer is in no segment, whatever the rule says of its orders.
        "matches": tree["matches"] and not Erasure.objects.filter(customer=customer).exists(),
        "is_member": membership is not None,
        "member_since": membership.entered_at if membership else None,
        "last_evaluated_at": segment.last_evaluated_at,
        "tree": tree,
    }


def _explain(node: Node, customer: Customer, context: Context) -> dict[str, Any]:
    if isinstance(node, Condition):
        return _condition(node, customer, context)
    if isinstance(node, Not):
        child = _explain(node.child, customer, context)
        return {"type": "not", "path": node.path, "matches": not child["matches"],
                "children": [child]}
    children = [_explain(child, customer, context) for child in node.children]
    verdicts = [child["matches"] for child in children]
    return {"type": node.kind, "path": node.path,
            "matches": all(verdicts) if node.kind == "and" else any(verdicts),
            "children": children}


def _condition(node: Condition, customer: Customer, context: Context) -> dict[str, Any]:
    matches = Customer.objects.filter(pk=customer.pk).filter(
        compile_node(node, context)).exists()
    return {
        "type": "condition",
        "path": node.path,
        "matches": matches,
        "field": node.field.name,
        "field_label": str(node.field.label),
        "operator": node.operator.name,
        "operator_label": str(node.operator.label),
        "value": _plain(node.value),
        "customer_value": customer_value(node, customer, context),
    }


def _plain(value: Any) -> Any:
    """A validated rule value as JSON-ready data (value models become objects)."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    if isinstance(value, tuple):
        return list(value)
    return value


# --- the customer's side of each condition --------------------------------------------------

def customer_value(node: Condition, customer: Customer, context: Context) -> Any:
    """What the condition compares for this customer: the stored value of a field, or for a
    behaviour condition the facts it counts (events, orders, membership)."""
    field = node.field
    reader = READERS.get(field.name) or field.explain
    if reader is not None:
        return reader(node, customer, context)
    if field.type == FieldType.ATTRIBUTE:
        return customer.attributes.get(attribute_key(field))
    value = _path_value(customer, field.path)
    if field.type == FieldType.DAYS_SINCE and value is not None:
        value = (context.now - value) // DAY
    if node.operator.name == "top_percent":
        threshold = percentile_threshold(field, node.value, context)
        return {"value": value, "top_percent_from": threshold}
    return value


def _path_value(customer: Customer, path: str | None) -> Any:
    value: Any = customer
    for part in (path or "").split("__"):
        try:
            value = getattr(value, part)
        except ObjectDoesNotExist:  # no metrics row yet
            return None
        if value is None:
            return None
    return value


def _window(context: Context, days: int | None) -> dict[str, datetime.datetime]:
    since = {} if days is None else {"gte": context.now - days * DAY}
    return {"lte": context.now, **since}


def _events(node: Condition, customer: Customer, context: Context) -> dict[str, Any]:
    wanted = node.value
    window = _window(context, wanted.within_days)
    events = Event.objects.filter(customer=customer, name=wanted.name,
                                  **{f"occurred_at__{op}": at for op, at in window.items()})
    for key, expected in wanted.properties.items():
        events = events.filter(**{f"properties__{key}": expected})
    facts = events.aggregate(count=Count("id"), last_at=Max("occurred_at"))
    return {"events": facts["count"], "last_at": facts["last_at"]}


def _orders(node: Condition, customer: Customer, context: Context) -> dict[str, Any]:
    if node.operator.name == "unpaid_order":
        pending = Order.objects.filter(customer=customer, status=OrderStatus.PENDING)
        return {"last_pending_order_at": pending.aggregate(at=Max("placed_at"))["at"]}
    window = _window(context, node.value.within_days)
    paid = Order.objects.filter(customer=customer, status=OrderStatus.PAID,
                                **{f"placed_at__{op}": at for op, at in window.items()})
    facts = paid.aggregate(count=Count("id"), spent=Sum(F("amount") - F("refunded_amount")))
    return {"paid_orders": facts["count"], "spent": facts["spent"] or Decimal("0.00")}


def _cart(_node: Condition, customer: Customer, _context: Context) -> dict[str, Any]:
    carts = Event.objects.filter(customer=customer, name="cart_add")
    orders = Order.objects.filter(customer=customer)
    return {"last_cart_add_at": carts.aggregate(at=Max("occurred_at"))["at"],
            "last_order_at": orders.aggregate(at=Max("placed_at"))["at"]}


def _membership(node: Condition, customer: Customer, _context: Context) -> dict[str, Any]:
    other = Segment.objects.filter(pk=node.value).values_list("name", flat=True).first()
    member = SegmentMembership.objects.filter(segment_id=node.value, customer=customer).exists()
    return {"segment": other, "is_member": member}


def _stage_changes(node: Condition, customer: Customer, _context: Context) -> dict[str, Any]:
    changes = customer.lifecycle_changes.filter(to_stage=node.value.stage,
                                                from_stage__isnull=False)
    return {"stage": _path_value(customer, node.field.path),
            "last_changed_to_at": changes.aggregate(at=Max("changed_at"))["at"]}


def _first_order(_node: Condition, customer: Customer, _context: Context) -> dict[str, Any]:
    return {"first_order_at": _path_value(customer, "metrics__first_order_at"),
            "paid_orders": _path_value(customer, "metrics__order_count") or 0}


def _lifecycle(node: Condition, customer: Customer, context: Context) -> Any:
    if node.operator.name == "stage_changed_to":
        return _stage_changes(node, customer, context)
    return _path_value(customer, node.field.path)


# Fields whose side of a condition is more than one stored column, by field name.
READERS = {
    "events": _events,
    "orders": _orders,
    "cart": _cart,
    "segment": _membership,
    "first_order": _first_order,
    "lifecycle_stage": _lifecycle,
}
