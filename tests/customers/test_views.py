"""Operator pages: what a logged-in operator sees on the dashboard, the customer list and a
customer's page. Figures are hand-computed from the small shop in `shop` below."""

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from customers.models import (
    CustomerMetrics,
    LifecycleChange,
    LifecycleStage,
    RfmClass,
)
from customers.roles import Role, role_group
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db


def days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.fixture
def operator(client):
    """A logged-in operator with the viewer role (no admin rights)."""
    user = get_user_model().objects.create_user("operator")  # no password: skips hashing
    user.groups.add(role_group(Role.VIEWER))
    client.force_login(user)
    return client


@pytest.fixture
def shop(storefront):
    """Within the last 30 days:
    ann (ads, Shanghai): paid 100 + 60           -> revenue 160, 2 orders
    bob (organic, Beijing): paid 200, 20 refunded -> revenue 180, GMV 200
    cat (ads): a visit, no order                  -> active, not paying
    dan (no channel): a visit                     -> active, not paying
    eve: nothing in the period                    -> neither active nor paying
    Plus ann's paid order of 1,000 from 60 days ago and eve's of 80 from 45 days ago, outside
    30 days, inside 90.

    30 days: revenue 340.00, GMV 360.00, 3 orders, 4 active, 2 paying, ARPU 340/4 = 85.00,
    ARPPU 340/2 = 170.00, AOV 340/3 = 113.33, repurchase 1 of 2 = 50.0 %, 5 customers.
    """
    ann = CustomerFactory(external_id="ann", name="Ann Lee", acquisition_channel="ads",
                          city="Shanghai", email="ann@example.com")
    bob = CustomerFactory(external_id="bob", name="Bob Wu", acquisition_channel="organic",
                          city="Beijing")
    cat = CustomerFactory(external_id="cat", acquisition_channel="ads")
    dan = CustomerFactory(external_id="dan", acquisition_channel="")
    eve = CustomerFactory(external_id="eve")
    order = {"storefront": storefront}
    OrderFactory(customer=ann, amount=Decimal("100.00"), placed_at=days_ago(2), **order)
    OrderFactory(customer=ann, amount=Decimal("60.00"), placed_at=days_ago(5), **order)
    OrderFactory(customer=ann, amount=Decimal("1000.00"), placed_at=days_ago(60), **order)
    OrderFactory(customer=bob, amount=Decimal("200.00"), refunded_amount=Decimal("20.00"),
                 placed_at=days_ago(3), **order)
    OrderFactory(customer=eve, amount=Decimal("80.00"), placed_at=days_ago(45), **order)
    EventFactory(customer=cat, name="visit", occurred_at=days_ago(1), storefront=storefront)
    EventFactory(customer=dan, name="visit", occurred_at=days_ago(4), storefront=storefront)
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "eve": eve}


def metrics_for(customer, stage, rfm_class=None, **values):
    defaults = {"lifecycle_stage": stage, "rfm_class": rfm_class, "computed_at": timezone.now()}
    return CustomerMetrics.objects.create(customer=customer, **{**defaults, **values})


@pytest.fixture
def shop_metrics(shop):
    """3 of 4 classified customers active, 1 prospect; 2 buyers in important value and 1 in
    general win-back."""
    metrics_for(shop["ann"], LifecycleStage.ACTIVE, RfmClass.IMPORTANT_VALUE, monetary=1160)
    metrics_for(shop["bob"], LifecycleStage.ACTIVE, RfmClass.IMPORTANT_VALUE, monetary=180)
    metrics_for(shop["cat"], LifecycleStage.ACTIVE, RfmClass.GENERAL_WINBACK, monetary=10)
    metrics_for(shop["dan"], LifecycleStage.PROSPECT)
    return shop


def page_text(response) -> str:
    return unescape(response.content.decode())


def kpi(response, name: str) -> str:
    match = re.search(rf'data-kpi="{name}">.*?<dd>(.*?)</dd>', page_text(response), re.S)
    assert match, f"no KPI {name} on the page"
    return match.group(1).strip()


