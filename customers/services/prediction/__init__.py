"""Customer value predictions: BG/NBD and Gamma-Gamma fitted by maximum likelihood on the
shop's own paid orders, every customer scored set-based, and a holdout check operators can
trust the numbers by.

    value_model_fit(now)                 fit, and score everyone (with the last good fit when
                                         this one cannot be trusted)
    value_model_holdout(cutoff, end)     fit on orders before `cutoff`, compare predictions
                                         for (cutoff, end] with what customers bought

Time is in days (the parameters are per day). The models themselves are pure numpy/scipy:
customers/services/prediction/models.py.
"""

import datetime

import numpy as np
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import OrderStatus, ValueModelCheck, ValueModelFit, ValueModelSettings
from customers.services.prediction import models as m
from customers.services.prediction.history import (
    HISTORY,
    ORDERS,
    day_sql,
    histories,
    history_build,
    spends,
)
from customers.services.prediction.scoring import predictions_write
from customers.services.steps import Step, StepClock

__all__ = ["value_model_fit", "value_model_holdout"]

PG_SETTINGS = ["SET LOCAL work_mem = '256MB'", "SET LOCAL jit = off"]


def _session() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in PG_SETTINGS:
                cursor.execute(statement)


def _fit_models(settings: ValueModelSettings) -> tuple[m.BgNbd, m.GammaGamma, float, dict]:
    """Fit both models to the history table; FitError naming why they cannot be trusted."""
    rows = histories()
    repeat_buyers = int(rows["weight"][rows["x"] > 0].sum())
    counts = {"customers": int(rows["weight"].sum()), "repeat_buyers": repeat_buyers,
              "histories": len(rows["x"])}
    if repeat_buyers < settings.min_repeat_buyers:
        raise m.NotEnoughData(_("Only %(n)s customers bought more than once; the model needs at "
                           "least %(least)s.") % {"n": repeat_buyers,
                                                  "least": settings.min_repeat_buyers},
                         counts)
    try:
        bgnbd = m.bgnbd_fit(rows["x"], rows["t_x"], rows["t"], rows["weight"])
    except m.FitError as exc:
        raise m.FitError(str(exc), counts) from exc
    likelihood = m.bgnbd_log_likelihood((bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b), rows["x"],
                                        rows["t_x"], rows["t"], rows["weight"])
    spend = spends()
    try:
        gamma_gamma = m.gamma_gamma_fit(spend["x"], spend["m_x"], spend["weight"])
    except m.FitError as exc:
        raise m.FitError(str(exc), counts) from exc
    if gamma_gamma.q <= 1:
        raise m.FitError(_("The spend model has no finite mean (q <= 1)."), counts)
    return bgnbd, gamma_gamma, likelihood, counts


def value_model_fit(*, now: datetime.datetime | None = None, score: bool = True,
                    on_step: Step | None = None) -> ValueModelFit:
    """Fit the models to every paid order before `now` and score every customer. A fit that
    cannot be trusted (too few repeat buyers, no convergence, nonsense figures) is recorded
    with the reason and scoring uses the last good fit; with none, model figures stay
    empty (the value coefficient is still written). `on_step` receives a line as each step
    finishes."""
    now = now or timezone.now()
    settings = ValueModelSettings.load()
    clock = StepClock(on_step)
    with transaction.atomic():
        _session()
        history_build(now)
        clock.step("built every customer's purchase history")
        fit = ValueModelFit(fitted_at=now, cutoff=now, horizon_days=settings.horizon_days)
        models = _try_fit(fit, settings)
        fit.save()
        clock.step("fitted BG/NBD and Gamma-Gamma" if models else "tried a fit, not trusted")
        if score:
            fit.scored = _score(fit if models else None, models, settings, now)
            fit.duration_ms = clock.elapsed_ms
            fit.save(update_fields=["scored", "duration_ms", "status", "message"])
            clock.step(f"scored {fit.scored:,} customers")
        _drop()
    return fit


def _try_fit(fit: ValueModelFit, settings: ValueModelSettings
             ) -> tuple[m.BgNbd, m.GammaGamma] | None:
    try:
        bgnbd, gamma_gamma, likelihood, counts = _fit_models(settings)
    except m.FitError as exc:
        fit.status = (ValueModelFit.Status.INSUFFICIENT if isinstance(exc, m.NotEnoughData)
                      else ValueModelFit.Status.FAILED)
        fit.message = str(exc)
        for name, value in exc.counts.items():
            setattr(fit, name, value)
        return None
    fit.status, fit.log_likelihood = ValueModelFit.Status.OK, likelihood
    fit.bgnbd, fit.gamma_gamma = bgnbd.as_dict(), gamma_gamma.as_dict()
    for name, value in counts.items():
        setattr(fit, name, value)
    return bgnbd, gamma_gamma


