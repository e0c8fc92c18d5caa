"""A plain-Python reference evaluator of segment rules.

Written from the documented semantics (the module docstring of segments/rules/operators.py,
each operator's description and NULL note), independently of the compiler: it reads plain rows
loaded from the database once and never builds a query from a rule. The golden tests hold it to
hand-checked member sets; the property tests compare it with the SQL the compiler produces.

    world = World.load(now, default_zone)
    members(parse(rule), world)  # {customer id, ...}
"""

import calendar
import dataclasses
import datetime as dt
import math
import operator
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import F

from campaigns.models import Coupon
from customers.models import (
    Customer,
    CustomerMetrics,
    CustomerPrediction,
    Event,
    LifecycleChange,
    Order,
    OrderStatus,
)
from segments.models import SegmentMembership
from segments.rules.registry import ATTRIBUTE_PREFIX, FIELDS, Field, FieldType
from segments.rules.tree import Condition, Group, Node, Not

DAY = dt.timedelta(days=1)
MISSING = object()  # an attribute key the customer does not have
ZONES = frozenset(zoneinfo.available_timezones())
# Every month-day comes round within any 366 consecutive days (29 February too: on 28 February
# in other years), so a longer look-ahead finds nothing new.
FULL_YEAR = 366


@dataclasses.dataclass
class World:
    now: dt.datetime
    default_zone: zoneinfo.ZoneInfo
    customers: list[dict]
    metrics: dict[int, dict]
    orders: dict[int, list[dict]]
    events: dict[int, list[dict]]
    stage_changes: dict[int, list[dict]]
    memberships: dict[int, set[int]]
    coupons: dict[int, list[dict]] = dataclasses.field(default_factory=dict)
    predictions: dict[int, dict] = dataclasses.field(default_factory=dict)
    thresholds: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, now: dt.datetime, default_zone: zoneinfo.ZoneInfo | str = "UTC") -> "World":
        if isinstance(default_zone, str):
            default_zone = zoneinfo.ZoneInfo(default_zone)
        memberships: dict[int, set[int]] = defaultdict(set)
        for segment_id, customer_id in SegmentMembership.objects.values_list(
                "segment_id", "customer_id"):
            memberships[segment_id].add(customer_id)
        return cls(
            now=now, default_zone=default_zone,
            customers=list(Customer.objects.order_by("pk").annotate(
                last_seen_at=F("activity__last_seen_at")).values()),
            metrics={row["customer_id"]: row for row in CustomerMetrics.objects.values()},
            orders=_by_customer(Order.objects.values(
                "customer_id", "status", "amount", "refunded_amount", "placed_at")),
            events=_by_customer(Event.objects.values(
                "customer_id", "name", "occurred_at", "properties")),
            stage_changes=_by_customer(LifecycleChange.objects.values(
                "customer_id", "from_stage", "to_stage", "changed_at")),
            memberships=memberships,
            coupons=_by_customer(Coupon.objects.filter(customer__isnull=False).values(
                "customer_id", "status", "expires_at", "definition__is_active")),
            predictions={row["customer_id"]: row
                         for row in CustomerPrediction.objects.values()},
        )


def _by_customer(rows) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["customer_id"]].append(row)
    return grouped


def members(node: Node, world: World) -> set[int]:
    return {customer["id"] for customer in world.customers if holds(node, customer, world)}


def members_by_external_id(node: Node, world: World) -> set[str]:
    return {customer["external_id"] for customer in world.customers
            if holds(node, customer, world)}


def holds(node: Node, customer: dict, world: World) -> bool:
    if isinstance(node, Not):
        return not holds(node.child, customer, world)
    if isinstance(node, Group):
        results = (holds(child, customer, world) for child in node.children)
        return all(results) if node.kind == "and" else any(results)
    assert isinstance(node, Condition)
    return OPERATIONS[node.operator.name](world, customer, node.field, node.value)


# --- a customer's value of a field -----------------------------------------------------------

PROFILE = {"external_id", "email", "phone", "name", "city", "acquisition_channel", "time_zone",
           "gender", "birthday", "email_consent", "sms_consent", "tags"}
