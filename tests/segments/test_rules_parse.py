"""Rules are validated once, at the edge: every bad part is refused with a message naming where
it sits in the tree, parse() never changes its input, and condition() writes what parse() reads.
"""

import copy
import datetime as dt
from decimal import Decimal

import pytest

from segments.rules import FIELDS, OPERATORS, RuleError, condition, conditions, parse
from segments.rules.registry import ATTRIBUTE_PREFIX, FieldType, field_lookup
from segments.rules.tree import MAX_CONDITIONS, MAX_DEPTH, Condition, Group, Not

CITY = condition("city", "==", "Shanghai")


def problems(rule) -> list[tuple[str, str]]:
    """(path, message) of every problem parse() finds in `rule`."""
    with pytest.raises(RuleError) as caught:
        parse(rule)
    assert str(caught.value)  # the API shows this text
    return [(problem.path, problem.message) for problem in caught.value.problems]


def only_problem(rule) -> tuple[str, str]:
    [problem] = problems(rule)
    return problem


def nested(depth: int, leaf: dict) -> dict:
    """`leaf` inside depth - 1 "and" groups (depth 1 is the leaf itself)."""
    rule = leaf
    for _ in range(depth - 1):
        rule = {"and": [rule]}
    return rule


# --- unknown fields and operators ------------------------------------------------------------

@pytest.mark.parametrize("field", ["citty", "", "attributes.*", "attributes.bad-key",
                                   "attributes.", "attributes.a.b", "metrics__monetary", "*"])
def test_an_unknown_field_is_named(field):
    path, message = only_problem(condition(field, "==", "x"))
    assert path == "=="
    assert message == f'unknown field "{field}"'


def test_an_unknown_field_deep_in_the_tree_is_named_with_its_path():
    rule = {"and": [CITY, {"or": [CITY, {"!": condition("citty", "==", "x")}]}]}
    assert only_problem(rule) == ("and[1].or[1].!.==", 'unknown field "citty"')


def test_a_var_that_is_not_a_field_name_is_refused():
    assert only_problem({"==": [{"var": 5}, 1]})[0] == "=="
    assert only_problem({"==": [{"var": ["city", "fallback"]}, "x"]})[0] == "=="


@pytest.mark.parametrize("operation", ["like", "var", "!!", "===", "some", "Contains"])
def test_an_unknown_operator_is_named(operation):
    for args in ([{"var": "city"}, "x"], [1, 2]):
        assert only_problem({"and": [CITY, {operation: args}]}) == (
            f"and[1].{operation}", f'unknown operator "{operation}"')


@pytest.mark.parametrize(("field", "operator", "value"), [
    ("monetary", "contains", "5"),
    ("city", ">", "a"),
    ("r_score", "top_percent", 10),
    ("birthday", "==", "2000-01-01"),
    ("tags", "==", "vip"),
    ("email_consent", "!=", True),
    ("events", "orders_within", {"within_days": 3, "min_count": 1}),
    ("segment", "==", 1),
    ("gender", "stage_changed_to", {"stage": "new", "within_days": 3}),
])
def test_an_operator_that_does_not_apply_to_the_field_is_named(field, operator, value):
    path, message = only_problem({"or": [condition(field, operator, value)]})
    assert path.startswith("or[0].")
    assert message.startswith(f'operator "{operator}" does not apply to field "{field}"')
    assert ", ".join(FIELDS[field].operators) in message  # what it does take


# --- values ----------------------------------------------------------------------------------

