"""The dashboard and a customer's page in real Chromium, on the hand-checked shop of
tests/customers/dashboard_shop.py with its figures precomputed: every chart draws, an RFM cell
opens its class, the breakdown switch redraws the ARPU chart, the timeline shows each kind of
entry, the pages pass axe-core, and the Chinese UI renders."""

import json

import pytest
from django.contrib.auth import get_user_model

from customers.roles import Role, role_group
from customers.services.dashboard import dashboard_figures_compute
from tests.browser.conftest import accessibility_violations
from tests.customers.dashboard_shop import NOW, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = ["arpu", "arppu", "funnel", "clv", "predicted"]


@pytest.fixture
def shop(storefront):
    people = make_shop(storefront)
    dashboard_figures_compute(now=NOW)
    return people


@pytest.fixture
def viewer(sign_in, page):
    user = get_user_model().objects.create_user("viewer")
    user.groups.add(role_group(Role.VIEWER))
    sign_in(user)
    page.set_viewport_size({"width": 1280, "height": 800})
    return user


def wait_for_charts(page, names=CHARTS) -> None:
    for name in names:
        page.wait_for_selector(f'[data-chart="{name}"][data-chart-ready="true"] canvas',
                               state="attached")


def test_every_dashboard_chart_renders_with_data(page, viewer, shop, screenshot):
    page.goto("/")
    wait_for_charts(page)
    funnel = json.loads(page.locator("#funnel-option").text_content())
    assert [d["value"] for d in funnel["series"][0]["data"]] == [1, 0, 3, 0, 0]
    assert page.locator('[data-kpi="arpu"] dd').inner_text() == "85.00"
    screenshot("dashboard")


def test_an_rfm_cell_opens_its_segment(page, viewer, shop):
    from segments.library import template_rule
    from segments.models import Segment

    Segment.objects.create(name="Champions", template="rfm_important_value",
                           rule=template_rule("rfm_important_value"))
    page.goto("/")
    cell = page.locator('a.rfm-cell[data-rfm-class="important_value"]')
    assert cell.locator(".rfm-count").inner_text() == "2"
    cell.click()
    page.wait_for_url("**/segments/*/")
    assert "Champions" in page.get_by_role("heading", level=1).inner_text()


def test_an_rfm_cell_without_a_segment_lists_its_customers(page, viewer, shop):
    page.goto("/")
    page.locator('a.rfm-cell[data-rfm-class="important_value"]').click()
    page.wait_for_url("**/customers/?rfm_class=important_value")
    links = page.locator("table.customers tbody tr td:first-child a").all_inner_texts()
    assert links == ["bob", "ann"]


def test_the_channel_switch_redraws_the_arpu_chart(page, viewer, shop, screenshot):
    page.goto("/")
    wait_for_charts(page, ["arpu"])
    page.get_by_role("group", name="Break down by").get_by_role("link", name="Channel").click()
    page.wait_for_selector('[data-trend-dimension="acquisition_channel"] '
                           '[data-chart="arpu"][data-chart-ready="true"] canvas',
                           state="attached")
    assert "dimension=acquisition_channel" in page.url  # pushed: back and reload work
    option = json.loads(page.locator("#arpu-option").text_content())
    assert [series["name"] for series in option["series"]] == ["ads", "organic", "(not set)"]
    assert option["series"][0]["data"][-1] == 80.0
    assert page.locator('.segmented a[aria-current="true"]').inner_text() == "Channel"
    screenshot("dashboard-by-channel")


def test_the_customer_timeline_shows_every_kind_of_entry(page, viewer, shop, screenshot):
    page.goto("/customers/ann/")
    kinds = page.locator("table.timeline tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.kind)")
    assert {"order", "event", "message", "redemption"} <= set(kinds)
    redemption = page.locator('tr[data-kind="redemption"]').inner_text()
    assert "Coupon redeemed" in redemption
    assert "9.00" in redemption
    assert page.locator('[data-section="journeys"]').get_by_text("Welcome").is_visible()
    screenshot("customer")


def test_the_pages_pass_an_accessibility_check(page, viewer, shop, screenshot):
    for path, name in [("/", "dashboard"), ("/?dimension=city", "dashboard-city"),
                       ("/customers/", "customers"), ("/customers/?q=ann", "search"),
                       ("/customers/ann/", "customer")]:
        page.goto(path)
        if path.startswith("/?") or path == "/":
            wait_for_charts(page)
        screenshot(name)
        assert accessibility_violations(page) == [], path


def test_the_chinese_ui_renders(page, viewer, shop, screenshot):
    page.goto("/")
    page.get_by_label("Language").select_option("zh-hans")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert page.get_by_role("heading", level=1).inner_text() == "仪表盘"
    wait_for_charts(page)
    stages = page.locator('[data-table="lifecycle"] tbody').inner_text()
    assert "导入期" in stages
    assert "成熟期" in stages
    assert "重要价值" in page.locator(".rfm-grid").inner_text()
    screenshot("dashboard-zh")
