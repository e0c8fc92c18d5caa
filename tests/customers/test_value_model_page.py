"""The value model's page: what an operator reads about the fit in use, why there is none,
the holdout chart, and the buttons that queue a fit or a check (managers only)."""

import datetime as dt
import json
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from customers.models import ValueModelCheck, ValueModelFit
from customers.roles import Role, role_group
from tests.conftest import wait_for
from tests.customers.test_value_model import _shop_with_repeat_buyers

pytestmark = pytest.mark.django_db

BGNBD = {"r": 0.243, "alpha": 30.898, "a": 0.793, "b": 2.426}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def operator(client, role: Role):
    user = get_user_model().objects.create_user(f"op-{role.group}")
    user.groups.add(role_group(role))
    client.force_login(user)
    return client


def a_fit(status="ok", days_ago=0, **fields) -> ValueModelFit:
    moment = timezone.now() - dt.timedelta(days=days_ago)
    defaults = {"bgnbd": BGNBD, "gamma_gamma": GAMMA_GAMMA} if status == "ok" else {}
    return ValueModelFit.objects.create(fitted_at=moment, cutoff=moment, status=status,
                                        **{**defaults, **fields})


def page_text(response) -> str:
    return " ".join(unescape(response.content.decode()).split())


def test_before_any_fit_the_page_says_so_and_a_viewer_gets_no_buttons(client):
    response = operator(client, Role.VIEWER).get(reverse("value-model"))

    assert response.status_code == 200
    text = page_text(response)
    assert "The model has not been fitted yet." in text
    assert "No holdout check has been run yet." in text
    assert 'data-action="fit"' not in text
    assert 'data-action="check"' not in text


def test_a_viewer_cannot_queue_a_fit_or_a_check(client):
    viewer = operator(client, Role.VIEWER)

    assert viewer.post(reverse("value-model-fit")).status_code == 403
    assert viewer.post(reverse("value-model-check"),
                       {"cutoff": "2026-01-01", "end": "2026-02-01"}).status_code == 403


def test_the_page_shows_the_parameters_in_use_and_the_recent_fits(client):
    a_fit(days_ago=1, customers=5000, repeat_buyers=1900, scored=7000, duration_ms=2300)

    text = page_text(operator(client, Role.VIEWER).get(reverse("value-model")))

    assert 'data-fit-status="ok"' in text
    assert 'data-parameter="alpha">30.8980<' in text
    assert 'data-parameter="q">3.7400<' in text
    assert "5,000" in text
    assert "1,900" in text
    assert "2,300 ms" in text


def test_a_fit_on_too_little_data_says_why_and_which_fit_is_still_used(client):
    good = a_fit(days_ago=3)
    a_fit(status="insufficient", message="Only 12 customers bought more than once; the model "
          "needs at least 100.", customers=40, repeat_buyers=12)

    text = page_text(operator(client, Role.VIEWER).get(reverse("value-model")))

    assert 'data-fit-status="insufficient"' in text
    assert "Only 12 customers bought more than once; the model needs at least 100." in text
    assert "Predictions still come from the last good fit" in text
    assert 'data-parameter="r">0.2430<' in text  # the good fit's parameters, still in use
    assert good.fitted_at.astimezone(timezone.get_current_timezone()).strftime("%Y") in text


def test_without_any_good_fit_the_page_says_no_customer_has_a_prediction(client):
    a_fit(status="insufficient", message="Only 3 customers bought more than once.")

    text = page_text(operator(client, Role.VIEWER).get(reverse("value-model")))

    assert "No fit has succeeded yet, so no customer has a predicted value" in text
    assert "Parameters in use" not in text


def test_the_holdout_check_is_drawn_as_predicted_against_actual_by_frequency(client):
    groups = [{"frequency": "0", "customers": 1411, "predicted": 0.23, "actual": 0.24},
              {"frequency": "1", "customers": 439, "predicted": 0.52, "actual": 0.70},
              {"frequency": "7+", "customers": 33, "predicted": 6.16, "actual": 6.36}]
    ValueModelCheck.objects.create(
        created_at=timezone.now(), cutoff=dt.datetime(1997, 10, 1, tzinfo=dt.UTC),
        end=dt.datetime(1998, 7, 1, tzinfo=dt.UTC),
        report={"total": {"customers": 2357, "predicted": 1653.4, "actual": 1882,
                          "mean_absolute_error": 0.785}, "by_frequency": groups})

    response = operator(client, Role.VIEWER).get(reverse("value-model"))

    text = page_text(response)
    assert ("the 2,357 customers who had bought before were predicted to make 1,653.4 repeat "
            "purchases; they made 1,882.") in text
    props = text.split('id="check-chart" type="application/json">')[1].split("</script>")[0]
    chart = json.loads(props)
    assert chart["xAxis"]["data"] == ["0", "1", "7+"]
    assert [s["data"] for s in chart["series"]] == [[0.23, 0.52, 6.16], [0.24, 0.70, 6.36]]
    assert 'id="check-chart"' in text


def test_a_check_that_could_not_fit_says_why(client):
    ValueModelCheck.objects.create(created_at=timezone.now(), cutoff=timezone.now(),
                                   end=timezone.now(), report={"error": "Only 2 customers."})

    text = page_text(operator(client, Role.VIEWER).get(reverse("value-model")))

    assert "could not fit the model: Only 2 customers." in text


@pytest.mark.parametrize(("form", "message"), [
    ({"cutoff": "2026-03-01", "end": "2026-03-01"},
     "The comparison must end after the cut-off date."),
    ({"cutoff": "2026-03-01", "end": "2999-01-01"}, "The comparison cannot end in the future"),
    ({"cutoff": "March", "end": "2026-03-01"}, "Enter a valid date."),
])
def test_a_bad_holdout_period_is_refused_with_a_message(client, form, message):
    response = operator(client, Role.MANAGER).post(reverse("value-model-check"), form)

    assert response.status_code == 400
    assert message in page_text(response)
    assert not ValueModelCheck.objects.exists()


@pytest.mark.redis
@pytest.mark.postgres
def test_a_manager_fits_now_and_runs_a_check_through_a_real_worker(client, storefront,
                                                                     worker):
    _shop_with_repeat_buyers(storefront)
    manager = operator(client, Role.MANAGER)

    response = manager.post(reverse("value-model-fit"), follow=True)
    assert "A fit is queued" in page_text(response)
    wait_for(lambda: ValueModelFit.objects.exists(), timeout=60)
    assert ValueModelFit.objects.get().status == "ok"

    today = timezone.localdate()
    manager.post(reverse("value-model-check"),
                 {"cutoff": today - dt.timedelta(days=120), "end": today})
    wait_for(lambda: ValueModelCheck.objects.exists(), timeout=60)
    check = ValueModelCheck.objects.get()
    assert check.report["total"]["customers"] > 0
    assert 'data-island="charts"' in page_text(manager.get(reverse("value-model")))
