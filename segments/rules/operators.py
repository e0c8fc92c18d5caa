"""Every rule operator, registered once: label, value schema, NULL behaviour, compilation.

Conventions every operator keeps (the Python reference in tests/segments holds them too):
- "within the last D days" means from now - D days to now, both ends included;
- `!=` and `not_in` are the exact negation of `==` and `in`, so they include customers who
  have no value; order comparisons (<, <=, >, >=, between) never match a missing value;
- text matching (contains, starts/ends with) folds A-Z only; `==` and `in` are exact;
- every condition is true or false for every customer, never SQL NULL, so "!" of anything is
  its exact complement at any depth;
- "days since" counts whole 24-hour days, floor((now - moment) / 1 day): a moment in the
  future gives a negative count; orders, events and stage changes after now have not happened;
- an attribute or event property compares only with a rule value of its own JSON type (3 is
  not "3", true is neither 1 nor "true"): numbers by value as written (0.1 is 0.1), text by
  code point; an attribute has no value when its key is missing or holds null ("" is a value);
- money (orders_within) is summed net of refunds in whole cents;
- a first-order anniversary is the first paid order's date in the shop's time zone coming
  round on the customer's own dates; the order's own day is none, so a first order placed
  today (or later) has no anniversary in the window;
- first_order_no_repeat: a repeat is a paid order placed after the first, up to D days later;
  cart_abandoned: an order of any status placed from the cart_add to H hours later follows it;
- stage_changed_to counts real changes only, not a customer's first classification;
- top_percent ranks the customers whose metric has a value: the value at rank
  ceil(N * percent / 100) is the cut-off, ties at it are in, 0 never is. Rank depends on
  everyone, so it is exact at full evaluations (which rank afresh); customer-scoped updates
  in between reuse the last full evaluation's cut-off (PERCENTILE_REUSE_SECONDS).
"""

import datetime
import decimal
import math

from django.core.cache import cache as shared_cache
from django.db import connection
from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Cast, Round
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from django.utils.translation import gettext_lazy as _

from customers.models import (
    Customer,
    Event,
    LifecycleChange,
    Order,
    OrderStatus,
    UtcDate,
    month_day,
)
from segments.rules import calendar, values
from segments.rules.compiler import NO_ONE
from segments.rules.context import Context
from segments.rules.expressions import AsciiLike, JsonArrayHas, JsonKeyOfType, like_pattern
from segments.rules.registry import Field, FieldType, Operator, attribute_key, register_operator

DAY = datetime.timedelta(days=1)
NOTHING = Q(pk__in=[])  # the start of an OR; alone it matches no one (see compiler.NO_ONE)

# ---------------------------------------------------------------------------------------------
# Field comparisons. A field's value is either a plain ORM path, a JSON attribute of a given
# type, or (DAYS_SINCE) whole days since a stored moment, turned into a range of that moment.


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _attribute(field: Field, value) -> JsonKeyOfType:
    sample = value[0] if isinstance(value, list | tuple) else value
    return JsonKeyOfType("attributes", attribute_key(field), _json_type(sample))


