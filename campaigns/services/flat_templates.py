"""A Django template that renders its top-level text and variables without the engine's general
machinery, for the dispatcher's thousands of messages a second.

Django renders `{{ customer.name }}` through a node, a filter expression and a variable that
try a key, an attribute and a list index in turn: ~8 us. A message context is made of
`Values` dicts (below; campaigns/services/rendering.py makes them), so a variable whose
every step is such a dict is one key lookup each, then Django's own
`render_value_in_context` (localisation and escaping). A variable with filters (`{{
coupon.expires_at|date:"j M Y" }}`, ~20 us) whose filters only read their value and literal
arguments is rendered once per distinct value, language and escaping, then remembered.
Everything else (tags, filters with variable arguments or that read the clock, a step that
is not a Values dict) goes through Django as before, so the output is Django's in every case
(a property test compares them).
"""

import datetime
import decimal
import html
from collections.abc import Callable
from typing import Any

from django.template import Context, Template, defaultfilters
from django.template.base import FilterExpression, TextNode, Variable, VariableNode
from django.template.base import render_value_in_context as django_render_value
from django.utils import translation
from django.utils.safestring import SafeString

# Filters whose output depends only on their input, their literal arguments, the language and
# escaping: never on the time (timesince), chance (random) or anything else.
PURE_FILTERS = frozenset(defaultfilters.register.filters[name] for name in (
    "date", "time", "default", "default_if_none", "upper", "lower", "title", "capfirst",
    "floatformat", "yesno", "length", "stringformat", "truncatechars", "truncatewords"))
# Values remembered by their type and repr: equal is not enough (10:00 UTC == 18:00 in
# Shanghai, Decimal("1.0") == Decimal("1.00"), 1 == True), the repr tells them apart.
SCALAR_TYPES = frozenset({str, int, float, bool, type(None), decimal.Decimal, datetime.date,
                          datetime.datetime})
MEMO_SIZE = 1024  # rendered values remembered per variable; past that, rendered each time
_SLOW = object()  # "not a plain lookup: let Django resolve it"


class Values(dict):
    """A dict a template reads by key but whose methods that change it it cannot call
    (Django calls a method it finds by name unless it is marked alters_data)."""

    __slots__ = ()

    def __missing__(self, key):
        # A missing variable renders empty: answered here, the template engine never falls
        # back to attribute lookup (which would find dict methods) or to dir() (slow).
        return ""

    def _refused(self, *args, **kwargs):
        raise TypeError("read-only")

    _refused.alters_data = True
    clear = pop = popitem = setdefault = update = __setitem__ = __delitem__ = _refused


def _lookups(expression: FilterExpression) -> tuple[str, ...] | None:
    var = expression.var
    if not isinstance(var, Variable) or var.lookups is None or var.translate:
        return None
    return tuple(var.lookups)


def _pure(expression: FilterExpression) -> bool:
    return all(func in PURE_FILTERS
               and all(not lookup for lookup, _arg in args)
               for func, args in expression.filters)


def _value(context: Context, lookups: tuple[str, ...]) -> Any:
    """The variable's value, when every step is a Values dict's key; _SLOW otherwise."""
    try:
        current = context[lookups[0]]
    except KeyError:
        return _SLOW
    for bit in lookups[1:]:
        if type(current) is not Values:
            return _SLOW
        current = current[bit]  # a missing key is "", as Django renders it
    return _SLOW if callable(current) else current


def _plain(node: VariableNode, lookups: tuple[str, ...]) -> Callable[[Context], str]:
    def render(context: Context) -> str:
        value = _value(context, lookups)
        if type(value) is str:  # what render_value_in_context does to a str, without its checks
            return html.escape(value) if context.autoescape else value
        if value is _SLOW:
            return node.render_annotated(context)
        return django_render_value(value, context)

    return render


def _remembered(node: VariableNode, lookups: tuple[str, ...]) -> Callable[[Context], str]:
    memo: dict[tuple, str] = {}

    def render(context: Context) -> str:
        value = _value(context, lookups)
        if value is _SLOW or type(value) not in SCALAR_TYPES:
            return node.render_annotated(context)
        key = (type(value), repr(value), translation.get_language(), context.autoescape,
               context.use_tz, context.use_l10n)
        output = memo.get(key)
        if output is None:
            output = node.render_annotated(context)
            if len(memo) < MEMO_SIZE:
                memo[key] = output
        return output

    return render


def _part(node) -> str | Callable[[Context], str]:
    if isinstance(node, TextNode):
        return node.s
    if isinstance(node, VariableNode):
        lookups = _lookups(node.filter_expression)
        if lookups is not None and not node.filter_expression.filters:
            return _plain(node, lookups)
        if lookups is not None and _pure(node.filter_expression):
            return _remembered(node, lookups)
    return node.render_annotated


class FlatTemplate(Template):
    """A Template (same parsing, errors and context binding) that renders its top level
    through the parts above."""

    def compile_nodelist(self):
        nodelist = super().compile_nodelist()
        self._parts = [_part(node) for node in nodelist]
        return nodelist

    def _render(self, context: Context) -> SafeString:
        return SafeString("".join([part if type(part) is str else part(context)
                                   for part in self._parts]))
