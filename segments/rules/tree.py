"""A rule in JsonLogic form, parsed into a tree of groups and conditions, and written back.

Standard JsonLogic shapes are read as a query builder writes them:
  {"==": [{"var": "city"}, "Shanghai"]}            field == value
  {"<=": [10, {"var": "monetary"}, 99]}             between (inclusive)
  {"in": [{"var": "city"}, ["Shanghai", "Beijing"]]} one of
  {"in": ["gmail", {"var": "email"}]}               contains
  {"==": [{"var": "birthday"}, null]}               has no value (!= null: has one)
  {"startsWith": [...]}, {"endsWith": [...]}         text matching
Every other registered operator is written {"<operator>": [{"var": "<field>"}, <value>]}, or
without the value when it takes none. Groups: {"and": [...]}, {"or": [...]}, {"!": node}.
"""

import dataclasses
from typing import Any

from pydantic import ValidationError

from segments.rules.registry import OPERATORS, Field, Operator, field_lookup

MAX_DEPTH = 10
MAX_CONDITIONS = 200
ALIASES = {"startsWith": "starts_with", "endsWith": "ends_with"}


@dataclasses.dataclass(frozen=True)
class Condition:
    field: Field
    operator: Operator
    value: Any
    path: str  # where it sits in the rule, for messages: "and[1].or[0]"


@dataclasses.dataclass(frozen=True)
class Group:
    kind: str  # "and" | "or"
    children: tuple["Node", ...]
    path: str


@dataclasses.dataclass(frozen=True)
class Not:
    child: "Node"
    path: str


Node = Condition | Group | Not


@dataclasses.dataclass(frozen=True)
class RuleProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RuleError(ValueError):
    """A rule that cannot be used; `problems` name each bad part."""

    def __init__(self, problems: list[RuleProblem]):
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def parse(rule: Any) -> Node:
    """The tree of a JsonLogic rule, or RuleError naming every bad part. Never mutates `rule`."""
    parser = _Parser()
    node = parser.node(rule, "", 1)
    if parser.conditions > MAX_CONDITIONS:
        parser.problems.append(RuleProblem("", f"more than {MAX_CONDITIONS} conditions"))
    if parser.problems:
        raise RuleError(parser.problems)
    return node


class _Parser:
    def __init__(self):
        self.problems: list[RuleProblem] = []
        self.conditions = 0

    def fail(self, path: str, message: str) -> None:
        self.problems.append(RuleProblem(path, message))

    def node(self, raw: Any, path: str, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        if not isinstance(raw, dict) or len(raw) != 1:
            self.fail(path, "expected an object with exactly one operation, such as "
                            '{"and": [...]} or {"==": [{"var": "city"}, "Shanghai"]}')
            return None
        ((operation, args),) = raw.items()
        here = f"{path}.{operation}" if path else str(operation)
        if operation in ("and", "or"):
            return self.group(operation, args, here, depth)
        if operation == "!":
            return self.negation(args, here, depth)
        return self.condition(operation, args, here)

    def group(self, kind: str, args: Any, path: str, depth: int) -> Group | None:
        if not isinstance(args, list):
            self.fail(path, f'"{kind}" takes a list of rules')
            return None
        children = [self.node(child, f"{path}[{i}]", depth + 1) for i, child in enumerate(args)]
        if any(child is None for child in children):
            return None
        return Group(kind, tuple(children), path)

    def negation(self, args: Any, path: str, depth: int) -> Not | None:
        if isinstance(args, list):
            if len(args) != 1:
                self.fail(path, '"!" takes exactly one rule')
                return None
            args = args[0]
        child = self.node(args, path, depth + 1)
        return None if child is None else Not(child, path)

    def condition(self, operation: str, args: Any, path: str) -> Condition | None:
        self.conditions += 1
        if operation not in OPERATORS and operation not in ALIASES:
            # Before the shape: {"like": [1, 2]} is an unknown operator, not a missing field.
            self.fail(path, f'unknown operator "{operation}"')
            return None
        shape = _shape(operation, args if isinstance(args, list) else [args])
        if isinstance(shape, str):
            self.fail(path, shape)
            return None
        field_name, operator_name, value, has_value = shape
        field = field_lookup(field_name) if isinstance(field_name, str) else None
        if field is None:
            self.fail(path, f'unknown field "{field_name}"')
            return None
        operator = OPERATORS.get(operator_name)
        if operator is None:
            self.fail(path, f'unknown operator "{operation}"')
            return None
        if operator_name not in field.operators:
            self.fail(path, f'operator "{operator_name}" does not apply to field "{field.name}" '
                            f"(it takes: {', '.join(field.operators)})")
            return None
        return self.checked(field, operator, value, has_value, path)

    def checked(self, field: Field, operator: Operator, value: Any, has_value: bool,
                path: str) -> Condition | None:
        schema = operator.value_schema(field)
        if schema is None:
            if has_value:
                self.fail(path, f'operator "{operator.name}" takes no value')
                return None
            return Condition(field, operator, None, path)
        if not has_value:
            self.fail(path, f'operator "{operator.name}" needs a value')
            return None
        try:
            validated = schema.validate_python(value)
        except ValidationError as exc:
            self.fail(path, f"value {_brief(value)}: {_pydantic_message(exc)}")
            return None
        return Condition(field, operator, validated, path)


def _var(arg: Any) -> str | None:
    """The field name of a {"var": name} argument, or None when `arg` is not one."""
    if isinstance(arg, dict) and len(arg) == 1 and "var" in arg:
        name = arg["var"]
        if isinstance(name, list) and len(name) == 1:
            name = name[0]
        return name if isinstance(name, str) else ""
    return None


def _shape(operation: str, args: list) -> tuple[str, str, Any, bool] | str:
    """(field, operator, value, has_value) of a condition, or a message saying what is off."""
    names = [_var(arg) for arg in args]
    if operation in ("<=", "<") and len(args) == 3:
        if operation == "<" or names[1] is None:
            return 'a three-part comparison must be {"<=": [low, {"var": field}, high]}'
        return names[1], "between", [args[0], args[2]], True
    if operation == "in" and len(args) == 2 and names[0] is None and names[1] is not None:
        return names[1], "contains", args[0], True
    if not args or names[0] is None:
        return f'"{operation}" must start with the field: {{"var": "<field>"}}'
    if len(args) > 2:
        return f'"{operation}" takes a field and at most one value'
    if len(args) == 1:
        return names[0], ALIASES.get(operation, operation), None, False
    if operation in ("==", "!=") and args[1] is None:
        return names[0], "is_null" if operation == "==" else "is_not_null", None, False
    return names[0], ALIASES.get(operation, operation), args[1], True


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def condition(field: str, operator: str, value: Any = None) -> dict:
    """The canonical JsonLogic of one condition (templates and tests write rules with it)."""
    var = {"var": field}
    if operator == "between":
        low, high = value
        return {"<=": [low, var, high]}
    if operator == "contains":
        return {"in": [value, var]}
    if operator == "is_null":
        return {"==": [var, None]}
    if operator == "is_not_null":
        return {"!=": [var, None]}
    operation = {v: k for k, v in ALIASES.items()}.get(operator, operator)
    return {operation: [var] if value is None else [var, value]}


def walk(node: Node):
    """Every node of the tree, depth first."""
    yield node
    if isinstance(node, Group):
        for child in node.children:
            yield from walk(child)
    elif isinstance(node, Not):
        yield from walk(node.child)


def conditions(node: Node) -> list[Condition]:
    return [each for each in walk(node) if isinstance(each, Condition)]
