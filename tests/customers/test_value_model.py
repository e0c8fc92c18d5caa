"""The value model: BG/NBD and Gamma-Gamma fitted to the shop's paid orders, every customer
scored, the published CDNOW parameters reproduced, and a holdout check."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize

from customers.models import CustomerPrediction, ValueModelFit, ValueModelSettings
from customers.services.prediction import models as m
from customers.services.prediction import value_model_fit, value_model_holdout
from customers.services.prediction.scoring import percentiles
from tests.customers import cdnow
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def cdnow_shop(storefront):
    assert cdnow.load(storefront) == 6919
    return storefront


def test_the_fit_reproduces_the_published_cdnow_parameters(cdnow_shop):
    fit = value_model_fit(now=cdnow.CALIBRATION_END)

    assert (fit.status, fit.customers, fit.repeat_buyers) == ("ok", 2357, 946)
    per_week = {**fit.bgnbd, "alpha": fit.bgnbd["alpha"] / 7}  # fitted per day
    for name, published in cdnow.PUBLISHED.items():
        assert per_week[name] == pytest.approx(published, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(-9582.4 - 2457 * np.log(7), abs=0.5)


def test_the_holdout_check_compares_predicted_and_actual_repeat_purchases(cdnow_shop):
    check = value_model_holdout(cutoff=cdnow.CALIBRATION_END, end=cdnow.HOLDOUT_END)

    total = check.report["total"]
    holdout_days = {(c, d) for c, d, _amount in cdnow.transactions()
                    if dt.date(1997, 10, 1) <= d < dt.date(1998, 7, 1)}
    assert total["actual"] == len(holdout_days)  # purchase days, one per customer per day
    assert total["customers"] == 2357
    # The model's known shortfall on this sample: it predicts ~12% fewer than happened.
    assert total["predicted"] == pytest.approx(total["actual"], rel=0.15)
    groups = {g["frequency"]: g for g in check.report["by_frequency"]}
    assert groups["0"]["customers"] == 1411  # no repeat purchase by the cutoff
    assert groups["0"]["predicted"] < groups["3"]["predicted"] < groups["7+"]["predicted"]


@pytest.mark.parametrize("point", [(0.0, 0.0, 0.0, 0.0), (-1.4, 3.4, -0.2, 0.9)])
def test_the_bgnbd_gradient_is_the_likelihoods_slope(point):
    """The optimiser follows the analytic gradient; a wrong one would stop it short."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 8, 300)
    t = rng.integers(1, 400, 300).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, 300) * t, 0).round()
    histories = m._BgNbdHistories(x, t_x, t, rng.integers(1, 5, 300))

    error = optimize.check_grad(lambda v: histories.loss(v)[0], lambda v: histories.loss(v)[1],
                                np.array(point))

    assert error < 1e-5


def test_the_gamma_gamma_gradient_is_the_likelihoods_slope():
    rng = np.random.default_rng(4)
    spends = m._Spends(rng.integers(1, 9, 200), rng.gamma(4, 10, 200), rng.integers(1, 5, 200))

    error = optimize.check_grad(lambda v: spends.loss(v)[0], lambda v: spends.loss(v)[1],
                                np.array([0.5, 1.2, 2.0]))

    assert error < 1e-5


def _shop_with_repeat_buyers(storefront, customers=120):
    """Customers buying as the BG/NBD model says they do (rates ~ Gamma(0.6, 25 days),
    dropping out after a purchase with p ~ Beta(0.8, 2.5)), for up to 400 days."""
    rng = np.random.default_rng(11)
    for n in range(customers):
        customer = CustomerFactory(external_id=f"b{n}")
        rate, dropout = rng.gamma(0.6, 1 / 25), rng.beta(0.8, 2.5)
        day = NOW - dt.timedelta(days=int(rng.integers(30, 400)))
        while day < NOW:
            OrderFactory(customer=customer, storefront=storefront, placed_at=day,
                         amount=Decimal(round(rng.gamma(4, 15), 2)))
            if rng.random() < dropout:
                break
            day += dt.timedelta(days=max(1, int(rng.exponential(1 / rate))))


