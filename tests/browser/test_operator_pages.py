"""An operator's walk through the UI in real Chromium: log in, read the dashboard, switch to
Chinese, find a customer and open their page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.roles import Role, role_group
from customers.services.dashboard import dashboard_figures_compute
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pass"  # a throwaway user in the test database


@pytest.fixture
def operator():
    user = get_user_model().objects.create_user("op", password=PASSWORD)
    user.groups.add(role_group(Role.VIEWER))
    return user


@pytest.fixture
def shop(storefront):
    """Last 30 days (figures precomputed): ann paid 100 + 60, bob paid 200 (20 refunded), cat
    visited.
    Revenue 340.00, 3 orders, 3 active, 2 paying: ARPU 113.33, ARPPU 170.00."""
    now = timezone.now()
    ann = CustomerFactory(external_id="ann-1", name="Ann Lee", email="ann@example.com",
                          city="Shanghai")
    bob = CustomerFactory(external_id="bob-2", name="Bob Wu")
    cat = CustomerFactory(external_id="cat-3", name="Cat Ma")
    OrderFactory(customer=ann, storefront=storefront, amount=Decimal("100.00"),
                 placed_at=now - dt.timedelta(days=2), external_id="ord-a1")
    OrderFactory(customer=ann, storefront=storefront, amount=Decimal("60.00"),
                 placed_at=now - dt.timedelta(days=5), external_id="ord-a2")
    OrderFactory(customer=bob, storefront=storefront, amount=Decimal("200.00"),
                 refunded_amount=Decimal("20.00"), placed_at=now - dt.timedelta(days=3))
    EventFactory(customer=cat, storefront=storefront, name="visit",
                 occurred_at=now - dt.timedelta(days=1))
    dashboard_figures_compute()  # what the task after the nightly metrics run does
    return ann


def log_in(page):
    page.goto("/")
    assert "/accounts/login/" in page.url  # anonymous visitors land on the login form
    page.get_by_label("Username").fill("op")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def kpi(page, name: str) -> str:
    return page.locator(f'[data-kpi="{name}"] dd').inner_text().strip()


def test_operator_logs_in_and_sees_the_dashboard_figures(page, operator, shop):
    log_in(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
    assert kpi(page, "revenue") == "340.00"
    assert kpi(page, "active_customers") == "3"
    assert kpi(page, "paying_customers") == "2"
    assert kpi(page, "arpu") == "113.33"
    assert kpi(page, "arppu") == "170.00"


def test_operator_switches_to_chinese(page, operator, shop):
    log_in(page)
    page.get_by_label("Language").select_option("zh-hans")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert page.get_by_role("heading", level=1).inner_text() == "仪表盘"
    assert page.locator('[data-kpi="paying_customers"] dt').inner_text() == "付费客户"
    nav = page.get_by_role("navigation", name="主导航").inner_text()
    assert "客户" in nav
    page.reload()  # the choice sticks
    assert page.get_by_role("heading", level=1).inner_text() == "仪表盘"


def test_operator_searches_a_customer_and_opens_their_page(page, operator, shop):
    log_in(page)
    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_label("Search customers").fill("ann@")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/customers/?q=ann%40")
    rows = page.locator("table.customers tbody tr")
    assert rows.count() == 1
    rows.get_by_role("link", name="ann-1").click()
    page.wait_for_url("**/customers/ann-1/")
    assert page.get_by_role("heading", level=1).inner_text() == "Ann Lee"
    timeline = page.locator("table.timeline tbody tr")
    assert timeline.count() == 2
    assert "ord-a1" in timeline.first.inner_text()


def test_the_pages_pass_an_accessibility_check(page, operator, shop, screenshot):
    from tests.browser.conftest import accessibility_violations

    page.goto("/accounts/login/")
    assert accessibility_violations(page) == []
    log_in(page)
    for path in ("/", "/customers/", "/customers/ann-1/"):
        page.goto(path)
        screenshot(path.strip("/").replace("/", "-") or "dashboard")
        assert accessibility_violations(page) == [], path