def _score(fit: ValueModelFit | None, models, settings: ValueModelSettings,
           now: datetime.datetime) -> int:
    """Score with this fit's models, or the last good fit's; a model whose figures are not
    finite and positive is not used (nothing nonsensical is ever written)."""
    used = fit
    if models is None:
        used = ValueModelFit.objects.filter(status=ValueModelFit.Status.OK).exclude(
            pk=getattr(fit, "pk", None)).order_by("-fitted_at").first()
        models = _models_of(used) if used else None
    try:
        with transaction.atomic():
            return predictions_write(fit_id=used.pk if used else None,
                                     bgnbd=models[0] if models else None,
                                     gamma_gamma=models[1] if models else None,
                                     settings=settings, now=now)
    except ValueError as exc:
        if fit is not None:
            fit.status, fit.message = ValueModelFit.Status.FAILED, str(exc)
        return predictions_write(fit_id=None, bgnbd=None, gamma_gamma=None,
                                 settings=settings, now=now)


def _models_of(fit: ValueModelFit) -> tuple[m.BgNbd, m.GammaGamma]:
    return m.BgNbd(**fit.bgnbd), m.GammaGamma(**fit.gamma_gamma)


def _drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {HISTORY}")


# --- the holdout check -------------------------------------------------------------------------

FREQUENCY_GROUPS = 7  # x = 0..6 each, then 7+


def value_model_holdout(*, cutoff: datetime.datetime, end: datetime.datetime,
                        now: datetime.datetime | None = None) -> ValueModelCheck:
    """Fit on the orders before `cutoff` and compare, for the customers who had bought by
    then, the repeat purchases predicted for (cutoff, end] with the purchase days they had:
    in total, per customer, and by how often they had bought (the papers' chart)."""
    settings = ValueModelSettings.load()
    with transaction.atomic():
        _session()
        history_build(cutoff)
        bgnbd, gamma_gamma, likelihood, counts = _fit_models(settings)
        actual = _actual_purchases(cutoff, end)
        _drop()
    horizon = (end - cutoff).total_seconds() / 86400
    x, t_x, t, bought = (np.array(column, dtype=float) for column in zip(*actual, strict=True))
    predicted = m.expected_purchases(bgnbd, horizon, x, t_x, t)
    report = {"fit": {"bgnbd": bgnbd.as_dict(), "gamma_gamma": gamma_gamma.as_dict(),
                      "log_likelihood": likelihood, **counts},
              "horizon_days": horizon, "total": _compare(predicted, bought),
              "by_frequency": _by_frequency(x, predicted, bought)}
    return ValueModelCheck.objects.create(created_at=now or timezone.now(), cutoff=cutoff,
                                          end=end, report=report)


def _actual_purchases(cutoff: datetime.datetime, end: datetime.datetime) -> list[tuple]:
    """(x, t_x, t, purchase days in [cutoff, end)) per customer of the history."""
    params = {"tz": django_settings.TIME_ZONE, "paid": OrderStatus.PAID, "cutoff": cutoff,
              "end": end}
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT h.x, h.t_x, h.t, COALESCE(a.days, 0)
            FROM {HISTORY} h LEFT JOIN (
                SELECT customer_id, COUNT(DISTINCT {day_sql('placed_at')}) AS days
                FROM {ORDERS} WHERE status = %(paid)s AND placed_at >= %(cutoff)s
                  AND placed_at < %(end)s GROUP BY customer_id) a
            ON a.customer_id = h.customer_id""", params)
        return cursor.fetchall()


def _compare(predicted: np.ndarray, actual: np.ndarray) -> dict:
    return {"customers": len(actual), "predicted": round(float(predicted.sum()), 1),
            "actual": int(actual.sum()),
            "mean_absolute_error": round(float(np.abs(predicted - actual).mean()), 4),
            "correlation": round(float(np.corrcoef(predicted, actual)[0, 1]), 4)
            if len(actual) > 1 and actual.std() > 0 else None}


def _by_frequency(x: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> list[dict]:
    groups = []
    for group in range(FREQUENCY_GROUPS + 1):
        chosen = x >= group if group == FREQUENCY_GROUPS else x == group
        if chosen.any():
            groups.append({"frequency": f"{group}+" if group == FREQUENCY_GROUPS else str(group),
                           "customers": int(chosen.sum()),
                           "predicted": round(float(predicted[chosen].mean()), 3),
                           "actual": round(float(actual[chosen].mean()), 3)})
    return groups