METRICS = {"frequency", "monetary", "ltv", "aov", "order_count", "r_score", "f_score",
           "m_score", "rfm_class", "lifecycle_stage"}
MOMENTS = {  # whole days since these moments
    "days_since_signup": (False, "signup_at"),
    "days_since_last_seen": (False, "last_seen_at"),
    "recency_days": (True, "last_order_at"),
    "days_since_first_order": (True, "first_order_at"),
}
PREDICTIONS = {"predicted_clv", "expected_purchases", "churn_probability", "value_coefficient",
               "predicted_clv_percentile", "expected_purchases_percentile",
               "churn_probability_percentile", "value_coefficient_percentile"}
BEHAVIOUR = {"first_order", "events", "orders", "cart", "segment", "coupons"}
KNOWN_FIELDS = PROFILE | METRICS | PREDICTIONS | set(MOMENTS) | BEHAVIOUR | {
    ATTRIBUTE_PREFIX + "*"}


def unknown_fields() -> set[str]:
    """Registered fields this reference does not know (a new field must be added here)."""
    return set(FIELDS) - KNOWN_FIELDS


def value(world: World, customer: dict, field: Field) -> Any:
    """The customer's value: None when there is none, MISSING for an absent attribute key."""
    name = field.name
    if name.startswith(ATTRIBUTE_PREFIX):
        attributes = customer["attributes"]
        key = name.removeprefix(ATTRIBUTE_PREFIX)
        return attributes.get(key, MISSING) if isinstance(attributes, dict) else MISSING
    if name in MOMENTS:
        from_metrics, column = MOMENTS[name]
        row = world.metrics.get(customer["id"]) if from_metrics else customer
        moment = None if row is None else row[column]
        return None if moment is None else (world.now - moment) // DAY  # floor, also < 0
    if name in METRICS or name in PREDICTIONS:
        row = _table(world, name).get(customer["id"])
        return None if row is None else row[name]
    return customer[name]


def _table(world: World, name: str) -> dict[int, dict]:
    return world.predictions if name in PREDICTIONS else world.metrics


def kind(item: Any) -> str:
    """The JSON type of a value (numbers are one type, as in JSON)."""
    if isinstance(item, bool):
        return "boolean"
    if isinstance(item, int | float | Decimal):
        return "number"
    if isinstance(item, str):
        return "string"
    if isinstance(item, dt.date):
        return "date"
    if item is None:
        return "null"
    return "array" if isinstance(item, list) else "object"


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge,
}


def compares(op: str, actual: Any, expected: Any) -> bool:
    """A value compares only with a rule value of its own type: 3 is not "3", 1 is not true.
    Text compares by code point."""
    if actual is MISSING or actual is None or kind(actual) != kind(expected):
        return False
    if isinstance(actual, float) and isinstance(expected, Decimal):
        expected = float(expected)  # a float column compares as a float (SQL double)
    return COMPARISONS[op](actual, expected)


# --- field comparisons -----------------------------------------------------------------------

def _comparison(op: str):
    def evaluate(world, customer, field, expected) -> bool:
        return compares(op, value(world, customer, field), expected)

    return evaluate


def _between(world, customer, field, bounds) -> bool:
    actual = value(world, customer, field)
    low, high = bounds
    return compares(">=", actual, low) and compares("<=", actual, high)


def _in(world, customer, field, items) -> bool:
    actual = value(world, customer, field)
    return any(compares("==", actual, item) for item in items)


def _is_null(world, customer, field, _value) -> bool:
    actual = value(world, customer, field)
    if field.type == FieldType.STRING:
        return actual == ""
    if field.type == FieldType.ENUM:
        return actual in (None, "")
    return actual is None or actual is MISSING  # attributes: a missing key or JSON null


ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _text(test: Callable[[str, str], bool]):
    def evaluate(world, customer, field, needle: str) -> bool:
        actual = value(world, customer, field)
        return isinstance(actual, str) and test(actual.translate(ASCII_FOLD),
                                                needle.translate(ASCII_FOLD))

    return evaluate


