"""A parsed rule compiled to one Django Q over Customer."""

from django.db.models import Q

from segments.rules.context import Context
from segments.rules.tree import Condition, Node, Not, conditions

# Not Q(): an empty Q vanishes inside OR and under NOT, so {"or": [{"and": []}, x]} would be x.
# Not Q(pk__in=[]): a query that is nothing but that raises EmptyResultSet when its SQL is asked
# for (evaluation inserts the member query's SQL into a temporary table).
EVERYONE, NO_ONE = Q(pk__isnull=False), Q(pk__isnull=True)


def compile_node(node: Node, context: Context) -> Q:
    if isinstance(node, Condition):
        return node.operator.compile(node.field, node.value, context)
    if isinstance(node, Not):
        return ~compile_node(node.child, context)
    if not node.children:
        # {"and": []} is everyone, {"or": []} is no one, as in JsonLogic.
        return EVERYONE if node.kind == "and" else NO_ONE
    compiled = [compile_node(child, context) for child in node.children]
    combined = compiled[0]
    for q in compiled[1:]:
        combined = combined & q if node.kind == "and" else combined | q
    return combined


def is_time_dependent(node: Node) -> bool:
    """Whether the rule's members can change with the clock alone."""
    if isinstance(node, Condition):
        return node.operator.is_time_dependent(node.field)
    if isinstance(node, Not):
        return is_time_dependent(node.child)
    return any(is_time_dependent(child) for child in node.children)


def segment_references(node: Node) -> set[int]:
    return {each.value for each in conditions(node) if each.field.name == "segment"}

