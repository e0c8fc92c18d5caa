"""Server-rendered operator pages: the dashboard, the customer list and one customer's page.

The dashboard reads only the precomputed figures (customers/services/dashboard.py): a dozen
rows whatever the number of customers. The customer list is a limited, index-backed query
with no full count; a customer's page reads a few rows per section through indexes. What the
segments and campaigns apps add comes through customers/pages.py. From a customer's page an
admin downloads everything held about them and erases their personal data (privacy requests:
customers/services/personal_data.py and erasure.py).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from customers import charts, pages, selectors
from customers.forms import ErasureForm
from customers.models import Customer, LifecycleStage, OrderStatus, RfmClass
from customers.roles import Role, has_role, role_required
from customers.services.dashboard import dashboard_figures
from customers.services.erasure import customer_erase
from customers.services.personal_data import customer_personal_data

TREND_CHOICES = (
    ("", _("All customers")),
    ("acquisition_channel", _("Channel")),
    ("city", _("City")),
    ("age_band", _("Age band")),
)
# The eight classes as the DOMAIN table lays them out: M high on the first row, M low on the
# second; columns R high F high, R high F low, R low F high, R low F low.
RFM_GRID = (
    (RfmClass.IMPORTANT_VALUE, RfmClass.IMPORTANT_DEVELOPMENT, RfmClass.IMPORTANT_RETENTION,
     RfmClass.IMPORTANT_WINBACK),
    (RfmClass.GENERAL_VALUE, RfmClass.GENERAL_DEVELOPMENT, RfmClass.GENERAL_RETENTION,
     RfmClass.GENERAL_WINBACK),
)
RFM_COLUMNS = (_("R high · F high"), _("R high · F low"), _("R low · F high"),
               _("R low · F low"))
CUSTOMERS_PER_PAGE = 50
MATCHES_SHOWN = 1000  # a search counts its matches up to here, never the whole table
TIMELINE_PER_PAGE = 25

# --- dashboard -------------------------------------------------------------------------------


def _figure(figures: dict, key: str, dimension: str = "") -> dict | None:
    figure = figures.get((key, dimension, ""))
    return None if figure is None else figure.value


def _trend_context(figures: dict, dimension: str) -> dict:
    trend = _figure(figures, "trend", dimension)
    context = {"dimension": dimension, "trend_choices": TREND_CHOICES, "trend": trend}
    if trend:
        context["arpu_option"] = charts.trend_option(trend, dimension, "arpu")
        context["arppu_option"] = charts.trend_option(trend, dimension, "arppu")
        context["trend_rows"] = [
            {"label": charts.series_label(row["key"], dimension),
             "cells": list(zip(trend["months"], row["arpu"], row["arppu"], row["active"],
                               strict=True))}
            for row in trend["series"]]
    return context


def _rfm_link(rfm_class: str, urls: dict[str, str]) -> str:
    if rfm_class in urls:
        return urls[rfm_class]
    return f"{reverse('customer-list')}?{urlencode({'rfm_class': rfm_class})}"


def _rfm_grid(rfm: dict) -> list[dict]:
    by_class = {row["rfm_class"]: row for row in rfm["classes"]}
    urls = pages.links("rfm_class", by_class)
    return [{"cells": [{**by_class[rfm_class.value], "label": rfm_class.label,
                        "url": _rfm_link(rfm_class.value, urls),
                        "revenue_pct": by_class[rfm_class.value]["revenue_share"] * 100}
                       for rfm_class in row]}
            for row in RFM_GRID]


def _lifecycle_rows(lifecycle: dict) -> list[dict]:
    return [{**row, "label": LifecycleStage(row["stage"]).label, "share_pct": row["share"] * 100}
            for row in lifecycle["stages"]]


def _top_campaigns(figures: dict) -> list[dict] | None:
    value = _figure(figures, "top_campaigns")
    if value is None:
        return None
    urls = pages.links("campaign", (str(row["id"]) for row in value["campaigns"]))
    return [{**row, "url": urls.get(str(row["id"]))} for row in value["campaigns"]]


def _dashboard_context(figures: dict, dimension: str) -> dict:
    lifecycle, rfm, clv = (_figure(figures, key) for key in ("lifecycle", "rfm", "clv"))
    return {
        **_trend_context(figures, dimension),
        "computed_at": min(figure.computed_at for figure in figures.values()),
        "kpis": _figure(figures, "kpis"),
        "lifecycle": lifecycle and _lifecycle_rows(lifecycle),
        "funnel_option": lifecycle and charts.funnel_option(lifecycle),
        "rfm_columns": RFM_COLUMNS,
        "rfm": rfm,
        "rfm_grid": rfm and _rfm_grid(rfm),
        "clv": clv,
        "clv_option": clv and clv["bins"] and charts.clv_option(clv),
        "predicted_option": lifecycle and rfm and charts.predicted_option(lifecycle, rfm),
        "rfm_rows": rfm and [{**row, "label": RfmClass(row["rfm_class"]).label}
                             for row in rfm["classes"]],
        "top_campaigns": _top_campaigns(figures),
    }


@role_required(Role.VIEWER)
def dashboard(request):
    dimension = request.GET.get("dimension", "")
    if dimension not in dict(TREND_CHOICES):
        context = {"bad_dimension": dimension, "trend_choices": TREND_CHOICES}
        return render(request, "customers/dashboard.html", context, status=400)
    figures = dashboard_figures()
    # The breakdown switch swaps only the trend; htmx restoring a page it has no copy of
    # (back after a switch, history evicted) needs the whole page.
    if request.htmx and not request.htmx.history_restore_request and figures:
        return render(request, "customers/_trend.html", _trend_context(figures, dimension))
    context = _dashboard_context(figures, dimension) if figures else {"empty": True}
    return render(request, "customers/dashboard.html", context)


# --- customer list ---------------------------------------------------------------------------

LIST_FILTERS = {"rfm_class": RfmClass, "stage": LifecycleStage}


def _list_filters(request) -> dict[str, str] | None:
    """The list's filters from the query string; None when one names no class or stage."""
    chosen = {}
    for name, choices in LIST_FILTERS.items():
        value = request.GET.get(name, "")
        if value and value not in choices.values:
            return None
        if value:
            chosen[name] = value
    return chosen