def test_every_customer_is_scored_with_the_models_figures(storefront):
    _shop_with_repeat_buyers(storefront)
    prospect = CustomerFactory(external_id="prospect")

    fit = value_model_fit(now=NOW)

    assert fit.status == "ok"
    bgnbd, gamma_gamma = m.BgNbd(**fit.bgnbd), m.GammaGamma(**fit.gamma_gamma)
    rows = CustomerPrediction.objects.select_related("customer")
    assert rows.count() == 121
    for row in rows.exclude(customer=prospect):
        x, t_x, t, m_x = _history(row.customer)
        assert row.expected_purchases == pytest.approx(
            float(m.expected_purchases(bgnbd, 90, [x], [t_x], [t])[0]), rel=1e-9)
        assert row.churn_probability == pytest.approx(
            1 - float(m.p_alive(bgnbd, [x], [t_x], [t])[0]), rel=1e-9)
        spend = float(m.expected_spend(gamma_gamma, [x], [m_x or 0])[0])
        # To the cent; SQLite's averages are floats, so a half-cent tie may round down there.
        assert float(row.predicted_clv) == pytest.approx(
            row.expected_purchases * spend, abs=0.006 + 0.01 * row.expected_purchases)
    unscored = rows.get(customer=prospect)
    assert (unscored.expected_purchases, unscored.predicted_clv) == (None, None)


def _history(customer) -> tuple[int, int, int, float | None]:
    """(x, t_x, t, m_x) by hand: one purchase per day, days to the day before NOW."""
    by_day: dict[dt.date, Decimal] = {}
    for order in customer.orders.filter(status="paid"):
        day = order.placed_at.date()
        by_day[day] = by_day.get(day, Decimal(0)) + order.amount - order.refunded_amount
    days = sorted(by_day)
    x = len(days) - 1
    repeat = [by_day[d] for d in days[1:]]
    # Half-cents round up, as SQL's ROUND does.
    m_x = float((sum(repeat) / x).quantize(Decimal("0.01"), ROUND_HALF_UP)) if x else None
    return x, (days[-1] - days[0]).days, ((NOW - DAY).date() - days[0]).days, m_x


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 300),
                                 st.integers(0, 5000), st.sampled_from(["paid", "refunded"])),
                       min_size=1, max_size=12))
def test_the_sql_history_matches_a_plain_python_count(storefront, orders):
    from django.db import transaction

    from customers.services.prediction.history import HISTORY, history_build

    customers = [CustomerFactory() for _ in range(3)]
    for who, days_ago, cents, status in orders:
        OrderFactory(customer=customers[who], storefront=storefront, status=status,
                     amount=Decimal(cents) / 100, placed_at=NOW - dt.timedelta(days=days_ago,
                                                                              hours=who))
    with transaction.atomic():
        history_build(NOW)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT customer_id, x, t_x, t, m_x FROM {HISTORY}")
            stored = {row[0]: (row[1], row[2], row[3],
                               None if row[4] is None else float(row[4]))
                      for row in cursor.fetchall() if row[0] in {c.pk for c in customers}}
        transaction.set_rollback(True)
    expected = {c.pk: _history(c) for c in customers if c.orders.filter(status="paid")}
    assert stored.keys() == expected.keys()
    for pk, (x, t_x, t, m_x) in expected.items():
        assert stored[pk][:3] == (x, t_x, t)
        assert stored[pk][3] == (None if m_x is None else pytest.approx(m_x, abs=0.0051))


