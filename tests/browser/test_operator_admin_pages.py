"""Coupons, message templates, settings, campaign results and the operator's language, in
real Chromium: the editor's live preview follows the typing, a test send shows its problem
(and a refused request says so), a manager creates a coupon definition, an admin's settings
change is stored, the results charts draw, and the Chinese UI chosen once comes back after
signing in again."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from campaigns.models import CouponDefinition, DeliverySettings
from customers.roles import Role, role_group
from tests.browser.conftest import accessibility_violations
from tests.campaigns.factories import CouponDefinitionFactory, MessageTemplateFactory
from tests.campaigns.results_shop import results_campaign
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pass"  # a throwaway user in the test database


def operator(role: Role, username: str = ""):
    user = get_user_model().objects.create_user(username or role.group, password=PASSWORD)
    user.groups.add(role_group(role))
    return user


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def test_the_live_preview_follows_the_typing_for_the_picked_customer(page, sign_in,
                                                                     screenshot):
    sign_in(operator(Role.MARKETER))
    CustomerFactory(external_id="ann-1", name="Ann Lee")
    template = MessageTemplateFactory(name="Nudge", channel="sms", subject="",
                                      body="Hi {{ customer.name }}")
    page.goto(f"/messages/{template.pk}/")
    page.wait_for_selector("#preview-body")

    page.get_by_label("Customer (external id)", exact=True).fill("ann-1")
    page.get_by_label("Body").fill("Hello {{ customer.name }}, here is {{ coupon.discount }}")

    page.wait_for_function(
        "document.querySelector('#preview-body')?.textContent.startsWith('Hello Ann Lee, here')")
    assert "As ann-1 would get it" in page.locator("#preview").inner_text()
    assert page.locator("#customer-options option[value='ann-1']").count() == 1
    page.get_by_label("Body").fill("Hello {% if %}")
    page.wait_for_selector("#render-errors")
    assert "body" in page.locator("#render-errors").inner_text()
    screenshot("template-editor")


def test_a_test_send_shows_its_problem_and_a_refused_request_says_so(page, sign_in):
    sign_in(operator(Role.MARKETER))
    template = MessageTemplateFactory(name="Nudge", channel="sms", subject="", body="Hi")
    page.goto(f"/messages/{template.pk}/")
    page.wait_for_selector("#preview-body")
    result = page.locator("#test-send-result")

    page.get_by_label("Render for customer (external id)").fill("nobody-here")
    page.get_by_role("button", name="Send test").click()
    expect(result.get_by_role("alert")).to_contain_text("No customer with external id")

    page.context.clear_cookies(name="csrftoken")  # as if another tab had logged out and in
    page.get_by_role("button", name="Send test").click()
    expect(result.get_by_role("alert")).to_contain_text("this page has expired")


def test_a_manager_creates_a_coupon_definition(page, sign_in, screenshot):
    sign_in(operator(Role.MANAGER))
    page.goto("/coupons/")
    page.get_by_role("link", name="New coupon definition").click()
    page.get_by_label("Name").fill("Win-back 15%")
    page.get_by_label("Kind").select_option("percentage")
    page.get_by_label("Value").fill("150")
    page.get_by_role("button", name="Save").click()
    assert "a percentage must be more than 0 and at most 100" in page.content()
    assert not CouponDefinition.objects.exists()

    page.get_by_label("Value").fill("15")
    page.get_by_label("Code prefix").fill("BACK")
    page.get_by_label("Budget: maximum codes").fill("500")
    page.get_by_role("button", name="Save").click()

    page.wait_for_url("**/coupons/*/")
    assert page.get_by_role("heading", level=1).inner_text() == "Win-back 15%"
    definition = CouponDefinition.objects.get()
    assert (definition.value, definition.code_prefix, definition.max_codes) == (15, "BACK", 500)
    screenshot("coupon-detail")


def test_an_admin_s_settings_change_is_stored(page, sign_in, screenshot):
    sign_in(operator(Role.ADMIN))
    page.goto("/settings/")
    page.get_by_label("Frequency cap: messages").fill("5")
    page.locator("#delivery").get_by_role("button", name="Save").click()
    page.wait_for_selector(".message.success")

    page.reload()
    assert page.get_by_label("Frequency cap: messages").input_value() == "5"
    assert DeliverySettings.load().cap_messages == 5
    screenshot("settings")


def test_the_results_charts_draw(page, sign_in, screenshot):
    sign_in(operator(Role.VIEWER))
    campaign = results_campaign()
    page.goto(f"/campaigns/{campaign.pk}/results/")

    for chart in ("#uplift-chart", "#conversion-chart", "#funnel-chart", "#ab-chart-0"):
        page.wait_for_selector(f'{chart}[data-chart-ready="true"]')
        assert page.locator(f"{chart} canvas").count() == 1
    assert page.locator('[data-kpi="reach"] dd').inner_text() == "6"
    screenshot("campaign-results")


def test_chinese_chosen_once_comes_back_after_signing_in_again(page, browser, live_server):
    operator(Role.VIEWER, "lin")
    log_in(page, "lin")
    page.get_by_label("Language").select_option("zh-hans")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    page.get_by_role("button", name="退出登录").click()

    other = browser.new_context(base_url=live_server.url, locale="en-US")  # another device
    try:
        second = other.new_page()
        log_in(second, "lin")
        assert second.evaluate("document.documentElement.lang") == "zh-hans"
        assert second.get_by_role("heading", level=1).inner_text() == "仪表盘"
    finally:
        other.close()


def test_the_pages_pass_an_accessibility_check(page, sign_in, screenshot):
    sign_in(operator(Role.ADMIN))
    definition = CouponDefinitionFactory(name="Welcome")
    template = MessageTemplateFactory(name="Welcome mail")
    campaign = results_campaign()
    pages = {"coupons": "/coupons/", "coupon": f"/coupons/{definition.pk}/",
             "coupon-new": "/coupons/new/", "templates": "/messages/",
             "template": f"/messages/{template.pk}/", "webhooks": "/messages/webhooks/",
             "settings": "/settings/", "results": f"/campaigns/{campaign.pk}/results/"}
    for name, path in pages.items():
        page.goto(path)
        if name == "results":
            page.wait_for_selector('#funnel-chart[data-chart-ready="true"]')
        if name == "template":
            page.wait_for_selector("#preview .preview-frame")
        screenshot(name)
        assert accessibility_violations(page) == [], path


def test_a_viewer_reads_a_template_with_its_preview_but_cannot_save(page, sign_in):
    sign_in(operator(Role.VIEWER))
    template = MessageTemplateFactory(name="Nudge", channel="sms", subject="",
                                      body="Hi {{ customer.name }}")
    page.goto(f"/messages/{template.pk}/")

    page.wait_for_selector("#preview-body")
    assert page.locator("#preview-body").inner_text().startswith("Hi Alex Sample")
    assert page.get_by_label("Body").get_attribute("readonly") is not None
    assert page.get_by_role("button", name="Save").count() == 0


def test_results_of_a_version_the_campaign_lacks_say_so(page, sign_in):
    sign_in(operator(Role.VIEWER))
    campaign = results_campaign()

    page.goto(f"/campaigns/{campaign.pk}/results/?version=9")

    page.wait_for_function("document.querySelector('#results-figures [role=status]')"
                           ".textContent.includes('could not be computed')")