def table_rows(response, marker: str) -> list[list[str]]:
    """The body rows (cell texts) of the first table after `marker` in the page."""
    html = page_text(response)
    table = html[html.index(marker):]
    table = table[table.index("<tbody>"):table.index("</tbody>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in row] for row in cells]


# --- Login --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/customers/", "/customers/ann/"])
def test_pages_redirect_anonymous_visitors_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_login_form_logs_the_operator_in(client):
    get_user_model().objects.create_user("op", password="s3cret-pass")
    response = client.post(reverse("login"), {"username": "op", "password": "s3cret-pass"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_login_form_rejects_a_wrong_password(client):
    get_user_model().objects.create_user("op", password="s3cret-pass")
    response = client.post(reverse("login"), {"username": "op", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in page_text(response)


def test_logout_is_a_post_that_ends_the_session(operator):
    response = operator.post(reverse("logout"))
    assert response.status_code == 302
    assert operator.get("/").status_code == 302


# --- Dashboard (the figures themselves: tests/customers/test_dashboard.py) ----------------


def test_dashboard_renders_chinese_labels_in_zh_hans(operator, shop_metrics):
    from customers.services.dashboard import dashboard_figures_compute

    dashboard_figures_compute()
    response = operator.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page_text(response)
    assert '<html lang="zh-hans">' in text
    for label in ("仪表盘", "客户", "重要价值", "一般挽留", "成熟期", "导入期"):
        assert label in text, label


def test_language_switcher_remembers_chinese(operator, shop):
    operator.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "仪表盘" in page_text(operator.get("/"))


# --- Customer list ------------------------------------------------------------------------


def test_customer_list_shows_customers_with_their_metrics(operator, shop_metrics):
    rows = {row[0]: row for row in table_rows(operator.get("/customers/"), "<table")}
    assert rows["ann"][1:5] == ["Ann Lee", "ann@example.com", "Shanghai", "Active"]
    assert rows["ann"][5] == "Important value (champions)"
    assert rows["eve"][4:] == ["—", "—", "—", "—"]  # no metrics computed yet


def test_customer_list_searches_by_email(operator, shop):
    rows = table_rows(operator.get("/customers/?q=ann@exa"), "<table")
    assert [row[0] for row in rows] == ["ann"]


@pytest.mark.parametrize("address", ["/customers/?q=a%00b", "/customers/a%00b/"])
def test_a_nul_character_in_the_address_is_a_bad_request(operator, shop, address):
    response = operator.get(address)

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_customer_list_says_when_nothing_matches(operator, shop):
    text = page_text(operator.get("/customers/?q=nobody-like-this"))
    assert 'No customer matches "nobody-like-this".' in text


def test_customer_list_paginates_by_50(operator):
    CustomerFactory.create_batch(51)
    first = table_rows(operator.get("/customers/"), "<table")
    second = operator.get("/customers/?page=2")
    assert len(first) == 50
    assert len(table_rows(second, "<table")) == 1
    assert "Page 2" in page_text(second)
    assert 'rel="next"' not in page_text(second)
    assert 'rel="prev"' in page_text(second)


def test_customer_list_keeps_the_query_in_page_links(operator):
    CustomerFactory.create_batch(51, city="Hangzhou", name="Zed")
    html = operator.get("/customers/?q=Zed").content.decode()
    assert 'href="?q=Zed&amp;page=2"' in html
    assert "51 customers match." in html


# --- Customer page ------------------------------------------------------------------------


@pytest.fixture
def ann_page(operator, shop_metrics):
    ann = shop_metrics["ann"]
    ann.email_consent = True
    ann.email_consent_at = timezone.make_aware(dt.datetime(2024, 5, 6, 7, 8))
    ann.tags = ["vip", "newsletter"]
    ann.attributes = {"favourite_colour": "teal"}
    ann.save()
    LifecycleChange.objects.create(customer=ann, from_stage=LifecycleStage.NEW,
                                   to_stage=LifecycleStage.ACTIVE, changed_at=days_ago(5))
    EventFactory(customer=ann, name="cart_add", occurred_at=days_ago(1),
                 storefront=ann.orders.first().storefront)
    metrics = ann.metrics
    metrics.r_score, metrics.f_score, metrics.m_score = 5, 4, 3
    metrics.ltv = Decimal("1160.00")
    metrics.save()
    return operator.get(reverse("customer-detail", args=["ann"]))


def test_customer_page_shows_profile_consent_tags_and_attributes(ann_page):
    text = page_text(ann_page)
    assert ann_page.status_code == 200
    assert "<h1>Ann Lee</h1>" in text
    assert "Given" in re.search(r'data-consent="email">(.*?)</dd>', text, re.S).group(1)
    assert "2024-05-06 07:08" in text
    assert "Not given" in re.search(r'data-consent="sms">(.*?)</dd>', text, re.S).group(1)
    assert '<li class="tag">vip</li>' in text
    assert "<dt>favourite_colour</dt><dd>teal</dd>" in text


def test_customer_page_shows_metrics(ann_page):
    text = page_text(ann_page)
    assert re.search(r"data-scores>\s*5 / 4 / 3\s*</dd>", text)
    assert '<dd data-metric="ltv">1,160.00</dd>' in text
    assert "Important value (champions)" in text


def test_customer_page_shows_lifecycle_history(ann_page):
    rows = table_rows(ann_page, "Lifecycle history")
    assert [row[1:] for row in rows] == [["New", "Active"]]


def test_customer_page_shows_orders_and_events_newest_first(ann_page):
    rows = table_rows(ann_page, 'id="timeline-heading"')
    kinds_and_status = [(row[1], row[4]) for row in rows]
    assert kinds_and_status == [("Event", ""), ("Order", "Paid"), ("Order", "Paid"),
                                ("Order", "Paid")]
    assert rows[0][2] == "cart_add"
    assert rows[1][5] == "100.00"


def test_customer_page_finds_external_ids_with_slashes(operator):
    CustomerFactory(external_id="shop/42", name="Slashed")
    response = operator.get("/customers/shop/42/")
    assert response.status_code == 200
    assert "<h1>Slashed</h1>" in page_text(response)


def test_an_external_id_with_a_line_break_is_listed_and_linked(operator):
    """Storefronts have sent such ids: the list must still render, and the link lead to
    the customer."""
    CustomerFactory(external_id="line\nbreak", name="Broken")

    listed = operator.get("/customers/")
    assert listed.status_code == 200
    assert 'href="/customers/line%0Abreak/"' in listed.content.decode()
    response = operator.get("/customers/line%0Abreak/")
    assert response.status_code == 200
    assert "<h1>Broken</h1>" in page_text(response)


def test_missing_customer_page_is_a_404_with_our_template(operator):
    response = operator.get("/customers/nobody/")
    assert response.status_code == 404
    assert "404.html" in [template.name for template in response.templates]
    assert "Page not found" in page_text(response)


def test_server_error_page_is_branded_and_needs_no_context(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    text = page_text(response)
    assert response.status_code == 500
    assert "Something went wrong on our side" in text
    assert "Traceback" not in text


def test_permission_denied_page_uses_our_template(operator, rf):
    from django.core.exceptions import PermissionDenied
    from django.views.defaults import permission_denied

    request = rf.get("/")
    request.user = get_user_model().objects.get(username="operator")
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert "Access denied" in page_text(response)