def test_too_few_repeat_buyers_keep_the_last_good_fit(storefront):
    _shop_with_repeat_buyers(storefront)
    good = value_model_fit(now=NOW)
    ValueModelSettings.objects.filter(pk=1).update(min_repeat_buyers=10_000)

    refused = value_model_fit(now=NOW + DAY)

    assert refused.status == "insufficient"
    assert refused.message.startswith(f"Only {good.repeat_buyers} customers bought more than "
                                      f"once; the model needs at least 10000.")
    assert set(CustomerPrediction.objects.values_list("fit_id", flat=True)) == {good.pk}
    assert CustomerPrediction.objects.exclude(expected_purchases=None).count() == 120


def test_without_any_good_fit_the_model_figures_stay_empty(storefront):
    OrderFactory(customer=CustomerFactory(), storefront=storefront, placed_at=NOW - DAY * 3)

    fit = value_model_fit(now=NOW)

    assert fit.status == "insufficient"
    row = CustomerPrediction.objects.get()
    assert (row.fit_id, row.expected_purchases, row.predicted_clv) == (None, None, None)



def test_the_command_reports_each_step_as_it_finishes(storefront):
    _shop_with_repeat_buyers(storefront, customers=60)
    out = StringIO()

    call_command("fit_value_model", stdout=out)

    lines = out.getvalue().splitlines()
    steps = [line.strip().rsplit(" (", 1)[0] for line in lines if line.endswith(" s)")]
    assert steps == ["built every customer's purchase history",
                     "fitted BG/NBD and Gamma-Gamma", "scored 60 customers"]
    assert lines[-1].startswith("Done in ")
    assert ValueModelFit.objects.get().status == "ok"

def test_the_value_coefficient_weighs_clv_repurchase_engagement_and_referrals(storefront):
    ValueModelSettings.objects.create(pk=1, min_repeat_buyers=10_000, weight_clv=0,
                                      weight_repurchase=0, weight_engagement=50,
                                      weight_referrals=50)
    busy, quiet, _referrer = (CustomerFactory(external_id=name)
                              for name in ("busy", "quiet", "referrer"))
    CustomerFactory(attributes={"referred_by": "referrer"})
    CustomerFactory(attributes={"referred_by": "referrer"})
    for hours in (1, 2, 3, 30):  # 4 events on 2 days: 2 a day
        EventFactory(customer=busy, occurred_at=NOW - dt.timedelta(hours=hours))
    EventFactory(customer=quiet, occurred_at=NOW - dt.timedelta(days=2))  # 1 a day

    value_model_fit(now=NOW)

    coefficient = dict(CustomerPrediction.objects.values_list("customer__external_id",
                                                              "value_coefficient"))
    # Percentiles among those with any: engagement busy 100%, quiet 50%; referrals: the
    # referrer alone, 100%. Each part weighs half.
    assert coefficient["busy"] == 50.0
    assert coefficient["quiet"] == 25.0
    assert coefficient["referrer"] == 50.0
    assert ValueModelFit.objects.get().status == "insufficient"


def test_the_storefront_reads_a_customers_prediction(api, storefront):
    _shop_with_repeat_buyers(storefront)
    fit = value_model_fit(now=NOW)
    stored = CustomerPrediction.objects.get(customer__external_id="b3")

    prediction = api.get("/api/v1/customers/b3/").json()["prediction"]

    assert fit.status == "ok"
    assert prediction["predicted_clv"] == str(stored.predicted_clv)
    assert prediction["churn_probability"] == pytest.approx(stored.churn_probability)
    assert 0 <= prediction["value_coefficient"] <= 100


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0]),
                          st.integers(min_value=1, max_value=4)), min_size=1, max_size=30))
def test_percentiles_on_distinct_histories_are_each_customers_cume_dist(rows):
    """The percentile of a history's value, weighted by its customers, equals CUME_DIST over
    the customers themselves: the share of customers at or below (ties rank alike)."""
    values = np.array([value for value, _n in rows])
    weights = np.array([float(n) for _value, n in rows])
    customers = [value for value, n in rows for _ in range(n)]

    expected = [100.0 * sum(other <= value for other in customers) / len(customers)
                for value in values]

    assert percentiles(values, weights) == pytest.approx(expected)
