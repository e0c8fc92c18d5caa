"""A campaign's results page: the figures of the results API (campaigns/api/results.py,
docs/results.md) as tiles, tables and charts (the charts island draws the ECharts options
written here). The figures take seconds on a million journeys, so the page answers at once
and htmx loads them into it from the cache a beat task keeps warm
(campaign_results_cached)."""

import json
from decimal import Decimal

from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from campaigns.api.results import ResultsOutputSerializer
from campaigns.models import Campaign
from campaigns.services.results import VersionNotFound, campaign_results_cached
from customers.roles import Role, role_required

ACCENT, MUTED, BAR = "#2563c9", "#667085", "#5b8def"


def _version(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else None


@role_required(Role.VIEWER)
def campaign_results_page(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    versions = list(campaign.versions.order_by("-number").values_list("number", flat=True))
    return render(request, "campaigns/results.html", {
        "campaign": campaign, "versions": versions,
        "version": _version(request.GET.get("version")), "published": bool(versions)})


def _figures(campaign: Campaign, version: int | None) -> dict:
    results = campaign_results_cached(campaign, version=version)
    return json.loads(json.dumps(ResultsOutputSerializer(results).data))


@role_required(Role.VIEWER)
def campaign_results_figures(request, pk: int):
    """The figures and charts (the fragment htmx loads into the page)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        figures = _figures(campaign, _version(request.GET.get("version")))
    except VersionNotFound as exc:
        raise Http404(_("Campaign %(id)s has no version %(version)s.")
                      % {"id": pk, "version": exc.args[0]}) from exc
    splits = [n for n in figures["nodes"] if n.get("branches")]
    return render(request, "campaigns/results_figures.html", {
        "campaign": campaign, "r": figures, "as_of": parse_datetime(figures["as_of"]),
        "uplift_chart": uplift_option(figures),
        "conversion_chart": conversion_option(figures) if figures["goal"] else None,
        "funnel_chart": funnel_option(figures["nodes"]),
        "splits": [{"node": n, "chart": ab_option(n), "props_id": f"ab-chart-{i}-props",
                    "chart_id": f"ab-chart-{i}"} for i, n in enumerate(splits)],
        "skipped": sorted(figures["messages"]["skipped_by_reason"].items()),
    })


# --- chart options (ECharts, drawn by customers/frontend/charts) -------------------------------

def _number(value) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def _interval_rows(rows: list[tuple[str, dict | None]], scale: float) -> list[dict]:
    """(label, {difference, low, high}) -> points and interval lines, `scale` applied."""
    out = []
    for label, interval in rows:
        if interval is None:
            continue
        difference, low, high = (None if _number(interval.get(k)) is None
                                 else round(_number(interval[k]) * scale, 4)
                                 for k in ("difference", "low", "high"))
        out.append({"label": label, "difference": difference, "low": low, "high": high})
    return out


def _axis_bounds(rows: list[dict]) -> tuple[float, float]:
    """Zero, every difference and every interval end in view, with a margin."""
    values = [0.0] + [row[k] for row in rows for k in ("difference", "low", "high")
                      if row[k] is not None]
    low, high = min(values), max(values)
    margin = (high - low) * 0.1 or 1.0
    return round(low - margin, 2), round(high + margin, 2)


def interval_option(rows: list[dict], axis_name: str) -> dict:
    """Each row's difference as a dot and its 95% interval as a line, against zero."""
    categories = [row["label"] for row in rows]
    lines = [[{"coord": [row["low"], row["label"]]}, {"coord": [row["high"], row["label"]]}]
             for row in rows if row["low"] is not None]
    low, high = _axis_bounds(rows)
    return {
        "animation": False,
        "grid": {"left": 190, "right": 40, "top": 30, "bottom": 40},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "value", "name": axis_name, "nameLocation": "middle", "nameGap": 26,
                  "min": low, "max": high},
        "yAxis": {"type": "category", "data": categories, "inverse": True},
        "series": [{
            "type": "scatter", "symbolSize": 14, "itemStyle": {"color": ACCENT}, "z": 3,
            "data": [{"value": [row["difference"], row["label"]], "name": _interval_text(row)}
                     for row in rows],
            "label": {"show": True, "position": "top", "formatter": "{b}"},
            "markLine": {"symbol": "none", "silent": True, "animation": False,
                         "lineStyle": {"color": ACCENT, "width": 3, "type": "solid"},
                         "label": {"show": False},
                         "data": [*lines, {"xAxis": 0, "lineStyle": {"color": MUTED,
                                                                      "type": "dashed",
                                                                      "width": 1}}]},
        }],
    }


def _interval_text(row: dict) -> str:
    if row["low"] is None:
        return f"{row['difference']:+.2f}"
    return f"{row['difference']:+.2f} [{row['low']:.2f}, {row['high']:.2f}]"


def uplift_option(figures: dict) -> dict | None:
    uplift = figures["uplift"]
    rows = _interval_rows([(_("ARPU uplift"), uplift.get("arpu")),
                           (_("ARPU uplift net of coupons"), uplift.get("arpu_net"))], 1)
    return interval_option(rows, _("Treated minus holdout, per customer")) if rows else None


def conversion_option(figures: dict) -> dict | None:
    rows = _interval_rows([(_("Conversion-rate uplift"),
                            figures["uplift"].get("conversion_rate"))], 100)
    return interval_option(rows, _("Percentage points")) if rows else None


def funnel_option(nodes: list[dict]) -> dict:
    """Journeys that reached each node, in the graph's order."""
    labels = [n["label"] or n["id"] for n in nodes]
    return {
        "animation": False,
        "grid": {"left": 160, "right": 40, "top": 10, "bottom": 30},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": {"type": "category", "data": labels, "inverse": True},
        "series": [{"type": "bar", "name": _("Reached"), "itemStyle": {"color": BAR},
                    "label": {"show": True, "position": "right"},
                    "data": [n["entered"] for n in nodes]}],
    }


def ab_option(node: dict) -> dict:
    """ARPU and conversion rate of each branch of an A/B split, side by side."""
    ports = [b["port"] for b in node["branches"]]
    arpu = [_number(b["group"]["arpu"]) for b in node["branches"]]
    rates = [None if b["group"]["conversion_rate"] is None
             else round(b["group"]["conversion_rate"] * 100, 2) for b in node["branches"]]
    return {
        "animation": False,
        "legend": {"top": 0},
        "grid": {"left": 60, "right": 60, "top": 40, "bottom": 30},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": ports},
        "yAxis": [{"type": "value", "name": "ARPU"},
                  {"type": "value", "name": "%", "position": "right",
                   "splitLine": {"show": False}}],
        "series": [
            {"type": "bar", "name": "ARPU", "data": arpu, "itemStyle": {"color": ACCENT},
             "label": {"show": True, "position": "top"}},
            {"type": "bar", "name": _("Conversion rate (%)"), "yAxisIndex": 1, "data": rates,
             "itemStyle": {"color": "#9bb7ea"}, "label": {"show": True, "position": "top"}},
        ],
    }
