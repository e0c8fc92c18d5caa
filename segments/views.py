"""Server-rendered operator pages for segments: the list (htmx search), one segment's page, and
the new/edit pages that mount the rule builder island (segments/frontend/builder/).

Every figure is stored: a segment's size and evaluation history are written by evaluations,
so no page counts members. Viewers read; marketers create, edit and delete (the API the
builder calls checks the same roles).
"""

import datetime
import decimal
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from pydantic import BaseModel

from customers.roles import Role, has_role, role_required
from segments.export import csv_pieces
from segments.models import Segment, SegmentChange
from segments.rules import RuleError, parse, segment_references
from segments.rules.registry import FieldType
from segments.rules.tree import Condition, Node, Not
from segments.selectors import (
    EXPORT_COLUMNS,
    segment_history,
    segment_member_rows,
    segment_members,
    segment_size_histories,
)
from segments.services.segments import SegmentInUse, segment_delete

SEGMENTS_PER_PAGE = 25
SPARK_POINTS = 30  # a month of daily evaluations, a day and a bit of hourly ones
HISTORY_POINTS = 90
CHANGES_PER_PAGE = 25
MEMBER_SAMPLE = 20
SEARCH_MAX = 200

STATUS_LABELS = {
    "paused": gettext_lazy("Paused"),
    "pending": gettext_lazy("Waiting for its first evaluation"),
    "overdue": gettext_lazy("Evaluation overdue"),
    "current": gettext_lazy("Up to date"),
}


def segment_status(segment: Segment, now: datetime.datetime) -> str:
    """paused, pending, overdue (no full evaluation for twice its interval) or current."""
    if not segment.is_active:
        return "paused"
    if segment.last_evaluated_at is None:
        return "pending"
    allowed = datetime.timedelta(minutes=2 * segment.refresh_interval_minutes)
    return "overdue" if now - segment.last_evaluated_at > allowed else "current"


def sparkline(sizes: list[int], *, width: int = 100, height: int = 24) -> str:
    """SVG polyline points for sizes (oldest first), scaled to the box; "" for fewer than 2."""
    if len(sizes) < 2:
        return ""
    low, high = min(sizes), max(sizes)
    spread = (high - low) or 1
    step = width / (len(sizes) - 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (size - low) * (height - 4) / spread:.1f}"
                    for i, size in enumerate(sizes))


def _list_rows(segments: list[Segment]) -> list[dict]:
    now = timezone.now()
    histories = segment_size_histories([s.pk for s in segments], points=SPARK_POINTS)
    rows = []
    for segment in segments:
        sizes = histories[segment.pk]
        status = segment_status(segment, now)
        rows.append({"segment": segment, "status": status, "status_label": STATUS_LABELS[status],
                     "spark": sparkline(sizes), "spark_low": min(sizes, default=None),
                     "spark_high": max(sizes, default=None), "spark_count": len(sizes)})
    return rows


@role_required(Role.VIEWER)
def segment_list(request):
    query = request.GET.get("q", "").strip()
    if len(query) > SEARCH_MAX:
        return HttpResponseBadRequest(_("The search is too long (at most %(n)s characters).")
                                      % {"n": SEARCH_MAX})
    segments = Segment.objects.order_by("name")
    if query:
        segments = segments.filter(name__icontains=query)
    page = Paginator(segments, SEGMENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"query": query, "page": page, "rows": _list_rows(list(page.object_list)),
               "can_edit": has_role(request.user, Role.MARKETER)}
    # htmx search swaps only the results; a plain request, a bookmark or htmx restoring
    # history it has no copy of gets the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "segments/_segment_results.html" if partial else "segments/segment_list.html"
    return render(request, template, context)


def _value_text(node: Condition, segment_names: dict[int, str]) -> str:
    value = node.value
    if value is None:
        return ""
    if node.field.type == FieldType.SEGMENT:
        return segment_names.get(value, _("segment %(id)s (deleted)") % {"id": value})
    if isinstance(value, BaseModel):
        parts = value.model_dump(exclude_none=True, exclude_defaults=True)
        return ", ".join(f"{key}: {_plain(part)}" for key, part in parts.items()) \
            or ", ".join(f"{k}: {_plain(v)}" for k, v in value.model_dump().items())
    choices = dict(node.field.choices)
    if isinstance(value, tuple):
        low, high = value
        return _("%(low)s to %(high)s") % {"low": _plain(low), "high": _plain(high)}
    if isinstance(value, list):
        return ", ".join(str(choices.get(each, _plain(each))) for each in value)
    return str(choices.get(value, _plain(value)))