def _attribute_param(value):
    """A number as the rule wrote it: Decimal(0.1) would be 0.1000000000000000055..., which
    no stored 0.1 equals."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return decimal.Decimal(str(value))
    return value


def _compare(lookup_name: str, lookup_class):
    def compile_(field: Field, value, context: Context) -> Q:
        if field.type == FieldType.DAYS_SINCE:
            return _days_since(field.path, lookup_name, value, context)
        if field.type == FieldType.ATTRIBUTE:
            expression = _attribute(field, value)
            # IS NOT NULL first: FALSE AND NULL is FALSE, so the result is never NULL.
            return Q(IsNull(expression, False)) & Q(
                lookup_class(expression, _attribute_param(value)))
        return Q(**{f"{field.path}__{lookup_name}": value}) & _known(field.path)

    return compile_


def _known(path: str) -> Q:
    """A guard for comparisons with a value that may be missing: `x = 1` is NULL, not FALSE, for
    a NULL x, and Django adds its own guard only under an odd number of negations, so without
    this "!" of "!=" would keep the NULL and drop the customer."""
    return Q(**{f"{path}__isnull": False})


def _days_since(path: str, lookup: str, days: int, context: Context) -> Q:
    """`whole days since <path>` compared with `days`: floor((now - moment) / 1 day)."""
    at_least = Q(**{f"{path}__lte": context.now - days * DAY})  # days_since >= days
    fewer = Q(**{f"{path}__gt": context.now - days * DAY})  # days_since < days
    fewer_than_next = Q(**{f"{path}__gt": context.now - (days + 1) * DAY})  # <= days
    at_least_next = Q(**{f"{path}__lte": context.now - (days + 1) * DAY})  # > days
    return _known(path) & {
        "exact": at_least & fewer_than_next,
        "gte": at_least,
        "gt": at_least_next,
        "lt": fewer,
        "lte": fewer_than_next,
    }[lookup]


def _equal(field: Field, value, context: Context) -> Q:
    return _compare("exact", Exact)(field, value, context)


def _not_equal(field: Field, value, context: Context) -> Q:
    return ~_equal(field, value, context)


def _between(field: Field, value, context: Context) -> Q:
    low, high = value
    return (_compare("gte", GreaterThanOrEqual)(field, low, context)
            & _compare("lte", LessThanOrEqual)(field, high, context))


def _in(field: Field, value, context: Context) -> Q:
    if field.type == FieldType.ATTRIBUTE:
        by_type: dict[str, list] = {}
        for item in value:
            by_type.setdefault(_json_type(item), []).append(_attribute_param(item))
        q = NOTHING
        for json_type, items in by_type.items():
            expression = JsonKeyOfType("attributes", attribute_key(field), json_type)
            q |= Q(IsNull(expression, False)) & Q(In(expression, items))
        return q
    if field.type == FieldType.DAYS_SINCE:
        q = NOTHING
        for days in sorted(set(value)):
            q |= _days_since(field.path, "exact", days, context)
        return q
    return Q(**{f"{field.path}__in": list(value)}) & _known(field.path)


def _not_in(field: Field, value, context: Context) -> Q:
    return ~_in(field, value, context)


def _is_null(field: Field, _value, _context: Context) -> Q:
    if field.type == FieldType.STRING:
        return Q(**{field.path: ""})
    if field.type == FieldType.ENUM:  # "" is the blank choice (gender unknown)
        return Q(**{f"{field.path}__isnull": True}) | Q(**{field.path: ""})
    if field.type == FieldType.ATTRIBUTE:
        return (Q(**{f"{field.path}__isnull": True})  # the key is missing
                | Q(**{field.path: None}))  # the key holds JSON null
    return Q(**{f"{field.path}__isnull": True})


def _is_not_null(field: Field, value, context: Context) -> Q:
    return ~_is_null(field, value, context)


def _text(prefix: bool, suffix: bool):
    def compile_(field: Field, value: str, _context: Context) -> Q:
        expression = (JsonKeyOfType("attributes", attribute_key(field), "string")
                      if field.type == FieldType.ATTRIBUTE else field.path)
        return Q(AsciiLike(expression, like_pattern(value, prefix=prefix, suffix=suffix)))

    return compile_


COMPARISON_NULLS = _("A customer without a value never matches.")
NEGATION_NULLS = _("The exact opposite of its positive form: customers without a value match.")

register_operator(Operator("==", _("is"), _equal, values.one, _(
    "Matches only customers who have this exact value (text is case-sensitive)."),
    time_dependent=lambda field: field.type == FieldType.DAYS_SINCE))
register_operator(Operator("!=", _("is not"), _not_equal, values.one, NEGATION_NULLS,
                           time_dependent=lambda field: field.type == FieldType.DAYS_SINCE))
for _name, _label, _lookup, _class in [
    ("<", _("less than"), "lt", LessThan),
    ("<=", _("at most"), "lte", LessThanOrEqual),
    (">", _("more than"), "gt", GreaterThan),
    (">=", _("at least"), "gte", GreaterThanOrEqual),
]:
    register_operator(Operator(
        _name, _label, _compare(_lookup, _class), values.one, COMPARISON_NULLS,
        time_dependent=lambda field: field.type == FieldType.DAYS_SINCE))
register_operator(Operator(
    "between", _("between (inclusive)"), _between, values.pair, COMPARISON_NULLS,
    time_dependent=lambda field: field.type == FieldType.DAYS_SINCE))
register_operator(Operator("in", _("is one of"), _in, values.many, COMPARISON_NULLS,
                           time_dependent=lambda field: field.type == FieldType.DAYS_SINCE))
register_operator(Operator("not_in", _("is none of"), _not_in, values.many, NEGATION_NULLS,
                           time_dependent=lambda field: field.type == FieldType.DAYS_SINCE))
register_operator(Operator(
    "is_null", _("has no value"), _is_null, values.none,
    _("Matches customers without a value (for text: an empty one)."),
    time_dependent=False))
register_operator(Operator("is_not_null", _("has a value"), _is_not_null, values.none,
                           NEGATION_NULLS))
register_operator(Operator("contains", _("contains"), _text(True, True), values.text,
                           COMPARISON_NULLS, description=_("Ignores the case of A-Z.")))
register_operator(Operator("starts_with", _("starts with"), _text(False, True), values.text,
                           COMPARISON_NULLS, description=_("Ignores the case of A-Z.")))
register_operator(Operator("ends_with", _("ends with"), _text(True, False), values.text,
                           COMPARISON_NULLS, description=_("Ignores the case of A-Z.")))


# ---------------------------------------------------------------------------------------------
# Tags


def _has_tags(any_: bool):
    def compile_(_field: Field, value, _context: Context) -> Q:
        tags = [value] if isinstance(value, str) else list(value)
        return Q(JsonArrayHas("tags", tags, any_=any_))

    return compile_


NO_TAGS = _("A customer without tags never matches.")
register_operator(Operator("has_tag", _("has tag"), _has_tags(False), values.text, NO_TAGS))
register_operator(Operator("has_any_tag", _("has any of the tags"), _has_tags(True),
                           values.texts, NO_TAGS))
register_operator(Operator("has_all_tags", _("has all of the tags"), _has_tags(False),
                           values.texts, NO_TAGS))


# ---------------------------------------------------------------------------------------------
# Calendar: birthdays and first-order anniversaries in the customer's own time zone.


def _anniversaries(path: str, days: int, context: Context, *, tzinfo=None,
                   before_window: bool = False) -> Q:
    """Customers whose `path` date has an anniversary from their local today to today+days."""
    expression = month_day(path, tzinfo)
    groups = calendar.zone_groups(context)
    q = NOTHING
    for today, in_zone in groups:
        in_window = NOTHING
        for low, high in calendar.anniversary_ranges(today, days):
            in_window |= Q(GreaterThanOrEqual(expression, low)) & Q(
                LessThanOrEqual(expression, high))
        branch = in_zone & in_window
        if before_window:  # an anniversary needs a first order before the day it falls on
            start = datetime.datetime.combine(today, datetime.time.min, tzinfo)
            branch &= Q(**{f"{path}__lt": start})
        q |= branch
    near = _near_anniversary(path, days, [today for today, _in_zone in groups],
                             is_datetime=tzinfo is not None)
    # Not NULL first, so a customer without the date is FALSE (not NULL) under negation.
    return Q(**{f"{path}__isnull": False}) & near & q


def _near_anniversary(path: str, days: int, todays: list[datetime.date], *,
                      is_datetime: bool) -> Q:
    """A superset of the anniversaries above on the indexed month-day (customers.models:
    the date itself, or a datetime's UTC date), so that PostgreSQL reads the customers near
    the dates from the index instead of computing every customer's local month-day (1M
    customers: ~400 ms -> ~20-40 ms). A UTC date is within a day of the date in any zone;
    the window widens by two, as a day's shift moves the month-day by one more across 29
    February (1 March in one year, 28 February in UTC; 29 February the day before in a leap
    year)."""
    first, last = min(todays), max(todays)
    if is_datetime:
        margin = datetime.timedelta(days=2)
        first, last = first - margin, last + margin
    indexed = month_day(UtcDate(path) if is_datetime else path)
    q = NOTHING
    for low, high in calendar.anniversary_ranges(first, days + (last - first).days):
        q |= Q(GreaterThanOrEqual(indexed, low)) & Q(LessThanOrEqual(indexed, high))
    return q


def _birthday_within(field: Field, days: int, context: Context) -> Q:
    return _anniversaries(field.path, days, context)


def _birthday_today(field: Field, _value, context: Context) -> Q:
    return _anniversaries(field.path, 0, context)


def _birthday_this_month(field: Field, _value, context: Context) -> Q:
    q = NOTHING
    for today, in_zone in calendar.zone_groups(context):
        q |= in_zone & Q(**{f"{field.path}__month": today.month})
    return _known(field.path) & q


def _anniversary_within(field: Field, days: int, context: Context) -> Q:
    return _anniversaries(field.path, days, context, tzinfo=context.default_zone,
                          before_window=True)


def _anniversary_today(field: Field, _value, context: Context) -> Q:
    return _anniversary_within(field, 0, context)


NO_DATE = _("A customer without the date never matches.")
register_operator(Operator(
    "birthday_today", _("birthday is today"), _birthday_today, values.none, NO_DATE,
    time_dependent=True,
    description=_("In the customer's time zone; 29 February counts as 28 February in other "
                  "years.")))
register_operator(Operator(
    "birthday_within_days", _("birthday within the next N days"), _birthday_within,
    values.days, NO_DATE, time_dependent=True,
    description=_("From today to today + N, in the customer's time zone.")))
register_operator(Operator(
    "birthday_this_month", _("birthday this month"), _birthday_this_month, values.none,
    NO_DATE, time_dependent=True))
register_operator(Operator(
    "anniversary_today", _("first-order anniversary is today"), _anniversary_today,
    values.none, NO_DATE, time_dependent=True,
    description=_("The first paid order's date in the shop's time zone, a year or more ago.")))
register_operator(Operator(
    "anniversary_within_days", _("first-order anniversary within the next N days"),
    _anniversary_within, values.days, NO_DATE, time_dependent=True))


# ---------------------------------------------------------------------------------------------
# Behaviour: events, orders, carts, unpaid orders, stage changes.


def _since(context: Context, days: int | None) -> Q:
    return Q() if days is None else Q(occurred_at__gte=context.now - days * DAY)


def _did_event(_field: Field, value: values.EventCondition, context: Context) -> Q:
    events = context.scoped(Event.objects.filter(
        _since(context, value.within_days), name=value.name, occurred_at__lte=context.now))
    for key, expected in value.properties.items():
        # Typed as attributes are: Django's JSON lookup on SQLite takes the text "true" for true.
        expression = JsonKeyOfType("properties", key, _json_type(expected))
        events = events.filter(Exact(expression, _attribute_param(expected)))
    if value.min_count <= 1:
        return _any(events)
    customers = (events.values("customer_id").annotate(n=Count("id"))
                 .filter(n__gte=value.min_count).values("customer_id"))
    return Q(pk__in=customers)


def _any(rows) -> Q:
    """The customer has at least one of `rows`: EXISTS rather than IN, so that its negation is
    NOT EXISTS, which PostgreSQL runs as an anti-join (index probes for the few candidates
    the rest of the rule leaves), where NOT IN can only filter every customer through a
    hashed subplan of every row."""
    return Q(Exists(rows.filter(customer_id=OuterRef("pk"))))


def _did_not_event(field: Field, value, context: Context) -> Q:
    return ~_did_event(field, value, context)


# Summed in whole cents, as the metrics are: SQLite holds amounts as floats, and 0.70 + 0.10
# there is 0.7999999999999999, short of 0.80.
NET_CENTS = Cast(Round((F("amount") - F("refunded_amount")) * 100), BigIntegerField())


def _paid_orders_within(context: Context, days: int):
    return Order.objects.filter(status=OrderStatus.PAID, placed_at__gte=context.now - days * DAY,
                                placed_at__lte=context.now)


def _orders_within(_field: Field, value: values.OrdersCondition, context: Context) -> Q:
    orders = context.scoped(_paid_orders_within(context, value.within_days))
    if value.min_amount is None and (value.min_count or 1) <= 1:
        return _any(orders)
    customers = orders.values("customer_id")
    having = Q()
    if value.min_count is not None:
        having &= Q(n__gte=value.min_count)
    if value.min_amount is not None:
        having &= Q(spent_cents__gte=math.ceil(value.min_amount * 100))
    customers = (customers.annotate(n=Count("id"), spent_cents=Sum(NET_CENTS))
                 .filter(having).values("customer_id"))
    return Q(pk__in=customers)


def _first_order_no_repeat(_field: Field, value: values.FirstOrderCondition,
                           context: Context) -> Q:
    window = value.days * DAY
    repeat = Order.objects.filter(
        customer_id=OuterRef("pk"), status=OrderStatus.PAID,
        placed_at__gt=OuterRef("metrics__first_order_at"),
        placed_at__lte=OuterRef("metrics__first_order_at") + window,
    )
    return (_known("metrics__first_order_at")
            & Q(metrics__first_order_at__lte=context.now - window) & ~Q(Exists(repeat)))


def _not_followed_by_order(event_name: str | None):
    """Carts (event_name) or pending orders (None) left for `hours` with no order after."""

    def compile_(_field: Field, value: values.WaitCondition, context: Context) -> Q:
        wait = datetime.timedelta(hours=value.hours)
        since, until = context.now - value.within_days * DAY, context.now - wait
        if event_name is None:
            starts = Order.objects.filter(status=OrderStatus.PENDING, placed_at__gte=since,
                                          placed_at__lte=until)
            moment = "placed_at"
            later = Order.objects.filter(status=OrderStatus.PAID)
        else:
            starts = Event.objects.filter(name=event_name, occurred_at__gte=since,
                                          occurred_at__lte=until)
            moment = "occurred_at"
            later = Order.objects.all()
        follow_up = later.filter(customer_id=OuterRef("customer_id"),
                                 placed_at__gte=OuterRef(moment),
                                 placed_at__lte=OuterRef(moment) + wait)
        return Q(Exists(starts.filter(customer_id=OuterRef("pk")).filter(~Q(Exists(follow_up)))))

    return compile_


def _stage_changed(_field: Field, value: values.StageChangeCondition, context: Context) -> Q:
    # A first classification (from_stage NULL: the first recompute after an import) is not a
    # change: otherwise "recently churned" would hold every churned customer for a week.
    changes = context.scoped(LifecycleChange.objects.filter(
        to_stage=value.stage, changed_at__gte=context.now - value.within_days * DAY,
        changed_at__lte=context.now, from_stage__isnull=False))
    return Q(pk__in=changes.values("customer_id"))


NO_BEHAVIOUR = _("A customer with no such behaviour does not match.")
register_operator(Operator(
    "did_event", _("did event"), _did_event, values.model(values.EventCondition), NO_BEHAVIOUR,
    time_dependent=True,
    description=_("At least min_count times within the last within_days days (or ever), "
                  "optionally with these property values.")))
register_operator(Operator(
    "did_not_event", _("did not do event"), _did_not_event,
    values.model(values.EventCondition), NEGATION_NULLS, time_dependent=True))
register_operator(Operator(
    "orders_within", _("ordered within the last D days"), _orders_within,
    values.model(values.OrdersCondition), NO_BEHAVIOUR, time_dependent=True,
    description=_("Paid orders within the last within_days days: at least min_count of them "
                  "and/or at least min_amount spent net of refunds (both when both given).")))
register_operator(Operator(
    "first_order_no_repeat", _("first order not followed by a second within D days"),
    _first_order_no_repeat, values.model(values.FirstOrderCondition), NO_BEHAVIOUR,
    time_dependent=True))
register_operator(Operator(
    "cart_abandoned", _("added to cart and did not order within H hours"),
    _not_followed_by_order("cart_add"), values.model(values.WaitCondition), NO_BEHAVIOUR,
    time_dependent=True,
    description=_("A cart_add event in the last within_days days with no order placed in the "
                  "hours after it.")))
register_operator(Operator(
    "unpaid_order", _("ordered but did not pay within H hours"),
    _not_followed_by_order(None), values.model(values.WaitCondition), NO_BEHAVIOUR,
    time_dependent=True,
    description=_("A pending order in the last within_days days with no paid order in the "
                  "hours after it.")))
register_operator(Operator(
    "stage_changed_to", _("lifecycle stage changed to S within D days"), _stage_changed,
    values.model(values.StageChangeCondition), NO_BEHAVIOUR, time_dependent=True))


# ---------------------------------------------------------------------------------------------
# Ranking and membership


# Ranking a million customers takes a second or more: too slow to repeat for every order.
# Customer-scoped evaluations reuse the cut-off the last full evaluation or preview found, for
# up to this long (full evaluations always rank afresh).
PERCENTILE_REUSE_SECONDS = 3600
_MISSING = object()


def percentile_threshold(field: Field, percent, context: Context):
    """The least value among the top `percent` % of customers with metrics (by this field),
    or None when nobody has metrics. Ties at the threshold are all in."""
    key = ("percentile", field.name, percent)
    if key not in context.cache:
        shared_key = f"segments:percentile:{field.name}:{percent}"
        found = shared_cache.get(shared_key, _MISSING) if context.scope is not None \
            else _MISSING
        if found is _MISSING:
            found = _rank_threshold(field, percent)
            shared_cache.set(shared_key, found, PERCENTILE_REUSE_SECONDS)
        context.cache[key] = found
    return context.cache[key]


# The cut-off is read among the rows at or above a bound taken from a sample of the table's
# pages (the value about MARGIN times the share reach there): keeping the best 100,000 of a
# million rows in a top-N sort took 0.8 s, sorting the ~200,000 above the bound 0.15-0.2 s.
# Pages are sampled, not rows, and rows are laid out in customer order, so the sample varies
# more than its size suggests: with 1% of the pages and a margin of 1.5, one bound in 15 was
# too high for the top 10% of 700,000 predictions. Should the sample mislead (fewer rows
# above the bound than the rank), every row is ranked as before: the cut-off is exact
# either way.
RANK_SAMPLE_PERCENT = 2
RANK_SAMPLE_MARGIN = 2


def _rank_threshold(field: Field, percent):
    """Ranked in the table that holds the value (metrics, predictions): no join."""
    relation, column = field.path.split("__", 1)
    model = Customer._meta.get_field(relation).related_model
    ranked = model.objects.exclude(**{f"{column}__isnull": True})
    rank = math.ceil(ranked.count() * percent / 100)
    if not rank:
        return None
    best_first = ranked.order_by(F(column).desc()).values_list(column, flat=True)
    bound = _sampled_bound(model, column, percent)
    if bound is not None:
        above = list(best_first.filter(**{f"{column}__gte": bound})[rank - 1:rank])
        if above:
            return above[0]
    return best_first[rank - 1]


def _sampled_bound(model, column: str, percent):
    """A value about RANK_SAMPLE_MARGIN x `percent` % of the rows reach, read off a sample of
    the table's pages; None on SQLite, when the share is near everyone, or from an empty
    sample (a small table)."""
    share = float(percent) * RANK_SAMPLE_MARGIN / 100
    if connection.vendor != "postgresql" or share >= 1:
        return None
    quote = connection.ops.quote_name
    name, table = quote(model._meta.get_field(column).column), quote(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY {name}) "
                       f"FROM {table} TABLESAMPLE SYSTEM (%s) WHERE {name} IS NOT NULL",
                       [1 - share, RANK_SAMPLE_PERCENT])
        return cursor.fetchone()[0]


def _top_percent(field: Field, percent, context: Context) -> Q:
    threshold = percentile_threshold(field, percent, context)
    if threshold is None:
        return NO_ONE
    return Q(**{f"{field.path}__gte": threshold, f"{field.path}__gt": 0}) & _known(field.path)


def _in_segment(_field: Field, segment_id: int, context: Context) -> Q:
    from segments.models import SegmentMembership  # the models import nothing from rules

    return Q(pk__in=context.scoped(SegmentMembership.objects.filter(segment_id=segment_id))
             .values("customer_id"))


def _not_in_segment(field: Field, segment_id: int, context: Context) -> Q:
    return ~_in_segment(field, segment_id, context)


register_operator(Operator(
    "top_percent", _("in the top N% by"), _top_percent, values.percent,
    _("Customers without the figure, or with 0, never match."),
    description=_("Ranks every customer with the figure; ties at the cut-off are all in.")))
register_operator(Operator("in_segment", _("is in segment"), _in_segment, values.segment_id,
                           _("Uses the other segment's stored members.")))
register_operator(Operator("not_in_segment", _("is not in segment"), _not_in_segment,
                           values.segment_id, NEGATION_NULLS))
