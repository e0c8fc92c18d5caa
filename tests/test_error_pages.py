"""Errors under /api/ answer in the API's JSON shape; the pages keep their HTML."""

import pytest
from django.test import RequestFactory, override_settings

from config.errors import server_error
from customers.models import Order

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