def _negation(name: str):
    def evaluate(world, customer, field, expected) -> bool:
        return not OPERATIONS[name](world, customer, field, expected)

    return evaluate


def _tags(test: Callable) -> Callable:
    def evaluate(_world, customer, _field, wanted) -> bool:
        tags = customer["tags"]
        wanted = [wanted] if isinstance(wanted, str) else wanted
        return test(tag in tags for tag in wanted)

    return evaluate


# --- calendar --------------------------------------------------------------------------------

def local_today(world: World, customer: dict) -> dt.date:
    """Today in the customer's time zone, or in the shop's when it is blank or not a zone."""
    name = customer["time_zone"]
    zone = zoneinfo.ZoneInfo(name) if name in ZONES else world.default_zone
    return world.now.astimezone(zone).date()


def celebrated_on(date: dt.date, day: dt.date) -> bool:
    if (date.month, date.day) == (day.month, day.day):
        return True
    leap_day = (date.month, date.day) == (2, 29)
    return leap_day and (day.month, day.day) == (2, 28) and not calendar.isleap(day.year)


def _celebrated_within(date: dt.date, start: dt.date, days: int) -> bool:
    return any(celebrated_on(date, start + offset * DAY)
               for offset in range(min(days, FULL_YEAR) + 1))


def _birthday_within(world, customer, _field, days) -> bool:
    birthday = customer["birthday"]
    return birthday is not None and _celebrated_within(
        birthday, local_today(world, customer), days)


def _birthday_today(world, customer, field, _value) -> bool:
    return _birthday_within(world, customer, field, 0)


def _birthday_this_month(world, customer, _field, _value) -> bool:
    birthday = customer["birthday"]
    return birthday is not None and birthday.month == local_today(world, customer).month


def _anniversary_within(world, customer, _field, days) -> bool:
    """The first paid order's date in the shop's zone comes round from the customer's today to
    today + days; the order's own day is no anniversary, so it must fall before today."""
    row = world.metrics.get(customer["id"])
    first = None if row is None else row["first_order_at"]
    if first is None:
        return False
    first_date = first.astimezone(world.default_zone).date()
    today = local_today(world, customer)
    return first_date < today and _celebrated_within(first_date, today, days)


def _anniversary_today(world, customer, field, _value) -> bool:
    return _anniversary_within(world, customer, field, 0)


# --- behaviour -------------------------------------------------------------------------------

def _within(moment: dt.datetime, world: World, days: int | None) -> bool:
    """Within the last `days` days (both ends included), or ever when days is None; never in
    the future."""
    return moment <= world.now and (days is None or moment >= world.now - days * DAY)


def _has_properties(properties: Any, wanted: dict) -> bool:
    if not isinstance(properties, dict):
        return False
    return all(key in properties and compares("==", properties[key], expected)
               for key, expected in wanted.items())


def _did_event(world, customer, _field, condition) -> bool:
    matching = [event for event in world.events[customer["id"]]
                if event["name"] == condition.name
                and _within(event["occurred_at"], world, condition.within_days)
                and _has_properties(event["properties"], condition.properties)]
    return len(matching) >= condition.min_count


def _paid(orders: list[dict]) -> list[dict]:
    return [order for order in orders if order["status"] == OrderStatus.PAID]


def _orders_within(world, customer, _field, condition) -> bool:
    orders = [order for order in _paid(world.orders[customer["id"]])
              if _within(order["placed_at"], world, condition.within_days)]
    spent = sum((order["amount"] - order["refunded_amount"] for order in orders), Decimal(0))
    return bool(orders) \
        and (condition.min_count is None or len(orders) >= condition.min_count) \
        and (condition.min_amount is None or spent >= condition.min_amount)


def _first_order_no_repeat(world, customer, _field, condition) -> bool:
    """The first paid order (metrics) is at least `days` old and no paid order was placed
    after it, up to `days` later."""
    row = world.metrics.get(customer["id"])
    first = None if row is None else row["first_order_at"]
    window = condition.days * DAY
    if first is None or first > world.now - window:
        return False
    return not any(first < order["placed_at"] <= first + window
                   for order in _paid(world.orders[customer["id"]]))


