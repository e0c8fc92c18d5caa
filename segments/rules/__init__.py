"""Segment rules: JsonLogic trees over a registry of fields and operators, compiled to SQL.

    node = parse(rule)                     # RuleError naming each bad part
    q = compile_node(node, Context.at(now))  # a Q over Customer
"""

from segments.rules import fields as _fields  # noqa: F401 - registers the fields
from segments.rules import operators as _operators  # noqa: F401 - registers the operators
from segments.rules.compiler import compile_node, is_time_dependent, segment_references
from segments.rules.context import Context
from segments.rules.registry import FIELDS, OPERATORS, describe, field_lookup
from segments.rules.tree import RuleError, RuleProblem, condition, conditions, parse

__all__ = [
    "FIELDS", "OPERATORS", "Context", "RuleError", "RuleProblem", "compile_node", "condition",
    "conditions", "describe", "field_lookup", "is_time_dependent", "parse",
    "segment_references",
]