WRONG_VALUES = [
    # A string or a boolean is not a number; a fraction is not a whole number.
    ("monetary", ">", "5", "expected a number"),
    ("monetary", ">", True, "expected a number"),
    ("frequency", "==", True, "integer"),
    ("frequency", "==", 1.5, "integer"),
    ("frequency", "==", "3", "integer"),
    ("recency_days", ">=", True, "integer"),
    ("recency_days", ">=", -1, "greater than or equal to 0"),
    ("recency_days", ">=", 36_501, "less than or equal to 36500"),
    ("monetary", "<", 10**15, "less than or equal to"),
    ("monetary", "<", -(10**15), "greater than or equal to"),
    ("email_consent", "==", "true", "boolean"),
    ("email_consent", "==", 1, "boolean"),
    ("city", "==", 5, "string"),
    ("city", "==", "x" * 201, "at most 200"),
    ("city", "in", "Shanghai", "list"),
    ("city", "in", [], "at least 1"),
    ("city", "contains", "", "at least 1"),
    ("city", "contains", ["a"], "string"),
    ("gender", "==", "Female", "'female'"),
    ("rfm_class", "in", ["important_value", "vip"], "'important_value'"),
    ("lifecycle_stage", "==", "sleeping", "'prospect'"),
    # Dates: ISO, real, and a date at all.
    ("birthday", "<", "2026-02-30", "day is out of range"),
    ("birthday", "<", "2026-2-3", "pattern"),
    ("birthday", "<", 20260101, "string"),
    ("birthday", "<", "yesterday", "pattern"),
    ("birthday", "between", ["2000-01-02", "2000-01-01"], "first bound must not exceed"),
    ("birthday", "between", ["2000-01-01"], "1: Field required"),
    ("monetary", "between", [5, "9"], "expected a number"),
    ("attributes.level", "between", [1, "a"], "same type"),
    ("attributes.level", "between", [False, 5], "same type"),
    ("attributes.level", "==", [3], "valid"),
    ("attributes.level", "==", {"a": 1}, "valid"),
    ("tags", "has_tag", "", "at least 1"),
    ("tags", "has_any_tag", "vip", "list"),
    ("tags", "has_all_tags", [], "at least 1"),
    ("birthday", "birthday_within_days", -1, "greater than or equal to 0"),
    ("birthday", "birthday_within_days", 7.0, "integer"),
    ("first_order", "anniversary_within_days", 36_501, "less than or equal to 36500"),
    ("monetary", "top_percent", 0, "greater than 0"),
    ("monetary", "top_percent", 100.5, "less than or equal to 100"),
    ("monetary", "top_percent", "10", "expected a number"),
    ("segment", "in_segment", 0, "greater than or equal to 1"),
    ("segment", "not_in_segment", "3", "integer"),
    # Behaviour conditions: strict objects, no unknown keys.
    ("events", "did_event", {"name": "bad name!"}, "name"),
    ("events", "did_event", {"name": "visit", "foo": 1}, "foo"),
    ("events", "did_event", {"name": "visit", "min_count": 0}, "min_count"),
    ("events", "did_event", {"name": "visit", "min_count": "2"}, "min_count"),
    ("events", "did_event", {"name": "visit", "within_days": 0}, "within_days"),
    ("events", "did_event", {"name": "visit", "properties": {"a-b": 1}}, "properties"),
    ("events", "did_event", {"name": "visit", "properties": {"sku": [1]}}, "properties.sku"),
    ("events", "did_event", {"name": "visit",
                             "properties": {f"k{i}": i for i in range(11)}}, "properties"),
    ("events", "did_not_event", {"min_count": 2}, "name"),
    ("events", "did_event", "visit", "valid dictionary"),
    ("orders", "orders_within", {"within_days": 30}, "give min_count, min_amount or both"),
    ("orders", "orders_within", {"within_days": 30, "min_amount": -1}, "min_amount"),
    ("orders", "orders_within", {"within_days": 30, "min_amount": "5"}, "expected a number"),
    ("orders", "orders_within", {"min_count": 2}, "within_days"),
    ("first_order", "first_order_no_repeat", {"days": "30"}, "days"),
    ("cart", "cart_abandoned", {"hours": 0}, "hours"),
    ("orders", "unpaid_order", {"hours": 4, "within_days": 366}, "within_days"),
    ("lifecycle_stage", "stage_changed_to", {"stage": "vip", "within_days": 3}, "stage"),
    ("lifecycle_stage", "stage_changed_to", {"stage": "new"}, "within_days"),
]


@pytest.mark.parametrize(("field", "operator", "value", "says"), WRONG_VALUES,
                         ids=[f"{f} {o} {v!r}"[:60] for f, o, v, _ in WRONG_VALUES])
def test_a_value_of_the_wrong_type_or_range_is_named(field, operator, value, says):
    path, message = only_problem({"and": [CITY, {operator: [{"var": field}, value]}]})
    assert path == f"and[1].{operator}"
    assert message.startswith(f"value {value!r}"[:40])
    assert says in message


def test_a_missing_value_is_named():
    assert only_problem({"==": [{"var": "city"}]}) == ("==", 'operator "==" needs a value')
    assert only_problem({"did_event": {"var": "events"}}) == (
        "did_event", 'operator "did_event" needs a value')


def test_an_extra_value_is_named():
    assert only_problem({"birthday_today": [{"var": "birthday"}, 3]}) == (
        "birthday_today", 'operator "birthday_today" takes no value')
    assert only_problem({"is_null": [{"var": "city"}, ""]}) == (
        "is_null", 'operator "is_null" takes no value')
    assert only_problem({"==": [{"var": "city"}, "a", "b"]}) == (
        "==", '"==" takes a field and at most one value')


