"""The value model's page: the latest fit (or why there is none), its parameters, the holdout
check's predicted-against-actual chart, and buttons that queue a fit or a check."""

import datetime

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from customers import tasks
from customers.models import ValueModelCheck, ValueModelFit, ValueModelSettings
from customers.roles import Role, has_role, role_required

RECENT_FITS = 10
DEFAULT_HOLDOUT_DAYS = 90


class HoldoutForm(forms.Form):
    cutoff = forms.DateField(label=gettext_lazy("Fit on orders before"),
                             widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("Compare with orders until"),
                          widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        cutoff, end = data.get("cutoff"), data.get("end")
        if cutoff and end and end <= cutoff:
            self.add_error("end", _("The comparison must end after the cut-off date."))
        if end and end > timezone.localdate():
            self.add_error("end", _("The comparison cannot end in the future: the orders "
                                    "to compare with have not happened yet."))
        return data


def _holdout_initial() -> dict:
    today = timezone.localdate()
    return {"cutoff": today - datetime.timedelta(days=DEFAULT_HOLDOUT_DAYS), "end": today}


def _check_chart(check: ValueModelCheck | None) -> dict | None:
    """ECharts option: mean repeat purchases per customer, predicted and actual, by how often
    customers had bought before the cut-off (the validation chart of the BG/NBD paper)."""
    groups = (check.report.get("by_frequency") or []) if check else []
    if not groups:
        return None
    labels = [str(g["frequency"]) for g in groups]  # "0", "1", ... "7+"
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [_("Predicted"), _("Actual")], "top": 0, "right": 16},
        "grid": {"left": 48, "right": 16, "bottom": 48, "top": 40},
        "xAxis": {"type": "category", "data": labels,
                  "name": _("Purchases before the cut-off"), "nameLocation": "middle",
                  "nameGap": 30},
        "yAxis": {"type": "value", "name": _("Purchases per customer")},
        "series": [
            {"name": _("Predicted"), "type": "line", "data": [g["predicted"] for g in groups]},
            {"name": _("Actual"), "type": "bar", "data": [g["actual"] for g in groups]},
        ],
    }


def _parameters(fit: ValueModelFit | None) -> list[tuple[str, float]]:
    if fit is None:
        return []
    return [*fit.bgnbd.items(), *fit.gamma_gamma.items()]


def _page(request, holdout_form: HoldoutForm, status: int = 200):
    fits = list(ValueModelFit.objects.order_by("-fitted_at")[:RECENT_FITS])
    good = next((fit for fit in fits if fit.status == ValueModelFit.Status.OK), None)
    if good is None:
        good = (ValueModelFit.objects.filter(status=ValueModelFit.Status.OK)
                .order_by("-fitted_at").first())
    check = ValueModelCheck.objects.order_by("-created_at").first()
    context = {
        "latest": fits[0] if fits else None,
        "good": good,
        "parameters": _parameters(good),
        "fits": fits,
        "check": check,
        "check_chart": _check_chart(check),
        "settings": ValueModelSettings.load(),
        "can_run": has_role(request.user, Role.MANAGER),
        "holdout_form": holdout_form,
    }
    return render(request, "customers/value_model.html", context, status=status)


@role_required(Role.VIEWER)
def value_model(request):
    return _page(request, HoldoutForm(initial=_holdout_initial()))


@require_POST
@role_required(Role.MANAGER)
def value_model_fit_now(request):
    transaction.on_commit(tasks.value_model_fit_task.delay)
    messages.success(request, _("A fit is queued: it takes seconds to a minute; reload this "
                                "page to see it."))
    return redirect("value-model")


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@require_POST
@role_required(Role.MANAGER)
def value_model_check_now(request):
    form = HoldoutForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    cutoff, end = (_start_of(form.cleaned_data[name]).isoformat() for name in ("cutoff", "end"))
    transaction.on_commit(lambda: tasks.value_model_check_task.delay(cutoff, end))
    messages.success(request, _("A holdout check is queued; reload this page to see it."))
    return redirect("value-model")
