"""Errors under /api/ answer in the API's JSON shape; the pages keep their HTML, and a form
whose security token expired gets a page saying so."""

import pytest
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from config.errors import server_error
from customers.models import Order
from customers.roles import Role
from segments.models import Segment
from segments.rules import condition
from tests.segments.test_views import sign_in

ORDER = {"external_id": "o1", "customer": "c1", "amount": "10.00", "status": "paid",
         "placed_at": "2026-11-30T10:00:00Z"}


def test_an_unknown_api_address_is_a_json_404(api):
    response = api.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "errors": [],
                               "message": "There is no API endpoint at this address."}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_an_unknown_api_address_is_json_whatever_the_method_and_in_debug(api, method, debug):
    with override_settings(DEBUG=debug):
        response = getattr(api, method)("/api/v1/no-such-thing", ORDER, format="json")

    assert response.status_code == 404
    assert response.json()["message"] == "There is no API endpoint at this address."


@pytest.mark.parametrize("debug", [False, True])
def test_a_write_missing_its_trailing_slash_names_the_address_and_writes_nothing(api, debug):
    with override_settings(DEBUG=debug):
        response = api.post("/api/v1/orders", ORDER, format="json")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found", "errors": [],
        "message": "There is no API endpoint at this address; did you mean /api/v1/orders/, "
                   "with the trailing slash?"}
    assert Order.objects.count() == 0


def test_a_read_missing_its_trailing_slash_is_redirected_with_its_query(api):
    response = api.get("/api/v1/segments?page=2")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/segments/?page=2"


def test_api_addresses_in_chinese(api):
    response = api.post("/api/v1/orders", ORDER, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")

    message = response.json()["message"]
    assert message.startswith("此地址没有 API 接口")
    assert "/api/v1/orders/" in message


def test_an_unknown_page_is_the_html_404(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "404.html" in [template.name for template in response.templates]


@pytest.mark.parametrize(("path", "json"), [("/api/v1/orders/", True), ("/customers/", False)])
def test_a_server_error_under_the_api_is_json_and_elsewhere_html(path, json):
    response = server_error(RequestFactory().get(path))

    assert response.status_code == 500
    if json:
        assert response["Content-Type"] == "application/json"
        assert response.content.startswith(b'{"code": "server_error"')
    else:
        assert b"<html" in response.content


@pytest.fixture
def strict_client(db) -> Client:
    """A browser whose form carries no (or a stale) CSRF token: the test client skips the
    check unless asked."""
    return Client(enforce_csrf_checks=True)


def test_a_form_with_an_expired_token_gets_the_sites_page_and_saves_nothing(strict_client):
    segment = Segment.objects.create(name="Shanghai", rule=condition("city", "==", "Shanghai"))

    marketer = sign_in(strict_client, Role.MARKETER)
    response = marketer.post(reverse("segment-delete", args=[segment.pk]))

    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page
    assert "Nothing was saved." in page
    assert reverse("dashboard") in page
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_the_expired_form_page_offers_the_login_to_a_visitor_and_speaks_chinese(strict_client):
    response = strict_client.post(reverse("login"), {"username": "u", "password": "p"},
                                  HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 403
    page = response.content.decode()
    assert "表单已过期" in page
    assert f'href="{reverse("login")}"' in page


def test_an_island_s_write_with_an_expired_token_is_told_so_and_saves_nothing(strict_client):
    rule = condition("city", "==", "Shanghai")
    body = {"name": "Shanghai", "rule": rule}

    marketer = sign_in(strict_client, Role.MARKETER)
    refused = marketer.post("/api/v1/segments/", body, content_type="application/json")
    in_chinese = marketer.post("/api/v1/segments/", body, content_type="application/json",
                                    HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert refused.status_code == 403
    assert refused.json() == {
        "code": "csrf_failed", "errors": [],
        "message": "This page has expired (you may have logged in or out in another tab); "
                   "nothing was saved. Reload the page and try again."}
    assert in_chinese.json()["message"].startswith("此页面已过期")
    assert not Segment.objects.exists()