def _left(moments: list[dt.datetime], follow_ups: list[dt.datetime], world: World,
          condition) -> bool:
    """Some moment in the look-back window, at least `hours` old, with no follow-up from it
    to `hours` after it."""
    wait = dt.timedelta(hours=condition.hours)
    since, until = world.now - condition.within_days * DAY, world.now - wait
    return any(since <= moment <= until
               and not any(moment <= later <= moment + wait for later in follow_ups)
               for moment in moments)


def _cart_abandoned(world, customer, _field, condition) -> bool:
    carts = [event["occurred_at"] for event in world.events[customer["id"]]
             if event["name"] == "cart_add"]
    orders = [order["placed_at"] for order in world.orders[customer["id"]]]  # any status
    return _left(carts, orders, world, condition)


def _unpaid_order(world, customer, _field, condition) -> bool:
    orders = world.orders[customer["id"]]
    pending = [order["placed_at"] for order in orders if order["status"] == OrderStatus.PENDING]
    paid = [order["placed_at"] for order in _paid(orders)]
    return _left(pending, paid, world, condition)


def _stage_changed_to(world, customer, _field, condition) -> bool:
    return any(change["to_stage"] == condition.stage and change["from_stage"] is not None
               and _within(change["changed_at"], world, condition.within_days)
               for change in world.stage_changes[customer["id"]])


# --- ranking and membership ------------------------------------------------------------------

def _threshold(world: World, column: str, percent: Decimal) -> Any:
    """The value of the customer ranked ceil(population * percent / 100) from the top, among
    customers who have the value (in metrics or predictions); None without such customers."""
    key = (column, percent)
    if key not in world.thresholds:
        ranked = sorted((row[column] for row in _table(world, column).values()
                         if row[column] is not None), reverse=True)
        rank = math.ceil(len(ranked) * percent / 100)
        world.thresholds[key] = ranked[rank - 1] if rank else None
    return world.thresholds[key]


def _top_percent(world, customer, field, percent) -> bool:
    actual = value(world, customer, field)
    threshold = _threshold(world, field.name, percent)
    return actual is not None and threshold is not None and actual >= threshold and actual > 0


def _in_segment(world, customer, _field, segment_id) -> bool:
    return customer["id"] in world.memberships.get(segment_id, set())


def _coupon_expiring_within(world, customer, _field, days) -> bool:
    """Registered by campaigns (campaigns/rules.py): a usable personal code expiring after now
    and at most `days` days from now."""
    return any(coupon["status"] == "active" and coupon["definition__is_active"]
               and coupon["expires_at"] is not None
               and world.now < coupon["expires_at"] <= world.now + days * DAY
               for coupon in world.coupons.get(customer["id"], []))


OPERATIONS: dict[str, Callable[[World, dict, Field, Any], bool]] = {
    **{op: _comparison(op) for op in COMPARISONS},
    "!=": _negation("=="),
    "between": _between,
    "in": _in,
    "not_in": _negation("in"),
    "is_null": _is_null,
    "is_not_null": _negation("is_null"),
    "contains": _text(lambda text, needle: needle in text),
    "starts_with": _text(str.startswith),
    "ends_with": _text(str.endswith),
    "has_tag": _tags(all),
    "has_any_tag": _tags(any),
    "has_all_tags": _tags(all),
    "birthday_today": _birthday_today,
    "birthday_within_days": _birthday_within,
    "birthday_this_month": _birthday_this_month,
    "anniversary_today": _anniversary_today,
    "anniversary_within_days": _anniversary_within,
    "did_event": _did_event,
    "did_not_event": _negation("did_event"),
    "orders_within": _orders_within,
    "first_order_no_repeat": _first_order_no_repeat,
    "cart_abandoned": _cart_abandoned,
    "unpaid_order": _unpaid_order,
    "stage_changed_to": _stage_changed_to,
    "top_percent": _top_percent,
    "in_segment": _in_segment,
    "not_in_segment": _negation("in_segment"),
    "coupon_expiring_within": _coupon_expiring_within,
}
