"""Operator pages for coupons: definitions with their stats, a definition's codes, and
creating, changing and issuing (managers). Every change goes through the services the API
uses (campaigns.services.coupons), so the form refuses what the API refuses."""


from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from campaigns.forms import CouponDefinitionPageForm, CouponIssueForm
from campaigns.models import Coupon, CouponDefinition
from campaigns.paging import window
from campaigns.services.coupons import (
    DEFINITION_FIELDS,
    CouponRefused,
    DefinitionInUse,
    DefinitionInvalid,
    coupon_definition_delete,
    coupon_definition_save,
    coupon_definitions_with_stats,
    coupon_issue_manual,
    display_code,
)
from customers.models import Customer
from customers.roles import Role, has_role, role_required

DEFINITIONS_PER_PAGE = 25
CODES_PER_PAGE = 50
# Stats read indexes of the listed definitions' codes only; a minute old is fresh enough for
# a list, and reloads cost nothing.
STATS_CACHE_SECONDS = 60
REFUSALS = {
    "budget_exhausted": gettext_lazy("the budget is spent"),
    "per_customer_limit": gettext_lazy("the customer holds as many codes as allowed"),
    "inactive": gettext_lazy("the definition is inactive"),
    "expired": gettext_lazy("the definition has expired"),
    "shared_code": gettext_lazy("a shared-code definition issues no personal codes"),
}


def _stats(definitions: list[CouponDefinition]) -> dict[int, dict]:
    """Issued, used, discount spent per definition id (cached a minute)."""
    key = "coupons:stats:" + ",".join(str(d.pk) for d in definitions)
    return cache.get_or_set(key, lambda: _stats_read(definitions), STATS_CACHE_SECONDS) \
        if definitions else {}


def _stats_read(definitions: list[CouponDefinition]) -> dict[int, dict]:
    rows = coupon_definitions_with_stats(CouponDefinition.objects.filter(
        pk__in=[d.pk for d in definitions])).values("pk", "issued", "redeemed", "discount_spent")
    return {row.pop("pk"): row for row in rows}


def _budget(definition: CouponDefinition, stats: dict) -> dict:
    """What is left of each budget, and how much of the discount budget is spent (0..100)."""
    spent = stats.get("discount_spent") or 0
    cap = definition.max_discount_total
    return {
        "codes_left": None if definition.max_codes is None
        else max(definition.max_codes - stats.get("issued", 0), 0),
        "discount_left": None if cap is None else max(cap - spent, 0),
        "spent_pct": None if not cap else min(float(spent) * 100 / float(cap), 100.0),
    }


def _with_stats(definitions: list[CouponDefinition]) -> list[dict]:
    stats = _stats(definitions)
    return [{"definition": d, "stats": stats.get(d.pk, {}),
             "budget": _budget(d, stats.get(d.pk, {}))} for d in definitions]


@role_required(Role.VIEWER)
def coupon_list(request):
    page = Paginator(CouponDefinition.objects.order_by("name"), DEFINITIONS_PER_PAGE) \
        .get_page(request.GET.get("page"))
    return render(request, "campaigns/coupons/list.html", {
        "page": page, "rows": _with_stats(list(page.object_list)),
        "can_edit": has_role(request.user, Role.MANAGER)})


@role_required(Role.VIEWER)
def coupon_detail(request, pk: int):
    definition = get_object_or_404(CouponDefinition, pk=pk)
    codes = window(Coupon.objects.filter(definition=definition).select_related("customer"),
                   before=request.GET.get("before"), after=request.GET.get("after"),
                   per_page=CODES_PER_PAGE)
    [row] = _with_stats([definition])
    return render(request, "campaigns/coupons/detail.html", {
        **row, "codes": codes,
        "code_rows": [{"coupon": c, "display": display_code(c.code, definition.code_prefix)}
                      for c in codes.rows],
        "issue_form": CouponIssueForm(),
        "can_edit": has_role(request.user, Role.MANAGER)})


def _save(form: CouponDefinitionPageForm, definition: CouponDefinition | None
          ) -> CouponDefinition | None:
    """Saved through the service; None (the problems added to the form) when refused."""
    changes = {name: form.cleaned_data[name] for name in DEFINITION_FIELDS}
    with transaction.atomic():
        if form.changed_elsewhere():
            form.add_error(None, _(
                "Not saved: this coupon definition was changed elsewhere (another operator "
                "or tab) since you opened it. Reload the page to see that version, then redo "
                "your change."))
            return None
        try:
            return coupon_definition_save(definition, **changes)
        except DefinitionInvalid as exc:  # a concurrent change since the form's own check
            for field, message in exc.problems.items():
                form.add_error(field if field in form.fields else None, message)
            return None


def _edit(request, definition: CouponDefinition | None) -> HttpResponse:
    form = CouponDefinitionPageForm(request.POST or None, instance=definition)
    if request.method == "POST" and form.is_valid():
        saved = _save(form, definition)
        if saved is not None:
            messages.success(request, _("Coupon definition “%(name)s” saved.")
                             % {"name": saved.name})
            return redirect("coupon-detail", pk=saved.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/coupons/form.html",
                  {"form": form, "definition": definition}, status=status)


@role_required(Role.MANAGER)
def coupon_new(request):
    return _edit(request, None)


@role_required(Role.MANAGER)
def coupon_edit(request, pk: int):
    return _edit(request, get_object_or_404(CouponDefinition, pk=pk))


@role_required(Role.MANAGER)
@require_POST
def coupon_issue(request, pk: int):
    definition = get_object_or_404(CouponDefinition, pk=pk)
    form = CouponIssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the customer's external id."))
        return redirect("coupon-detail", pk=pk)
    external_id = form.cleaned_data["customer_external_id"].strip()
    customer = Customer.objects.filter(external_id=external_id).first()
    if customer is None:
        messages.error(request, _("No customer with external id “%(id)s”.") % {"id": external_id})
        return redirect("coupon-detail", pk=pk)
    try:
        coupon = coupon_issue_manual(definition_id=pk, customer_id=customer.pk,
                                     now=timezone.now())
    except CouponRefused as exc:
        messages.error(request, _("Not issued: %(reason)s.")
                       % {"reason": REFUSALS.get(exc.reason, exc.reason)})
        return redirect("coupon-detail", pk=pk)
    cache.delete("coupons:stats:" + str(pk))
    messages.success(request, _("Issued %(code)s to %(customer)s.") % {
        "code": display_code(coupon.code, definition.code_prefix), "customer": external_id})
    return redirect("coupon-detail", pk=pk)


@role_required(Role.MANAGER)
@require_POST
def coupon_remove(request, pk: int):
    """Delete a definition that never issued a code nor had its shared code used (the API's
    rule); otherwise say so: deactivating it stops its codes instead."""
    definition = get_object_or_404(CouponDefinition, pk=pk)
    try:
        coupon_definition_delete(definition)
    except DefinitionInUse:
        messages.error(request, _(
            "“%(name)s” was not deleted: codes of it were issued or used, and their record "
            "keeps it. Edit it and untick “active” to stop its codes instead.")
            % {"name": definition.name})
        return redirect("coupon-detail", pk=pk)
    cache.delete("coupons:stats:" + str(pk))
    messages.success(request, _("Coupon definition “%(name)s” deleted.")
                     % {"name": definition.name})
    return redirect("coupon-list")