def _plain(value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return ", ".join(f"{key}={_plain(each)}" for key, each in value.items())
    return str(value)


def rule_summary(node: Node, segment_names: dict[int, str]) -> dict:
    """The parsed rule as nested readable parts for templates/segments/_rule_node.html."""
    if isinstance(node, Condition):
        field = str(node.field.label)
        if node.field.type == FieldType.ATTRIBUTE:
            field = f"{field} {node.field.name.removeprefix('attributes.')}"
        return {"kind": "condition", "field": field, "operator": str(node.operator.label),
                "value": _value_text(node, segment_names)}
    if isinstance(node, Not):
        return {"kind": "not", "children": [rule_summary(node.child, segment_names)]}
    return {"kind": node.kind,
            "children": [rule_summary(child, segment_names) for child in node.children]}


def _summary_or_error(segment: Segment) -> tuple[dict | None, str]:
    try:
        node = parse(segment.rule)
    except RuleError as exc:
        return None, str(exc)
    names = dict(Segment.objects.filter(pk__in=segment_references(node))
                 .values_list("pk", "name"))  # only those the rule names
    return rule_summary(node, names), ""


def _before_id(raw: str | None) -> int | bool | None:
    """The keyset cursor of the change log (?before=<id>): None for the newest page, False
    when it is not a positive whole number."""
    if raw in (None, ""):
        return None
    return int(raw) if raw.isdigit() and int(raw) > 0 else False


def _recent_changes(segment: Segment, before: int | None) -> tuple[list, int | None]:
    """A page of the change log, newest first, by id (the (segment, id) index): a count of
    a million changes is never taken."""
    changes = SegmentChange.objects.filter(segment=segment).select_related("customer")
    if before is not None:
        changes = changes.filter(id__lt=before)
    rows = list(changes.order_by("-id")[:CHANGES_PER_PAGE + 1])
    older = rows[CHANGES_PER_PAGE - 1].id if len(rows) > CHANGES_PER_PAGE else None
    return rows[:CHANGES_PER_PAGE], older


@role_required(Role.VIEWER)
def segment_detail(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    before = _before_id(request.GET.get("before"))
    if before is False:
        return HttpResponseBadRequest(_("“before” must be a change id (a positive number)."))
    changes, older = _recent_changes(segment, before)
    summary, rule_error = _summary_or_error(segment)
    history = segment_history(segment, points=HISTORY_POINTS)
    sizes = [point.size for point in history]
    members = segment_members(segment)[:MEMBER_SAMPLE]
    status = segment_status(segment, timezone.now())
    context = {
        "segment": segment, "summary": summary, "rule_error": rule_error,
        "rule_json": json.dumps(segment.rule, indent=2, ensure_ascii=False),
        "status": status, "status_label": STATUS_LABELS[status],
        "history": history[-10:][::-1], "spark": sparkline(sizes, width=300, height=60),
        "spark_low": min(sizes, default=None), "spark_high": max(sizes, default=None),
        "changes": changes, "older": older, "before": before, "members": members,
        "can_edit": has_role(request.user, Role.MARKETER),
        "explain_props": {"segmentId": segment.pk},
    }
    return render(request, "segments/segment_detail.html", context)


@role_required(Role.MARKETER)
def segment_members_export(request, pk: int):
    """Every member as of the last evaluation, streamed as CSV (segments.export). Marketers
    and up: they are the ones who take an audience to another tool."""
    segment = get_object_or_404(Segment, pk=pk)
    response = StreamingHttpResponse(
        csv_pieces(EXPORT_COLUMNS, segment_member_rows(segment)),
        content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="segment-{segment.pk}-members-{timezone.localdate():%Y-%m-%d}.csv"')
    return response


def _builder_props(segment: Segment | None) -> dict:
    detail = reverse("segment-detail", args=[999999]).replace("999999", "{id}")
    return {
        "segment": None if segment is None else {
            "id": segment.pk, "name": segment.name, "description": segment.description,
            "rule": segment.rule, "updated_at": segment.updated_at.isoformat()},
        "detailUrl": detail,
        "listUrl": reverse("segment-list"),
    }


@role_required(Role.MARKETER)
def segment_new(request):
    return render(request, "segments/segment_form.html",
                  {"segment": None, "builder_props": _builder_props(None)})


@role_required(Role.MARKETER)
def segment_edit(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    return render(request, "segments/segment_form.html",
                  {"segment": segment, "builder_props": _builder_props(segment)})


@require_POST
@role_required(Role.MARKETER)
def segment_remove(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    try:
        segment_delete(segment)
    except SegmentInUse as exc:
        messages.error(request, _("“%(name)s” was not deleted: other segments refer to it "
                                  "(%(names)s). Change their rules first.")
                       % {"name": segment.name,
                          "names": ", ".join(each.name for each in exc.referrers)})
        return redirect("segment-detail", pk=pk)
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    return redirect("segment-list")
