"""The value model's page in real Chromium: the holdout chart draws, the page passes the
accessibility check, and a manager's "Fit now" queues a fit."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.models import ValueModelCheck, ValueModelFit
from customers.roles import Role, role_group
from tests.browser.conftest import accessibility_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def a_manager():
    user = get_user_model().objects.create_user("manager")
    user.groups.add(role_group(Role.MANAGER))
    return user


def test_the_holdout_chart_draws_and_the_page_is_accessible(page, sign_in, screenshot):
    now = timezone.now()
    ValueModelFit.objects.create(fitted_at=now, cutoff=now, status="ok", customers=2357,
                                 repeat_buyers=946, bgnbd={"r": 0.24, "alpha": 30.9,
                                                           "a": 0.79, "b": 2.43},
                                 gamma_gamma={"p": 6.25, "q": 3.74, "gamma": 15.44})
    ValueModelCheck.objects.create(
        created_at=now, cutoff=now - dt.timedelta(days=270), end=now,
        report={"total": {"customers": 2357, "predicted": 1653.4, "actual": 1882,
                          "mean_absolute_error": 0.785},
                "by_frequency": [{"frequency": "0", "customers": 1411, "predicted": 0.23,
                                  "actual": 0.24},
                                 {"frequency": "7+", "customers": 33, "predicted": 6.16,
                                  "actual": 6.36}]})
    sign_in(a_manager())

    page.goto("/value-model/")

    page.wait_for_selector("[data-island=charts][data-chart-ready=true]")
    assert page.locator("[data-fit-status=ok]").is_visible()
    assert accessibility_violations(page) == []
    screenshot("value-model")
    page.get_by_role("button", name="Fit now").click()
    assert page.get_by_text("A fit is queued").is_visible()
