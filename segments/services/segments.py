"""Creating and changing segments: the rule is validated (registry, references, cycles) and its
time dependence derived before anything is written."""

from typing import Any

from django.db import transaction

from segments.library import template_rule
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


class SegmentInUse(Exception):
    """The segment is referred to by other segments' rules; `referrers` name them."""

    def __init__(self, referrers: list[Segment]):
        names = ", ".join(f"{each.name} (id {each.pk})" for each in referrers)
        super().__init__(f"Segments refer to this one: {names}. Change their rules first.")
        self.referrers = referrers


def segment_create(*, name: str, rule: Any = None, template: str = "",
                   params: dict[str, Any] | None = None, created_by=None,
                   **fields: Any) -> Segment:
    """A new segment from a rule, or from a template's rule (a copy the operator can edit).
    RuleError or TemplateError name the bad part; nothing is written then."""
    if template:
        rule = template_rule(template, params)
    segment = Segment(name=name, rule=rule, template=template, created_by=created_by, **fields)
    return segment_save(segment)


def segment_update(segment: Segment, **changes: Any) -> Segment:
    """Change the given fields; re-evaluated when the rule changed or it was switched on."""
    reevaluate = ("rule" in changes and changes["rule"] != segment.rule) or (
        changes.get("is_active") is True and not segment.is_active)
    for name, value in changes.items():
        setattr(segment, name, value)
    return segment_save(segment, evaluate=reevaluate)


def segment_delete(segment: Segment) -> None:
    """Delete with its members, changes and history; refused while other rules use it."""
    referrers = segment_referrers(segment)
    if referrers:
        raise SegmentInUse(referrers)
    segment.delete()


def segment_referrers(segment: Segment) -> list[Segment]:
    """The other segments whose rules refer to this one."""
    return [other for other in Segment.objects.exclude(pk=segment.pk)
            if segment.pk in _references(other.rule)]


def _references(rule: Any) -> set[int]:
    try:
        return segment_references(parse(rule))
    except RuleError:
        return set()
