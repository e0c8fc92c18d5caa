"""The operator API for segments, as an operator (or a storefront that must be refused) sees
it: /api/v1/segments/..., /api/v1/segment-templates/, /api/v1/segment-fields/."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.test import APIClient

from customers.models import CustomerMetrics, LifecycleStage
from segments.models import Segment, SegmentChange
from segments.rules import condition, describe
from segments.services.evaluation import segment_evaluate
from tests.customers.factories import CustomerFactory
from tests.segments.operators import errors, staff_user, token_client

pytestmark = pytest.mark.django_db

SHANGHAI = condition("city", "==", "Shanghai")


@pytest.fixture
def operator():
    return token_client(staff_user())


def _create(client, **body):
    response = client.post("/api/v1/segments/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- who may call it ------------------------------------------------------------------------

OPERATOR_ENDPOINTS = [
    ("get", "/api/v1/segments/"), ("post", "/api/v1/segments/"),
    ("get", "/api/v1/segments/1/"), ("patch", "/api/v1/segments/1/"),
    ("delete", "/api/v1/segments/1/"), ("post", "/api/v1/segments/preview/"),
    ("get", "/api/v1/segments/1/members/"), ("get", "/api/v1/segments/1/changes/"),
    ("get", "/api/v1/segments/1/explain/c1/"), ("get", "/api/v1/segment-templates/"),
    ("get", "/api/v1/segment-fields/"),
]


@pytest.mark.parametrize(("method", "url"), OPERATOR_ENDPOINTS)
def test_a_storefront_key_is_refused_everywhere(api, method, url):
    Segment.objects.create(pk=1, name="Shanghai", rule=SHANGHAI)

    response = getattr(api, method)(url, {}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert Segment.objects.filter(pk=1).exists()


def test_without_credentials_the_answer_is_401_asking_for_a_token():
    response = APIClient().get("/api/v1/segments/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert client.get("/api/v1/segments/").status_code == 401


def test_a_user_who_is_not_staff_is_403():
    response = token_client(staff_user("clerk", is_staff=False)).get("/api/v1/segments/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_staff_session_works_like_a_token():
    client = APIClient()
    client.force_login(staff_user())

    assert client.get("/api/v1/segment-templates/").status_code == 200


# --- create, read, update, delete -----------------------------------------------------------

def test_creating_from_a_rule_saves_it_and_queues_the_first_evaluation(
        operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        body = _create(operator, name="Shanghai", rule=SHANGHAI, description="Local buyers")

    assert body["name"] == "Shanghai"
    assert body["rule"] == SHANGHAI
    assert body["template"] == ""
    assert body["time_dependent"] is False
    assert body["refresh_interval_minutes"] == 24 * 60
    assert (body["size"], body["last_evaluated_at"], body["history"]) == (0, None, [])
    assert len(queued) == 1
    assert Segment.objects.get(pk=body["id"]).created_by.username == "operator"


def test_a_rule_that_moves_with_the_clock_is_marked_time_dependent(operator):
    body = _create(operator, name="Birthdays", rule=condition("birthday", "birthday_today"))

    assert body["time_dependent"] is True
    assert body["refresh_interval_minutes"] == 60


def test_creating_from_a_template_copies_its_rule_which_stays_editable(operator):
    body = _create(operator, name="Lapsed", template="dormant_90", params={"days": 120})

    assert body["template"] == "dormant_90"
    assert body["rule"] == condition("recency_days", ">=", 120)

    edited = {"and": [body["rule"], SHANGHAI]}
    response = operator.patch(f"/api/v1/segments/{body['id']}/", {"rule": edited},
                              format="json")

    assert response.status_code == 200
    assert response.json()["rule"] == edited
    assert Segment.objects.get(pk=body["id"]).rule == edited


def test_template_params_left_out_take_their_defaults(operator):
    body = _create(operator, name="Cart", template="cart_abandoners")

    assert body["rule"] == condition("cart", "cart_abandoned", {"hours": 24, "within_days": 7})


def test_put_replaces_and_patch_changes_only_what_is_sent(operator):
    segment = _create(operator, name="Shanghai", rule=SHANGHAI)
    url = f"/api/v1/segments/{segment['id']}/"

    beijing = condition("city", "==", "Beijing")
    put = operator.put(url, {"name": "Beijing", "rule": beijing}, format="json")
    patch = operator.patch(url, {"is_active": False, "refresh_minutes": 30}, format="json")

    assert put.status_code == 200
    assert patch.status_code == 200
    assert (patch.json()["name"], patch.json()["rule"]) == ("Beijing", beijing)
    assert (patch.json()["is_active"], patch.json()["refresh_interval_minutes"]) == (False, 30)


def test_a_change_from_a_stale_copy_is_refused_and_writes_nothing(operator):
    segment = _create(operator, name="Shanghai", rule=SHANGHAI)
    url = f"/api/v1/segments/{segment['id']}/"
    read = operator.get(url)
    beijing = condition("city", "==", "Beijing")
    first = operator.put(url, {"name": "Beijing", "rule": beijing}, format="json",
                         HTTP_IF_MATCH=read["ETag"])
    assert first.status_code == 200
    assert first["ETag"] == f'"{first.json()["updated_at"]}"'

    stale = operator.patch(url, {"name": "Shanghai again"}, format="json",
                           HTTP_IF_MATCH=read["ETag"])

    assert stale.status_code == 412
    assert stale.json()["code"] == "changed_elsewhere"
    assert "segment was changed since you read it" in stale.json()["message"]
    assert operator.get(url).json()["name"] == "Beijing"
    assert operator.patch(url, {"name": "Shanghai again"}, format="json",
                          HTTP_IF_MATCH=first["ETag"]).status_code == 200


def test_the_list_is_paginated_by_name(operator):
    for name in ["C", "A", "B"]:
        Segment.objects.create(name=name, rule=SHANGHAI)

    first = operator.get("/api/v1/segments/?page_size=2").json()
    second = operator.get(first["next"]).json()

    assert first["count"] == 3
    assert [s["name"] for s in first["results"]] == ["A", "B"]
    assert [s["name"] for s in second["results"]] == ["C"]
    assert second["next"] is None


def test_reading_a_segment_shows_its_size_history_and_timing(operator):
    CustomerFactory(city="Shanghai")
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    first = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    segment_evaluate(segment.pk, now=first)
    CustomerFactory(city="Shanghai")
    segment_evaluate(segment.pk, now=first + dt.timedelta(hours=1))

    body = operator.get(f"/api/v1/segments/{segment.pk}/").json()

    assert body["size"] == 2
    assert body["last_evaluated_at"] == "2026-11-01T01:00:00Z"
    assert body["last_duration_ms"] >= 0
    assert [(p["evaluated_at"], p["size"], p["entered"], p["exited"])
            for p in body["history"]] == [("2026-11-01T00:00:00Z", 1, 1, 0),
                                          ("2026-11-01T01:00:00Z", 2, 1, 0)]


def test_an_unknown_segment_is_404_naming_it(operator):
    response = operator.get("/api/v1/segments/999/")

    assert response.status_code == 404
    assert response.json()["message"] == "No segment with id 999."


def test_delete_removes_the_segment_with_its_members(operator):
    CustomerFactory(city="Shanghai")
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    segment_evaluate(segment.pk)

    response = operator.delete(f"/api/v1/segments/{segment.pk}/")

    assert response.status_code == 204
    assert not Segment.objects.exists()
    assert not SegmentChange.objects.exists()


def test_a_segment_another_rule_refers_to_cannot_be_deleted(operator):
    inner = Segment.objects.create(name="VIP", rule=condition("tags", "has_tag", "vip"))
    Segment.objects.create(name="Shanghai VIP", rule={"and": [
        condition("segment", "in_segment", inner.pk), SHANGHAI]})

    response = operator.delete(f"/api/v1/segments/{inner.pk}/")

    assert response.status_code == 409
    assert "Shanghai VIP" in response.json()["message"]
    assert Segment.objects.filter(pk=inner.pk).exists()


# --- bad input names the bad part -----------------------------------------------------------

def _nested(depth: int) -> dict:
    rule = SHANGHAI
    for _ in range(depth):
        rule = {"and": [rule]}
    return rule


@pytest.mark.parametrize(("rule", "field", "message"), [
    ({"and": [SHANGHAI, {"==": [{"var": "citty"}, "Paris"]}]}, "rule.and[1].==",
     'unknown field "citty"'),
    ({">=": [{"var": "recency_days"}, "ninety"]}, "rule.>=", "value 'ninety'"),
    ({"near": [{"var": "city"}, "Paris"]}, "rule.near", 'unknown operator "near"'),
    ({"has_tag": [{"var": "city"}, "vip"]}, "rule.has_tag",
     'operator "has_tag" does not apply to field "city"'),
    ({"or": [SHANGHAI, {"birthday_within_days": [{"var": "birthday"}, True]}]},
     "rule.or[1].birthday_within_days", "value True"),
    (_nested(10), "rule." + ".".join(["and[0]"] * 10), "nested deeper than 10 levels"),
    ("Shanghai", "rule", "expected an object"),
])
def test_a_bad_rule_is_400_naming_the_bad_part(operator, rule, field, message):
    response = operator.post("/api/v1/segments/", {"name": "Bad", "rule": rule},
                             format="json")

    assert message in errors(response)[field]
    assert not Segment.objects.exists()


@pytest.mark.parametrize(("url", "body", "message"), [
    ("/api/v1/segments/", b'{"name": "N", "rule": {"==": [{"var": "city"}, "a\\u0000b"]}}',
     "must not contain NUL"),
    ("/api/v1/segments/preview/", b'{"rule": {"==": [{"var": "city"}, "\\u0000"]}}',
     "must not contain NUL"),
    ("/api/v1/segments/", b'{"name": "N", "rule": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "not valid JSON"),
    ("/api/v1/campaigns/", b'{"name": "N", "graph": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "not valid JSON"),
])
def test_bodies_postgresql_or_python_cannot_take_are_400(operator, url, body, message):
    """NUL, which no text or jsonb value can store, and nesting beyond jiter's 200 levels,
    where Python's json module recursed until the request failed with a 500."""
    response = operator.post(url, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert message in response.json()["message"]
    assert not Segment.objects.exists()


def test_a_cycle_of_segment_references_is_400(operator):
    a = _create(operator, name="A", rule=SHANGHAI)
    b = _create(operator, name="B", rule=condition("segment", "in_segment", a["id"]))

    response = operator.patch(f"/api/v1/segments/{a['id']}/",
                              {"rule": condition("segment", "in_segment", b["id"])},
                              format="json")

    assert "cycle" in errors(response)["rule.in_segment"]
    assert Segment.objects.get(pk=a["id"]).rule == SHANGHAI


def test_a_segment_cannot_refer_to_itself(operator):
    a = _create(operator, name="A", rule=SHANGHAI)

    response = operator.patch(f"/api/v1/segments/{a['id']}/",
                              {"rule": condition("segment", "not_in_segment", a["id"])},
                              format="json")

    assert "cycle" in errors(response)["rule.not_in_segment"]


def test_a_reference_to_a_missing_segment_is_400(operator):
    response = operator.post("/api/v1/segments/", {
        "name": "X", "rule": condition("segment", "in_segment", 404)}, format="json")

    assert errors(response) == {"rule.in_segment": "segment 404 does not exist"}


@pytest.mark.parametrize(("body", "expected"), [
    ({"template": "dormant_45"}, {"template": "unknown template 'dormant_45'"}),
    ({"template": "dormant_90", "params": {"days": "soon"}},
     {"params.days": "expected an integer"}),
    ({"template": "dormant_90", "params": {"days": 0}}, {"params.days": "must be at least 1"}),
    ({"template": "high_ltv", "params": {"amount": True}}, {"params.amount": "expected a number"}),
    ({"template": "city"}, {"params.city": "required"}),
    ({"template": "dormant_90", "params": ["days", 90]}, {"params": "expected an object"}),
])
def test_a_bad_template_or_params_is_400_naming_it(operator, body, expected):
    response = operator.post("/api/v1/segments/", {"name": "T", **body}, format="json")

    assert errors(response) == expected


def test_an_unknown_template_param_is_named(operator):
    response = operator.post("/api/v1/segments/", {
        "name": "T", "template": "dormant_90", "params": {"colour": "red"}}, format="json")

    assert errors(response)["params.colour"].startswith("unknown parameter (this template "
                                                        "takes: days)")


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "X", "rule": SHANGHAI, "colour": "red"}, "colour"),
    ({"name": "X", "rule": SHANGHAI, "template": "dormant_90"}, "template"),
    ({"name": "X"}, "rule"),
    ({"rule": SHANGHAI}, "name"),
    ({"name": "X", "rule": SHANGHAI, "params": {"days": 3}}, "params"),
    ({"name": "X", "rule": SHANGHAI, "refresh_minutes": 1}, "refresh_minutes"),
])
def test_a_bad_body_is_400_naming_the_field(operator, body, field):
    response = operator.post("/api/v1/segments/", body, format="json")

    assert field in errors(response)
    assert response.json()["message"].startswith("Invalid input: ")