def _page_number(raw: str | None) -> int | None:
    if raw in (None, ""):
        return 1
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 10_000 else None


@role_required(Role.VIEWER)
def customer_list(request):
    query = request.GET.get("q", "").strip()[:200]
    filters, number = _list_filters(request), _page_number(request.GET.get("page"))
    if filters is None or number is None:
        return render(request, "customers/customer_list.html",
                      {"query": query, "bad_request": True}, status=400)
    rows = list(selectors.customer_search(
        query=query, limit=CUSTOMERS_PER_PAGE + 1, offset=(number - 1) * CUSTOMERS_PER_PAGE,
        **filters))
    narrowed = bool(query or filters)
    context = {
        "query": query, "filters": filters, "number": number,
        "customers": rows[:CUSTOMERS_PER_PAGE],
        "has_next": len(rows) > CUSTOMERS_PER_PAGE,
        "previous_query": urlencode({**filters, "q": query, "page": number - 1}),
        "next_query": urlencode({**filters, "q": query, "page": number + 1}),
        "filter_labels": [LIST_FILTERS[name](value).label for name, value in filters.items()],
        "matches": selectors.count_up_to(
            selectors.customer_search(query=query, limit=None, **filters).order_by(),
            MATCHES_SHOWN) if narrowed else None,
        "matches_cap": MATCHES_SHOWN,
        "estimate": None if narrowed else selectors.customer_count_estimate(),
    }
    return render(request, "customers/customer_list.html", context)


# --- one customer ----------------------------------------------------------------------------


def _status_label(status: str | None) -> str:
    if status in OrderStatus.values:
        return OrderStatus(status).label
    return status or ""


def _timeline(customer: Customer, raw_cursor: str | None) -> dict | None:
    """The timeline page after the cursor in the query string; None for a bad cursor."""
    try:
        after = pages.Cursor.decode(raw_cursor) if raw_cursor else None
    except ValueError:
        return None
    entries, cursor = pages.timeline_page(customer=customer, limit=TIMELINE_PER_PAGE,
                                          after=after)
    return {"timeline": [{"status_label": _status_label(entry["status"]), **entry}
                         for entry in entries],
            "older": cursor and urlencode({"before": cursor.encode()}),
            "paged": after is not None}


def _sections(request, customer: Customer) -> list[dict]:
    return [{"key": section.key, "title": section.title,
             "html": render_to_string(section.template, section.context(customer), request)}
            for section in pages.sections()]


def _detail_page(request, customer: Customer, *, erasure_form: ErasureForm | None = None,
                 status: int = 200):
    timeline = _timeline(customer, request.GET.get("before"))
    if timeline is None:
        return render(request, "customers/customer_detail.html",
                      {"customer": customer, "bad_cursor": True}, status=400)
    context = {
        "customer": customer,
        "erasure": getattr(customer, "erasure", None),
        "erasure_form": erasure_form or ErasureForm(external_id=customer.external_id),
        "metrics": getattr(customer, "metrics", None),
        "prediction": getattr(customer, "prediction", None),
        "lifecycle_changes": customer.lifecycle_changes.order_by("-changed_at")[:20],
        "sections": _sections(request, customer),
        **timeline,
    }
    return render(request, "customers/customer_detail.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@role_required(Role.VIEWER)
def customer_detail(request, external_id: str):
    customers = Customer.objects.select_related("metrics", "prediction", "activity", "erasure")
    customer = get_object_or_404(customers, external_id=external_id)
    if request.method == "POST":
        return _erase(request, customer)
    return _detail_page(request, customer)


@role_required(Role.ADMIN)
def customer_personal_data_download(request, external_id: str):
    """Everything held about the customer as a JSON file, for their access request."""
    customer = get_object_or_404(Customer.objects.select_related("activity"),
                                 external_id=external_id)
    response = JsonResponse(customer_personal_data(customer), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = (
        f'attachment; filename="customer-{customer.pk}-personal-data.json"')
    return response


def _erase(request, customer: Customer):
    """Admins erase a customer's personal data from their page, confirming with the external
    id; the page then shows the emptied customer under its new id."""
    if not has_role(request.user, Role.ADMIN):
        raise PermissionDenied
    form = ErasureForm(request.POST, external_id=customer.external_id)
    if not form.is_valid():
        return _detail_page(request, customer, erasure_form=form, status=400)
    who = f"operator {request.user.get_username()}"
    if customer_erase(customer_id=customer.pk, requested_by=who) is not None:
        messages.success(request, _("The customer's personal data was erased."))
    customer.refresh_from_db(fields=["external_id"])
    return redirect("customer-detail", external_id=customer.external_id)
