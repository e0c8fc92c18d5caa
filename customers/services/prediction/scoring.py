"""Scoring: every customer's predicted purchases, P(alive), churn probability, predicted CLV,
percentile ranks and value coefficient, written set-based.

The model figures are computed in numpy once per distinct history (x, t_x, t) and once per
distinct (x, m_x), written to two small temporary tables, and joined to the customers' own
histories in SQL by one INSERT ... SELECT: no customer goes through Python.
"""

import datetime

import numpy as np
from django.db import connection

from customers.models import Customer, CustomerPrediction, Event, ValueModelSettings
from customers.services.prediction import models as m
from customers.services.prediction.history import HISTORY, all_spends, histories

TRIPLES, SPENDS = "value_triples", "value_spends"
PREDICTIONS = CustomerPrediction._meta.db_table
CUSTOMERS = Customer._meta.db_table
EVENTS = Event._meta.db_table
STEP_DAYS = 30  # discounting steps: a month


def discounted_purchases(model: m.BgNbd, horizon: int, annual_rate: float, x, t_x, t
                         ) -> np.ndarray:
    """Expected purchases over the horizon, each month's discounted to today."""
    if not annual_rate:
        return m.expected_purchases(model, horizon, x, t_x, t)
    monthly = (1 + annual_rate) ** (STEP_DAYS / 365) - 1
    total, before = np.zeros_like(np.asarray(x, dtype=float)), 0.0
    for step, end in enumerate(range(STEP_DAYS, horizon + STEP_DAYS, STEP_DAYS), start=1):
        upto = m.expected_purchases(model, min(end, horizon), x, t_x, t)
        total += (upto - before) / (1 + monthly) ** step
        before = upto
    return total


