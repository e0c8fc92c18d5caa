"""ECharts options for the dashboard, built from the stored figures (DashboardFigure values)
in the request's language. The charts island draws them as they are (customers/frontend/
charts/main.jsx); a data item with a `url` opens it when clicked."""

from django.utils.translation import gettext as _

from customers.models import LifecycleStage, RfmClass

COLOURS = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d", "#64748b"]


def _number(value) -> float | None:
    return None if value is None else float(value)


def series_label(key: str, dimension: str) -> str:
    if dimension == "":
        return _("All customers")
    if key == "(other)":
        return _("(other)")
    return key or _("(not set)")


def trend_option(trend: dict, dimension: str, metric: str) -> dict:
    """A line per dimension value (one line for all customers) of `metric` ("arpu" or
    "arppu") by month."""
    return {
        "color": COLOURS,
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 56, "right": 16, "top": 16, "bottom": 56},
        "xAxis": {"type": "category", "data": trend["months"]},
        "yAxis": {"type": "value"},
        "series": [{"type": "line", "name": series_label(row["key"], dimension),
                    "data": [_number(value) for value in row[metric]], "connectNulls": False}
                   for row in trend["series"]],
    }


def funnel_option(lifecycle: dict) -> dict:
    """Prospect -> new -> active as a funnel; dormant and churned drawn after, smaller."""
    data = [{"name": str(LifecycleStage(row["stage"]).label), "value": row["count"]}
            for row in lifecycle["stages"]]
    return {
        "color": COLOURS,
        "tooltip": {"trigger": "item", "formatter": "{b}: {c}"},
        "series": [{"type": "funnel", "sort": "none", "left": "10%", "width": "80%",
                    "minSize": "8%", "label": {"show": True, "formatter": "{b}: {c}"},
                    "data": data}],
    }


def clv_option(clv: dict) -> dict:
    labels = [f"{float(row['from']):g}-{float(row['to']):g}" if row["to"] is not None
              else f"≥ {float(row['from']):g}" for row in clv["bins"]]
    return {
        "color": COLOURS,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 56, "right": 16, "top": 16, "bottom": 48},
        "xAxis": {"type": "category", "data": labels, "name": _("Predicted CLV"),
                  "nameLocation": "middle", "nameGap": 30},
        "yAxis": {"type": "value", "name": _("Customers")},
        "series": [{"type": "bar", "name": _("Customers"),
                    "data": [row["count"] for row in clv["bins"]]}],
    }


def predicted_option(lifecycle: dict, rfm: dict) -> dict:
    """Predicted revenue of the next horizon: one bar per lifecycle stage and RFM class."""
    names = [str(LifecycleStage(row["stage"]).label) for row in lifecycle["stages"]]
    names += [str(RfmClass(row["rfm_class"]).label) for row in rfm["classes"]]
    values = [_number(row["predicted_revenue"]) for row in lifecycle["stages"]]
    values += [_number(row["predicted_revenue"]) for row in rfm["classes"]]
    return {
        "color": COLOURS,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 180, "right": 24, "top": 8, "bottom": 24},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": names, "inverse": True},
        "series": [{"type": "bar", "name": _("Predicted revenue"), "data": values}],
    }
