"""Errors under /api/ answer in the API's JSON shape; the pages keep their HTML."""

import pytest
from django.test import RequestFactory

from config.errors import server_error


def test_an_unknown_api_address_is_a_json_404(api):
    response = api.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "errors": [],
                               "message": "There is no API endpoint at this address."}


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