def test_a_duplicate_name_is_400(operator):
    _create(operator, name="Shanghai", rule=SHANGHAI)

    response = operator.post("/api/v1/segments/", {"name": "Shanghai", "rule": SHANGHAI},
                             format="json")

    assert errors(response) == {"name": "a segment with this name already exists"}


def test_put_needs_the_rule_and_an_update_takes_no_template(operator):
    segment = _create(operator, name="Shanghai", rule=SHANGHAI)
    url = f"/api/v1/segments/{segment['id']}/"

    assert "rule" in errors(operator.put(url, {"name": "S"}, format="json"))
    assert "template" in errors(operator.patch(url, {"template": "dormant_90"}, format="json"))


# --- preview --------------------------------------------------------------------------------

def test_preview_counts_and_samples_without_saving_in_two_queries(operator):
    for i in range(25):
        CustomerFactory(external_id=f"sh{i}", city="Shanghai")
    CustomerFactory(external_id="bj", city="Beijing")

    with CaptureQueriesContext(connection) as queries:
        response = operator.post("/api/v1/segments/preview/", {"rule": SHANGHAI},
                                 format="json")

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 25
    assert len(body["sample"]) == 20
    assert {c["external_id"] for c in body["sample"]} <= {f"sh{i}" for i in range(25)}
    assert set(body["sample"][0]) == {"external_id", "name", "email", "city"}
    assert body["time_dependent"] is False
    customer_queries = [q for q in queries.captured_queries
                        if '"customers_customer"' in q["sql"]]
    assert len(customer_queries) == 2
    assert not Segment.objects.exists()