def percentiles(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each value's percentile among customers, `weights` customers having each: the share
    at or below it (equal values rank alike), as CUME_DIST() over the customers would give,
    computed on the distinct histories instead of sorting a million rows."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    covered = np.cumsum(weights[order])
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    ends = np.r_[ordered[1:] != ordered[:-1], True]
    run = np.cumsum(starts) - 1
    result = np.empty(len(values))
    result[order] = 100.0 * covered[ends][run] / covered[-1] if len(values) else 0
    return result


def repurchase_rates(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Purchases a year beyond the first, over at least 30 days of age."""
    return x * 365.0 / np.maximum(t, 30)


def triple_predictions(model: m.BgNbd | None, settings: ValueModelSettings) -> list[tuple]:
    """(x, t_x, t, repurchase percentile, expected purchases, discounted purchases, P(alive),
    expected-purchases percentile, churn percentile) per distinct history; the model's
    figures None without a model. ValueError when the model gives a figure that is not a
    finite non-negative number."""
    rows = histories()
    x, t_x, t, weight = rows["x"], rows["t_x"], rows["t"], rows["weight"]
    columns = [x.astype(int).tolist(), t_x.astype(int).tolist(), t.astype(int).tolist(),
               percentiles(repurchase_rates(x, t), weight).tolist()]
    if model is None:
        return [(*row, None, None, None, None, None) for row in zip(*columns, strict=True)]
    expected = m.expected_purchases(model, settings.horizon_days, x, t_x, t)
    discounted = discounted_purchases(model, settings.horizon_days,
                                      float(settings.annual_discount_rate), x, t_x, t)
    alive = m.p_alive(model, x, t_x, t)
    for values in (expected, discounted, alive):
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("the model predicts figures that are not finite and positive")
    columns += [expected.tolist(), discounted.tolist(), alive.tolist(),
                percentiles(expected, weight).tolist(), percentiles(1 - alive, weight).tolist()]
    return list(zip(*columns, strict=True))


def spend_predictions(model: m.GammaGamma) -> list[tuple]:
    """(x, m_x, expected spend per purchase) per distinct (x, m_x); m_x 0 stands for the
    customers without a repeat purchase (NULL in the history; the population's mean)."""
    rows = all_spends()
    spend = m.expected_spend(model, rows["x"], np.nan_to_num(rows["m_x"]))
    if not np.all(np.isfinite(spend)):
        raise ValueError("the spend model predicts figures that are not finite")
    spend = np.maximum(spend, 0.0)
    # m_x is NULL exactly when x = 0; keyed as 0 so the join can hash.
    return [(int(x), 0.0 if np.isnan(m_x) else float(m_x), float(value))
            for x, m_x, value in zip(rows["x"], rows["m_x"], spend, strict=True)]


def _temp_table(name: str, columns: str, rows: list[tuple]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
        if not rows:
            return
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {name} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"ANALYZE {name}")
        else:
            marks = ", ".join(["%s"] * len(rows[0]))
            cursor.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)


def predictions_write(*, fit_id: int | None, bgnbd: m.BgNbd | None,
                      gamma_gamma: m.GammaGamma | None, settings: ValueModelSettings,
                      now: datetime.datetime) -> int:
    """Write every customer's prediction row (the history table must be built). Without a
    model the model figures are NULL; the value coefficient is always written."""
    triples = triple_predictions(bgnbd, settings)
    spends = spend_predictions(gamma_gamma) if gamma_gamma and bgnbd else []
    _temp_table(TRIPLES, "x integer, t_x integer, t integer, repurchase_rank double precision, "
                         "expected double precision, discounted double precision, "
                         "alive double precision, expected_rank double precision, "
                         "churn_rank double precision", triples)
    _temp_table(SPENDS, "x integer, m_x numeric, spend double precision", spends)
    statement, params = _statement(fit_id, settings, now)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        written = cursor.rowcount
    # SQLite reports -1 for a statement that starts WITH; the statement writes every customer.
    return written if written >= 0 else Customer.objects.count()


def _rank(value: str) -> str:
    """The percentile of `value` among the rows that have it (NULL without): the share, in
    percent, of those at or below it (the highest is 100; equal values rank alike)."""
    return (f"CASE WHEN {value} IS NULL THEN NULL ELSE 100.0 * CUME_DIST() OVER "
            f"(PARTITION BY {value} IS NULL ORDER BY {value}) END")


def _unit(rank: str) -> str:
    """A percentile in 0-1, and 0 for rows without it: a part of the value coefficient."""
    return f"COALESCE({rank} / 100.0, 0)"


def _statement(fit_id: int | None, settings: ValueModelSettings, now: datetime.datetime
               ) -> tuple[str, dict]:
    weights = {"clv": settings.weight_clv, "repurchase": settings.weight_repurchase,
               "engagement": settings.weight_engagement, "referrals": settings.weight_referrals}
    total = sum(weights.values()) or 1
    coefficient = " + ".join(f"{weight} * {part}"
                             for part, weight in [(_unit("clv_rank"), weights["clv"]),
                                                  (_unit("repurchase_rank"),
                                                   weights["repurchase"]),
                                                  (_unit(_rank("engagement")),
                                                   weights["engagement"]),
                                                  (_unit(_rank("referrals")),
                                                   weights["referrals"])])
    referrer = ("c2.attributes ->> %(referral)s" if connection.vendor == "postgresql"
                else "json_extract(c2.attributes, '$.' || %(referral)s)")
    sql = f"""
        WITH engaged AS (
            SELECT customer_id, CAST(COUNT(*) AS double precision)
                                / COUNT(DISTINCT {_event_day()}) AS engagement
            FROM {EVENTS} WHERE occurred_at >= %(engaged_since)s AND occurred_at <= %(now)s
            GROUP BY customer_id),
        referred AS (
            SELECT {referrer} AS referrer, COUNT(*) AS referrals FROM {CUSTOMERS} c2
            WHERE {referrer} IS NOT NULL GROUP BY {referrer}),
        base AS (
            SELECT c.id AS customer_id, tr.expected, tr.alive, tr.expected_rank,
                   tr.churn_rank, tr.repurchase_rank,
                   ROUND(CAST(tr.discounted * sp.spend AS numeric), 2) AS predicted_clv,
                   e.engagement, r.referrals
            FROM {CUSTOMERS} c
            LEFT JOIN {HISTORY} h ON h.customer_id = c.id
            LEFT JOIN {TRIPLES} tr ON tr.x = h.x AND tr.t_x = h.t_x AND tr.t = h.t
            LEFT JOIN {SPENDS} sp ON sp.x = h.x AND sp.m_x = COALESCE(h.m_x, 0)
            LEFT JOIN engaged e ON e.customer_id = c.id
            LEFT JOIN referred r ON r.referrer = c.external_id),
        clv_ranked AS (
            SELECT base.*, {_rank('predicted_clv')} AS clv_rank FROM base),
        ranked AS (
            SELECT clv_ranked.*,
                   ROUND(CAST(100.0 * ({coefficient}) / {total} AS numeric), 2)
                       AS coefficient
            FROM clv_ranked)
        INSERT INTO {PREDICTIONS} (customer_id, fit_id, expected_purchases, p_alive,
            churn_probability, predicted_clv, value_coefficient, expected_purchases_percentile,
            churn_probability_percentile, predicted_clv_percentile,
            value_coefficient_percentile, computed_at)
        SELECT customer_id, %(fit)s, expected, alive, 1 - alive, predicted_clv, coefficient,
               expected_rank, churn_rank, clv_rank,
               {_rank('coefficient')}, %(now)s
        FROM ranked
        WHERE 1 = 1
        ORDER BY customer_id  -- the rows stay in customer order: rules join them along it
        ON CONFLICT (customer_id) DO UPDATE SET
            fit_id = EXCLUDED.fit_id, expected_purchases = EXCLUDED.expected_purchases,
            p_alive = EXCLUDED.p_alive, churn_probability = EXCLUDED.churn_probability,
            predicted_clv = EXCLUDED.predicted_clv,
            value_coefficient = EXCLUDED.value_coefficient,
            expected_purchases_percentile = EXCLUDED.expected_purchases_percentile,
            churn_probability_percentile = EXCLUDED.churn_probability_percentile,
            predicted_clv_percentile = EXCLUDED.predicted_clv_percentile,
            value_coefficient_percentile = EXCLUDED.value_coefficient_percentile,
            computed_at = EXCLUDED.computed_at"""
    adapt = connection.ops.adapt_datetimefield_value
    params = {"fit": fit_id, "now": adapt(now), "referral": settings.referral_attribute,
              "engaged_since": adapt(now - datetime.timedelta(days=settings.engagement_days))}
    return sql, params


def _event_day() -> str:
    if connection.vendor == "postgresql":
        return "CAST(occurred_at AS date)"
    return "date(occurred_at)"