# --- shapes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [None, [], "city", 1, {}, {"and": [], "or": []}])
def test_a_rule_that_is_not_one_operation_is_refused(rule):
    path, message = only_problem(rule)
    assert path == ""
    assert "exactly one operation" in message


@pytest.mark.parametrize(("rule", "expected"), [
    ({"and": CITY}, ("and", '"and" takes a list of rules')),
    ({"or": "x"}, ("or", '"or" takes a list of rules')),
    ({"!": []}, ("!", '"!" takes exactly one rule')),
    ({"!": [CITY, CITY]}, ("!", '"!" takes exactly one rule')),
    ({"and": [CITY, ["city"]]}, ("and[1]", None)),
    ({"==": ["city", "Shanghai"]}, ("==", None)),
    ({"==": []}, ("==", None)),
    ({"<": [1, {"var": "monetary"}, 5]}, ("<", None)),
    ({"<=": [1, 2, 3]}, ("<=", None)),
    ({"in": ["x", {"var": "email"}, "y"]}, ("in", None)),
])
def test_a_malformed_shape_is_named(rule, expected):
    path, message = only_problem(rule)
    assert path == expected[0]
    if expected[1]:
        assert message == expected[1]


def test_every_bad_part_is_reported_at_once():
    rule = {"and": [condition("citty", "==", "x"), CITY,
                    {"or": [condition("monetary", ">", "5"), {"like": []}]}]}
    assert [path for path, _ in problems(rule)] == ["and[0].==", "and[2].or[0].>",
                                                    "and[2].or[1].like"]


def test_a_tree_as_deep_as_the_limit_parses_and_one_deeper_is_refused():
    assert isinstance(parse(nested(MAX_DEPTH, CITY)), Group)
    path, message = only_problem(nested(MAX_DEPTH + 1, CITY))
    assert path == ".".join(["and[0]"] * MAX_DEPTH)  # where the 11th level starts
    assert message == f"nested deeper than {MAX_DEPTH} levels"


def test_negations_count_towards_the_depth():
    rule = CITY
    for _ in range(MAX_DEPTH - 1):
        rule = {"!": rule}
    assert isinstance(parse(rule), Not)
    assert only_problem({"!": rule})[1] == f"nested deeper than {MAX_DEPTH} levels"


def test_as_many_conditions_as_the_limit_parse_and_one_more_is_refused():
    assert len(conditions(parse({"or": [CITY] * MAX_CONDITIONS}))) == MAX_CONDITIONS
    assert only_problem({"or": [CITY] * (MAX_CONDITIONS + 1)}) == (
        "", f"more than {MAX_CONDITIONS} conditions")


def test_each_condition_knows_where_it_sits():
    node = parse({"and": [CITY, {"or": [{"!": [CITY]}, condition("monetary", ">", 5)]}]})
    assert [each.path for each in conditions(node)] == ["and[0].==", "and[1].or[0].!.==",
                                                        "and[1].or[1].>"]


# --- the standard JsonLogic shapes a query builder writes ------------------------------------

@pytest.mark.parametrize(("rule", "operator", "value"), [
    ({"<=": [10, {"var": "monetary"}, 99]}, "between", (Decimal(10), Decimal(99))),
    ({"in": ["gmail", {"var": "email"}]}, "contains", "gmail"),
    ({"in": [{"var": "city"}, ["Shanghai"]]}, "in", ["Shanghai"]),
    ({"==": [{"var": "birthday"}, None]}, "is_null", None),
    ({"!=": [{"var": "birthday"}, None]}, "is_not_null", None),
    ({"startsWith": [{"var": "phone"}, "+86"]}, "starts_with", "+86"),
    ({"endsWith": [{"var": "email"}, ".cn"]}, "ends_with", ".cn"),
    ({"==": [{"var": ["city"]}, "Shanghai"]}, "==", "Shanghai"),
    ({"birthday_today": {"var": "birthday"}}, "birthday_today", None),
    ({"birthday_today": [{"var": "birthday"}]}, "birthday_today", None),
    ({"<": [{"var": "birthday"}, "2000-02-29"]}, "<", dt.date(2000, 2, 29)),
])
def test_query_builder_shapes_are_read_as_such(rule, operator, value):
    node = parse(rule)
    assert isinstance(node, Condition)
    assert (node.operator.name, node.value) == (operator, value)


