"""FlatTemplate renders exactly what Django's engine renders: on hand-picked cases where the
shortcuts could go wrong, and on random templates and contexts (hypothesis)."""

import datetime as dt
import decimal
import functools
import zoneinfo

import pytest
from django.template import Context
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.services import rendering
from campaigns.services.flat_templates import FlatTemplate

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOON = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def outcome(template, values: dict, html: bool) -> str:
    """The text, or the error a missing filter argument raises (in both alike)."""
    try:
        return template.render(Context(values, autoescape=html, use_tz=False))
    except Exception as exc:
        return f"raised {type(exc).__name__}"


@functools.cache
def flat_template(source: str, html: bool) -> FlatTemplate:
    """One per text, kept across renders as the dispatcher keeps them (their memos too)."""
    return FlatTemplate(source, engine=rendering.HTML_ENGINE if html else rendering.TEXT_ENGINE)


def both(source: str, values: dict, *, html: bool = True, language: str = "en") -> tuple:
    engine = rendering.HTML_ENGINE if html else rendering.TEXT_ENGINE
    context = rendering.readonly(values)
    with translation.override(language):
        return (outcome(flat_template(source, html), context, html),
                outcome(engine.from_string(source), context, html))


@pytest.mark.parametrize(("source", "values"), [
    ("Hi {{ customer.name }}!", {"customer": {"name": "<b>A & B</b>"}}),
    ("{{ customer.missing }}|{{ nothing }}|{{ nothing.deeper }}", {"customer": {}}),
    ("{{ customer.name.upper }}", {"customer": {"name": "alex"}}),  # a str method: Django's way
    ("{{ customer.tags.0 }} {{ customer.tags.1 }}", {"customer": {"tags": ["vip", "new"]}}),
    ("{{ metrics.ltv }} {{ metrics.count }} {{ metrics.flag }}",
     {"metrics": {"ltv": decimal.Decimal("1234.50"), "count": 3, "flag": True}}),
    ("{{ coupon.at|date:'j M Y H:i' }}", {"coupon": {"at": NOON}}),
    ("{{ a|date:'H:i' }} {{ b|date:'H:i' }}",  # equal moments, different zones
     {"a": NOON, "b": NOON.astimezone(SHANGHAI)}),
    ("{{ a|default:'-' }} {{ b|default:'-' }}",  # equal decimals, different text
     {"a": decimal.Decimal("1.0"), "b": decimal.Decimal("1.00")}),
    ("{{ a|yesno }} {{ b|yesno }}", {"a": 1, "b": True}),
    ("{% if customer.name %}{{ customer.name }}{% endif %}", {"customer": {"name": "x"}}),
    ("{{ True }} {{ None }}", {}),
])
def test_the_same_output_as_django(source, values):
    for html in (True, False):
        for language in ("en", "zh-hans"):
            flat, django = both(source, values, html=html, language=language)
            assert flat == django


def test_a_remembered_filter_follows_the_language():
    source = "{{ coupon.at|date:'j F Y' }}"
    values = {"coupon": {"at": NOON}}

    assert both(source, values, language="en")[0] == "1 March 2026"
    assert both(source, values, language="zh-hans")[0] == "1 三月 2026"


@pytest.mark.parametrize(("source", "first", "second"), [
    ("{{ at|date:'H:i' }}", NOON, NOON.astimezone(SHANGHAI)),  # equal moments
    ("{{ at|default:'-' }}", decimal.Decimal("1.0"), decimal.Decimal("1.00")),  # equal numbers
    ("{{ at|default:'-' }}", 1, True),
    ("{{ at|upper }}", "<a>", "&lt;a&gt;"),
])
def test_a_remembered_filter_tells_equal_values_apart(source, first, second):
    for value in (first, second, first):
        for html in (True, False):
            flat, django = both(source, {"at": value}, html=html)
            assert flat == django


def test_a_remembered_filter_is_rendered_per_value():
    template = FlatTemplate("{{ at|date:'j M' }}", engine=rendering.TEXT_ENGINE)
    with translation.override("en"):
        days = [template.render(Context({"at": NOON + dt.timedelta(days=n)}))
                for n in range(3)]

    assert days == ["1 Mar", "2 Mar", "3 Mar"]


# --- random templates and contexts -----------------------------------------------------------

NAMES = ["customer", "metrics", "coupon", "x"]
KEYS = ["name", "at", "ltv", "tags", "n", "upper", "0", "items"]
FILTERS = ["", "|date:'j M Y H:i'", "|default:'-'", "|upper", "|floatformat:2", "|yesno",
           "|length", "|title", "|timesince", "|add:metrics.n", "|escape", "|safe"]

scalars = st.one_of(
    st.text(alphabet="ab<>&'\" 中", max_size=6), st.integers(-5, 5), st.booleans(), st.none(),
    st.decimals(min_value=-100, max_value=100, places=2, allow_nan=False),
    st.sampled_from([NOON, NOON.astimezone(SHANGHAI), dt.date(2024, 2, 29)]))
values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                     st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=12)
contexts = st.dictionaries(st.sampled_from(NAMES), values, max_size=4)
variables = st.builds(
    lambda name, keys, filt: "{{ " + ".".join([name, *keys]) + filt + " }}",
    st.sampled_from(NAMES), st.lists(st.sampled_from(KEYS), max_size=2), st.sampled_from(FILTERS))
pieces = st.one_of(variables, st.text(alphabet="ab <>&\n", max_size=5),
                   st.sampled_from(["{% if x %}[{{ x }}]{% endif %}",
                                    "{% for t in x %}{{ t }},{% endfor %}"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=6), contexts, st.booleans(), st.sampled_from(["en", "zh-hans"]))
def test_random_templates_render_as_django_does(parts, context, html, language):
    flat, django = both("".join(parts), context, html=html, language=language)

    assert flat == django