def test_preview_of_a_template_fills_in_its_params(operator):
    customer = CustomerFactory(external_id="big")
    CustomerMetrics.objects.create(customer=customer, ltv=Decimal("5000"), order_count=3,
                                   lifecycle_stage=LifecycleStage.ACTIVE,
                                   computed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    CustomerFactory(external_id="small")

    body = operator.post("/api/v1/segments/preview/",
                         {"template": "high_ltv", "params": {"amount": 4000}},
                         format="json").json()

    assert body["count"] == 1
    assert body["sample"][0]["external_id"] == "big"
    assert body["rule"] == condition("ltv", ">", 4000)


def test_preview_of_a_bad_rule_is_400_naming_it(operator):
    response = operator.post("/api/v1/segments/preview/",
                             {"rule": {"and": [SHANGHAI, {"==": [{"var": "nope"}, 1]}]}},
                             format="json")

    assert errors(response) == {"rule.and[1].==": 'unknown field "nope"'}


# --- members and the change log -------------------------------------------------------------

def test_members_are_paginated(operator):
    for i in range(3):
        CustomerFactory(external_id=f"m{i}", city="Shanghai", email=f"m{i}@example.com")
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    segment_evaluate(segment.pk)

    first = operator.get(f"/api/v1/segments/{segment.pk}/members/?page_size=2").json()
    second = operator.get(first["next"]).json()

    assert first["count"] == 3
    assert [m["external_id"] for m in first["results"] + second["results"]] == ["m0", "m1",
                                                                               "m2"]
    assert first["results"][0]["email"] == "m0@example.com"
    assert first["results"][0]["entered_at"]


@pytest.fixture
def churning_segment():
    """Three entered, then one left: four changes."""
    customers = [CustomerFactory(external_id=f"c{i}", city="Shanghai") for i in range(3)]
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    segment_evaluate(segment.pk)
    customers[1].city = "Beijing"
    customers[1].save()
    segment_evaluate(segment.pk)
    return segment


def test_the_change_log_reads_in_id_order_and_continues_after_an_id(operator,
                                                                     churning_segment):
    url = f"/api/v1/segments/{churning_segment.pk}/changes/"

    page = operator.get(f"{url}?limit=3").json()
    rest = operator.get(page["next"]).json()

    ids = [c["id"] for c in page["results"] + rest["results"]]
    assert ids == sorted(ids)
    assert [(c["customer"], c["kind"]) for c in page["results"] + rest["results"]] == [
        ("c0", "entered"), ("c1", "entered"), ("c2", "entered"), ("c1", "exited")]
    assert (rest["next"], rest["last_id"]) == (None, ids[-1])
    later = operator.get(f"{url}?after={rest['last_id']}").json()
    assert (later["results"], later["last_id"]) == ([], ids[-1])


def test_the_change_log_filters_by_kind(operator, churning_segment):
    body = operator.get(f"/api/v1/segments/{churning_segment.pk}/changes/?kind=exited").json()

    assert [(c["customer"], c["kind"]) for c in body["results"]] == [("c1", "exited")]


@pytest.mark.parametrize(("query", "field"), [
    ("kind=left", "kind"), ("after=first", "after"), ("limit=0", "limit"),
    ("limit=5000", "limit")])
def test_bad_change_log_queries_are_400_naming_the_parameter(operator, churning_segment,
                                                             query, field):
    response = operator.get(f"/api/v1/segments/{churning_segment.pk}/changes/?{query}")

    assert field in errors(response)


# --- templates and fields -------------------------------------------------------------------

def test_templates_are_listed_in_english_and_chinese_with_param_schemas(operator):
    templates = {t["key"]: t for t in operator.get("/api/v1/segment-templates/").json()}

    assert len(templates) >= 20
    champions = templates["rfm_important_value"]
    assert champions["name"] == {"en": "Important value (champions)", "zh-hans": "重要价值"}
    assert champions["description"]["zh-hans"] != champions["description"]["en"]
    dormant = templates["dormant_90"]
    assert dormant["params"]["properties"]["days"]["default"] == 90
    assert dormant["params"]["properties"]["days"]["type"] == "integer"
    assert dormant["rule"] == condition("recency_days", ">=", 90)
    assert templates["birthday_today"]["time_dependent"] is True
    assert templates["city"]["params"]["required"] == ["city"]


def test_fields_are_the_registry_with_labels_in_the_asked_language(operator):
    english = operator.get("/api/v1/segment-fields/").json()
    chinese = operator.get("/api/v1/segment-fields/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    with translation.override("en"):  # the last request left Chinese active in this thread
        assert english == describe()
    recency = {f["name"]: f for f in english["fields"]}["recency_days"]
    assert ">=" in [op["name"] for op in recency["operators"]]
    assert {f["name"]: f for f in chinese["fields"]}["city"]["label"] == "城市"


# --- the storefront's customer profile lists segments ---------------------------------------

def test_a_customers_profile_lists_the_active_segments_it_is_in(api):
    customer = CustomerFactory(external_id="c1", city="Shanghai", tags=["vip"])
    shanghai = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    vip = Segment.objects.create(name="VIP", rule=condition("tags", "has_tag", "vip"))
    paused = Segment.objects.create(name="Paused", rule=SHANGHAI)
    Segment.objects.create(name="Beijing", rule=condition("city", "==", "Beijing"))
    for segment in Segment.objects.all():
        segment_evaluate(segment.pk)
    paused.is_active = False
    paused.save()
    api.get("/api/v1/customers/nobody/")  # the connection prepares the key lookup once

    with CaptureQueriesContext(connection) as queries:
        body = api.get(f"/api/v1/customers/{customer.external_id}/").json()

    assert [(s["id"], s["name"]) for s in body["segments"]] == [(shanghai.pk, "Shanghai"),
                                                                (vip.pk, "VIP")]
    assert body["segments"][0]["entered_at"]
    assert len(queries) == 3  # the key, the customer with metrics, memberships with segments


# --- the OpenAPI document and the token command ---------------------------------------------

def test_the_openapi_schema_documents_every_operator_endpoint_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))

    schema = target.read_text()
    for path in ["/api/v1/segments/:", "/api/v1/segments/{id}/:",
                 "/api/v1/segments/preview/:", "/api/v1/segments/{id}/members/:",
                 "/api/v1/segments/{id}/changes/:",
                 "/api/v1/segments/{id}/explain/{external_id}/:",
                 "/api/v1/segment-templates/:", "/api/v1/segment-fields/:"]:
        assert f"  {path}\n" in schema


def test_create_operator_token_prints_a_token_that_works():
    staff_user("ops")
    out = io.StringIO()
    call_command("create_operator_token", "ops", stdout=out, stderr=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")

    assert client.get("/api/v1/segment-fields/").status_code == 200


def test_create_operator_token_refuses_users_who_are_not_staff():
    staff_user("clerk", is_staff=False)

    with pytest.raises(CommandError, match="not an active staff user"):
        call_command("create_operator_token", "clerk", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("create_operator_token", "ghost", stdout=io.StringIO())


def test_preview_samples_members_whose_ids_share_a_residue(operator):
    """The sample is the least id of each residue class modulo 20; members 20 ids apart share
    one, and are then read by a query of their own."""
    members = []
    for i in range(3):
        members.append(CustomerFactory(external_id=f"sh{i}", city="Shanghai"))
        CustomerFactory.create_batch(19, city="Beijing")
    assert len({m.pk % 20 for m in members}) == 1

    response = operator.post("/api/v1/segments/preview/", {"rule": SHANGHAI}, format="json")

    body = response.json()
    assert body["count"] == 3
    assert [c["external_id"] for c in body["sample"]] == ["sh0", "sh1", "sh2"]
