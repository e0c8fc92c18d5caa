"""Creating and changing segments: the rule is validated (registry, references, cycles) and its
time dependence derived before anything is written."""

from typing import Any

from django.db import transaction

from segments.models import Segment
from segments.rules import RuleError, RuleProblem, is_time_dependent, parse, segment_references
from segments.rules.tree import Node, conditions


def rule_check(rule: Any, *, segment: Segment | None = None) -> Node:
    """The parsed rule, or RuleError: bad shape, unknown field or operator, wrong value, a
    reference to a missing segment, or a cycle of references back to `segment`."""
    node = parse(rule)
    problems = []
    for each in conditions(node):
        if each.field.name != "segment":
            continue
        if not Segment.objects.filter(pk=each.value).exists():
            problems.append(RuleProblem(each.path, f"segment {each.value} does not exist"))
        elif segment is not None and segment.pk is not None \
                and _reaches(each.value, segment.pk):
            problems.append(RuleProblem(
                each.path, f"segment {each.value} refers back to this segment (a cycle)"))
    if problems:
        raise RuleError(problems)
    return node


def _reaches(start: int, target: int) -> bool:
    """Whether segment `start`'s rule refers, directly or through others, to `target`."""
    rules = dict(Segment.objects.values_list("pk", "rule"))
    stack, seen = [start], set()
    while stack:
        current = stack.pop()
        if current == target:
            return True
        if current in seen or current not in rules:
            continue
        seen.add(current)
        try:
            stack.extend(segment_references(parse(rules[current])))
        except RuleError:
            continue  # a stored rule that no longer parses refers to nothing
    return False


def segment_save(segment: Segment, *, evaluate: bool = True) -> Segment:
    """Validate and save; with `evaluate`, queue a full evaluation once committed."""
    node = rule_check(segment.rule, segment=segment)
    segment.time_dependent = is_time_dependent(node)
    with transaction.atomic():
        segment.save()
        if evaluate:
            from segments.tasks import evaluate_segment_task

            pk = segment.pk
            transaction.on_commit(lambda: evaluate_segment_task.delay(pk))
    return segment