# --- round trip and no mutation --------------------------------------------------------------

SCALARS = {
    FieldType.STRING: "Shanghai", FieldType.INTEGER: 3, FieldType.NUMBER: 99.5,
    FieldType.BOOLEAN: True, FieldType.DATE: "2000-02-29", FieldType.DAYS_SINCE: 30,
    FieldType.ATTRIBUTE: "gold",
}
PAIRS = {
    FieldType.INTEGER: [1, 3], FieldType.NUMBER: [10, 99.5], FieldType.DATE:
    ["1990-01-01", "2000-02-29"], FieldType.DAYS_SINCE: [0, 30], FieldType.ATTRIBUTE: [1, 2.5],
}
OPERATOR_VALUES = {
    "contains": "Sh", "starts_with": "Sh", "ends_with": "hai", "has_tag": "vip",
    "has_any_tag": ["vip", "tea"], "has_all_tags": ["vip", "tea"],
    "birthday_within_days": 7, "anniversary_within_days": 0,
    "did_event": {"name": "visit", "min_count": 2, "within_days": 7,
                  "properties": {"page": "home", "qty": 2, "gift": True}},
    "did_not_event": {"name": "cart_add"},
    "orders_within": {"within_days": 30, "min_count": 2, "min_amount": 99.5},
    "first_order_no_repeat": {"days": 30},
    "cart_abandoned": {"hours": 4}, "unpaid_order": {"hours": 24, "within_days": 3},
    "stage_changed_to": {"stage": "dormant", "within_days": 7},
    "top_percent": 12.5, "in_segment": 3, "not_in_segment": 3,
    "coupon_expiring_within": 3,  # registered by campaigns (campaigns/rules.py)
}
NO_VALUE = {"is_null", "is_not_null", "birthday_today", "birthday_this_month",
            "anniversary_today"}


def sample_value(field, operator: str):
    if operator in NO_VALUE:
        return None
    if operator in OPERATOR_VALUES:
        return OPERATOR_VALUES[operator]
    scalar = field.choice_values[1] if field.type == FieldType.ENUM else SCALARS[field.type]
    if operator == "between":
        return PAIRS[field.type]
    return [scalar] if operator in ("in", "not_in") else scalar


def every_field_and_operator():
    for name, field in FIELDS.items():
        field_name = ATTRIBUTE_PREFIX + "level" if name.endswith("*") else name
        for operator in field.operators:
            yield field_name, operator


PAIRS_OF_FIELD_AND_OPERATOR = list(every_field_and_operator())


@pytest.mark.parametrize(("field_name", "operator"), PAIRS_OF_FIELD_AND_OPERATOR,
                         ids=[f"{f} {o}" for f, o in PAIRS_OF_FIELD_AND_OPERATOR])
def test_condition_output_parses_back_to_the_same_operator_and_value(field_name, operator):
    raw = sample_value(field_lookup(field_name), operator)
    rule = condition(field_name, operator, copy.deepcopy(raw))
    node = parse(rule)
    assert isinstance(node, Condition)
    assert (node.field.name, node.operator.name) == (field_name, operator)
    schema = node.operator.value_schema(node.field)
    assert node.value == (None if schema is None else schema.validate_python(raw))


def test_the_round_trip_covers_every_operator():
    assert {operator for _, operator in PAIRS_OF_FIELD_AND_OPERATOR} == set(OPERATORS)


def every_condition() -> list[dict]:
    return [condition(field_name, operator, sample_value(field_lookup(field_name), operator))
            for field_name, operator in PAIRS_OF_FIELD_AND_OPERATOR]


@pytest.mark.parametrize("half", [0, 1])
def test_parse_never_mutates_a_valid_rule(half):
    everything = every_condition()[half::2]  # within MAX_CONDITIONS
    rule = {"and": [{"or": everything[:60]}, {"!": [{"or": everything[60:]}]},
                    {"and": []}, {"!": {"or": []}}]}
    before = copy.deepcopy(rule)
    parse(rule)
    parse(rule)
    assert rule == before


def test_parse_never_mutates_a_rule_it_refuses():
    rule = {"and": [condition("citty", "==", "x"), {"!": [CITY, CITY]},
                    condition("birthday", "between", ["2000-01-02", "2000-01-01"]),
                    condition("events", "did_event", {"name": "visit", "foo": [1, 2]}),
                    nested(MAX_DEPTH + 2, CITY)]}
    before = copy.deepcopy(rule)
    with pytest.raises(RuleError):
        parse(rule)
    assert rule == before
