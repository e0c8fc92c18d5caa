"""Authentication, throttling, and what bad or hostile requests get back."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from customers.api.views import MAX_BODY_BYTES
from customers.models import Customer, Event, Order, StorefrontKey
from customers.services.storefronts import storefront_key_create, storefront_keys_revoke

pytestmark = pytest.mark.django_db

ORDER = {"external_id": "o1", "customer": "c1", "amount": "10.00",
         "placed_at": "2024-05-01T10:00:00Z"}


def client_with(header=None):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def post_raw(client, body, content_type="application/json", url="/api/v1/orders/"):
    return client.generic("POST", url, body, content_type=content_type)


# --- authentication -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/api/v1/customers/c1/"), ("put", "/api/v1/customers/c1/"),
     ("post", "/api/v1/customers/batch/"), ("post", "/api/v1/orders/"),
     ("post", "/api/v1/orders/batch/"), ("post", "/api/v1/events/"),
     ("post", "/api/v1/events/batch/")],
)
def test_every_endpoint_requires_a_key(storefront, method, url):
    response = getattr(client_with(), method)(url, {}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_wrong_key_is_401(storefront_key):
    response = client_with("Bearer sk_wrong").post("/api/v1/orders/", ORDER, format="json")

    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed",
                               "message": "The API key is not valid or was revoked.",
                               "errors": []}
    assert Order.objects.count() == 0


def test_revoked_key_is_401(storefront_key):
    storefront_keys_revoke(keys=StorefrontKey.objects.all())

    response = client_with(f"Bearer {storefront_key}").post("/api/v1/orders/", ORDER,
                                                            format="json")

    assert response.status_code == 401
    assert Order.objects.count() == 0


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "Token x"])
def test_malformed_authorization_is_401(storefront_key, header):
    response = client_with(header).post("/api/v1/orders/", ORDER, format="json")

    assert response.status_code == 401


def test_valid_key_is_accepted(api):
    assert api.post("/api/v1/orders/", ORDER, format="json").status_code == 201


# --- throttling -----------------------------------------------------------------------------

@override_settings(API_THROTTLE_RATE="3/min")
def test_fourth_request_in_a_minute_is_throttled_with_retry_after(api):
    statuses = [api.get("/api/v1/customers/c1/").status_code for _ in range(4)]

    assert statuses == [404, 404, 404, 429]
    response = api.get("/api/v1/customers/c1/")
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


@override_settings(API_THROTTLE_RATE="3/min")
def test_throttling_counts_per_key(api, storefront):
    for _ in range(4):
        api.get("/api/v1/customers/c1/")
    _key, other_key = storefront_key_create(storefront=storefront)

    response = client_with(f"Bearer {other_key}").get("/api/v1/customers/c1/")

    assert response.status_code == 404


# --- bad bodies -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "The request body is empty; send a JSON object."),
        (b"   ", "The request body is empty; send a JSON object."),
        (b'{"external_id": "o1",', "The request body is not valid JSON: EOF while parsing"),
        (b"external_id=o1", "The request body is not valid JSON: expected value"),
        (b"\xff\xfe{}", "The request body is not valid JSON"),
        (b'[{"external_id": "o1"}]', "The request body must be a JSON object, not an array."),
        (b'"o1"', "The request body must be a JSON object, not a single value."),
        (b"null", "The request body must be a JSON object, not a single value."),
    ],
)
def test_body_that_is_not_a_json_object_is_400(api, body, message):
    response = post_raw(api, body)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["message"].startswith(message)


def test_json_array_body_to_a_batch_endpoint_is_400(api):
    response = post_raw(api, json.dumps([ORDER]).encode(), url="/api/v1/orders/batch/")

    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_body_that_is_not_json_content_is_415(api, content_type):
    response = post_raw(api, json.dumps(ORDER).encode(), content_type=content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert Order.objects.count() == 0


def test_json_with_charset_is_accepted(api):
    response = post_raw(api, json.dumps(ORDER).encode(), "application/json; charset=utf-8")

    assert response.status_code == 201


def test_validation_errors_share_one_shape(api):
    response = api.post("/api/v1/orders/batch/", {"items": [dict(ORDER, amount="-1")]},
                        format="json")

    assert response.json() == {
        "code": "invalid",
        "message": "Invalid input: items[0].amount.",
        "errors": [{"field": "items[0].amount",
                    "message": "Input should be greater than or equal to 0"}],
    }


# --- hostile input --------------------------------------------------------------------------

def test_body_over_the_size_limit_is_413(api):
    body = json.dumps({**ORDER, "coupon_code": "x" * MAX_BODY_BYTES}).encode()

    response = post_raw(api, body)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_huge_string_field_is_400_naming_it(api):
    response = api.post("/api/v1/orders/", dict(ORDER, coupon_code="x" * 1_000_000),
                        format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "coupon_code"


def test_huge_properties_value_is_stored_within_the_size_limit(api):
    payload = {"customer": "c1", "name": "visit", "properties": {"blob": "x" * 100_000}}

    assert api.post("/api/v1/events/", payload, format="json").status_code == 201


def test_deeply_nested_json_is_400(api):
    nested = b'{"customer": "c1", "name": "visit", "properties": {"a": ' + b"[" * 5000 \
        + b"]" * 5000 + b"}}"

    response = post_raw(api, nested, url="/api/v1/events/")

    assert response.status_code == 400
    assert Event.objects.count() == 0


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_number_in_properties_is_400(api, literal):
    body = b'{"customer": "c1", "name": "visit", "properties": {"x": ' + literal + b"}}"

    response = post_raw(api, body, url="/api/v1/events/")

    assert response.status_code == 400
    assert Event.objects.count() == 0


@pytest.mark.parametrize("text", [r"a\u0000b", r"\u0000"])
def test_nul_character_is_400(api, text):
    body = b'{"customer": "c1", "name": "visit", "properties": {"k": "' + text.encode() + b'"}}'

    response = post_raw(api, body, url="/api/v1/events/")

    assert response.status_code == 400
    assert "NUL" in response.json()["message"]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "put"])
def test_nul_character_in_the_address_is_400(api, method):
    response = getattr(api, method)("/api/v1/customers/a%00b/", {"name": "Ann"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error", "errors": [],
        "message": "The address must not contain a NUL character (%00)."}
    assert Customer.objects.count() == 0


def test_escaped_backslash_before_u0000_is_plain_text(api):
    body = rb'{"customer": "c1", "name": "visit", "properties": {"path": "C:\\u0000"}}'

    response = post_raw(api, body, url="/api/v1/events/")

    assert response.status_code == 201
    assert Event.objects.get().properties == {"path": "C:\\u0000"}


def test_lone_surrogate_is_400(api):
    body = rb'{"customer": "c1", "name": "visit", "properties": {"k": "\ud800"}}'

    response = post_raw(api, body, url="/api/v1/events/")

    assert response.status_code == 400


def test_non_ascii_text_round_trips(api):
    api.put("/api/v1/customers/c1/", {"name": "王小明 🎉", "city": "上海"}, format="json")

    response = api.get("/api/v1/customers/c1/")

    assert (response.json()["name"], response.json()["city"]) == ("王小明 🎉", "上海")


# --- API docs -------------------------------------------------------------------------------

def test_openapi_schema_generates_without_warnings():
    out = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                 stdout=out)

    schema = json.loads(out.getvalue())
    assert {"/api/v1/customers/{external_id}/", "/api/v1/customers/batch/", "/api/v1/orders/",
            "/api/v1/orders/batch/", "/api/v1/events/", "/api/v1/events/batch/"} <= set(
        schema["paths"])
    batch = schema["paths"]["/api/v1/orders/batch/"]["post"]
    assert "All-or-nothing" in batch["description"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "OrderBatchInRequest")
