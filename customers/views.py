"""Server-rendered operator pages: the dashboard, the customer list and one customer's page.

Every figure comes from customers.selectors; these views only pick the period, shape the
rows for the templates (bar widths) and paginate.
"""

from django.core.cache import cache
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from customers import selectors
from customers.models import Customer, MetricsRun, Order, OrderStatus
from customers.roles import Role, role_required

PERIOD_CHOICES = (7, 30, 90, 365)
DEFAULT_DAYS = 30
CUSTOMERS_PER_PAGE = 50
# A year of daily bars is unreadable; a week of monthly bars is one bar.
TREND_BUCKET_BY_DAYS = {7: "day", 30: "day", 90: "week", 365: "month"}
BREAKDOWNS = (
    ("acquisition_channel", _("Acquisition channel")),
    ("city", _("City")),
    ("age_band", _("Age band")),
    ("storefront", _("Storefront")),
)


def _parse_days(raw: str | None) -> int | None:
    """The period in days, or None when `raw` is not one of the offered periods."""
    if raw is None or raw == "":
        return DEFAULT_DAYS
    try:
        days = int(raw)
    except ValueError:
        return None
    return days if days in PERIOD_CHOICES else None


# The period figures scan every order and event of the period (seconds on millions of rows,
# see bench notes); operators reload the dashboard far more often than the figures move.
FIGURES_CACHE_SECONDS = 300


def _period_figures(days: int) -> dict:
    period = selectors.period_last_days(days)
    return {
        "period": period,
        "summary": selectors.value_summary(period=period),
        "breakdowns": {dim: selectors.arpu_by(period=period, dimension=dim)
                       for dim, _label in BREAKDOWNS},
        "trend": selectors.arpu_trend(period=period, bucket=TREND_BUCKET_BY_DAYS[days]),
    }


def _cached_period_figures(days: int) -> dict:
    return cache.get_or_set(f"dashboard:figures:{days}", lambda: _period_figures(days),
                            FIGURES_CACHE_SECONDS)


def _with_bar_widths(rows: list[dict], key: str) -> list[dict]:
    """Add `bar` (0..100, % of the largest value) so templates can draw honest CSS bars."""
    top = max((row[key] or 0 for row in rows), default=0)
    return [{**row, "bar": float(row[key] or 0) * 100 / float(top) if top else 0} for row in rows]


def _with_share_bars(rows: list[dict]) -> list[dict]:
    return [{**row, "bar": float(row["share"] or 0) * 100} for row in rows]


@role_required(Role.VIEWER)
def dashboard(request):
    days = _parse_days(request.GET.get("days"))
    if days is None:
        context = {
            "period_choices": PERIOD_CHOICES,
            "days": None,
            "bad_days": request.GET.get("days"),
        }
        return render(request, "customers/dashboard.html", context, status=400)
    figures = _cached_period_figures(days)
    summary = figures["summary"]
    rate = summary.get("repurchase_rate")
    context = {
        "period_choices": PERIOD_CHOICES,
        "days": days,
        "period": figures["period"],
        "summary": summary,
        "repurchase_pct": None if rate is None else float(rate) * 100,
        "has_orders": Order.objects.exists(),
        "breakdowns": [
            {"dimension": dim, "label": label,
             "rows": _with_bar_widths(figures["breakdowns"][dim], "arpu")}
            for dim, label in BREAKDOWNS
        ],
        "trend": _with_bar_widths(figures["trend"], "arpu"),
        "trend_bucket": TREND_BUCKET_BY_DAYS[days],
        "lifecycle": _with_share_bars(selectors.lifecycle_distribution()),
        "rfm": _with_share_bars(selectors.rfm_distribution()),
        "last_run": MetricsRun.objects.order_by("-cutoff").first(),
    }
    return render(request, "customers/dashboard.html", context)


@role_required(Role.VIEWER)
def customer_list(request):
    query = request.GET.get("q", "").strip()
    # No limit: the paginator slices; an empty query lists the newest customers.
    customers = selectors.customer_search(query=query, limit=None)
    page = Paginator(customers, CUSTOMERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "customers/customer_list.html", {"query": query, "page": page})


def _status_label(status: str | None) -> str:
    if status in OrderStatus.values:
        return OrderStatus(status).label
    return status or ""


@role_required(Role.VIEWER)
def customer_detail(request, external_id: str):
    customers = Customer.objects.select_related("metrics")
    customer = get_object_or_404(customers, external_id=external_id)
    context = {
        "customer": customer,
        "metrics": getattr(customer, "metrics", None),
        "lifecycle_changes": customer.lifecycle_changes.order_by("-changed_at")[:50],
        "timeline": [
            {**item, "status_label": _status_label(item["status"])}
            for item in selectors.customer_timeline(customer=customer, limit=100)
        ],
    }
    return render(request, "customers/customer_detail.html", context)
