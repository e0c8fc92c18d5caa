"""The operator API for campaigns as an operator (or a refused storefront) sees it."""

import datetime as dt

import pytest
from django.utils import timezone, translation

from campaigns.models import Campaign, CampaignVersion, Journey
from tests.campaigns.conftest import run
from tests.campaigns.factories import chain, edge, node
from tests.customers.factories import CustomerFactory, EventFactory
from tests.segments.operators import errors, staff_user, token_client

pytestmark = pytest.mark.django_db

GRAPH = chain(node("start", "event", name="cart_add"), node("w", "wait", hours=1),
              node("end", "exit"))


@pytest.fixture
def operator():
    return token_client(staff_user())


def _create(client, **body):
    response = client.post("/api/v1/campaigns/", {"name": "Cart rescue", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize(("method", "url"), [
    ("get", "/api/v1/campaigns/"), ("post", "/api/v1/campaigns/"),
    ("get", "/api/v1/campaigns/1/"), ("post", "/api/v1/campaigns/1/publish/"),
    ("post", "/api/v1/campaigns/1/pause/"), ("get", "/api/v1/campaigns/1/journeys/"),
    ("get", "/api/v1/flow-node-types/"), ("post", "/api/v1/flow-graphs/check/"),
])
def test_a_storefront_key_is_refused(api, method, url):
    response = getattr(api, method)(url, {}, format="json")

    assert response.status_code == 401


def test_create_read_and_list(operator):
    created = _create(operator, graph=GRAPH, holdout_percent="10", goal={"kind": "order"})

    assert created["status"] == "draft"
    assert created["current_version"] is None
    assert created["graph"] == GRAPH
    assert operator.get(f"/api/v1/campaigns/{created['id']}/").json()["holdout_percent"] == \
        "10.00"
    assert [c["name"] for c in operator.get("/api/v1/campaigns/").json()["results"]] == \
        ["Cart rescue"]


def test_an_invalid_graph_is_refused_naming_the_node(operator):
    graph = chain(node("start", "event", name="cart_add"), node("w", "wait", hours=0),
                  node("end", "exit"))

    response = operator.post("/api/v1/campaigns/", {"name": "x", "graph": graph}, format="json")

    assert response.status_code == 400
    assert errors(response) == {
        "graph.nodes[w].config": "the duration must be between 0:01:00 and 365 days"}
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"entry": "again_after"}, "reentry_days"),
    ({"holdout_percent": "101"}, "holdout_percent"),
    ({"goal": {"kind": "visit"}}, "goal"),
    ({"goal": {"kind": "event"}}, "goal"),
    ({"colour": "red"}, "colour"),
])
def test_bad_fields_are_named(operator, body, field):
    response = operator.post("/api/v1/campaigns/", {"name": "x", **body}, format="json")

    assert response.status_code == 400
    assert field in errors(response)


def test_publish_freezes_a_version_and_activates(operator):
    campaign = _create(operator, graph=GRAPH)

    response = operator.post(f"/api/v1/campaigns/{campaign['id']}/publish/")

    assert response.status_code == 201
    assert response.json()["number"] == 1
    detail = operator.get(f"/api/v1/campaigns/{campaign['id']}/").json()
    assert (detail["status"], detail["current_version"]) == ("active", 1)


def test_a_published_version_never_changes_when_the_draft_does(operator):
    campaign = _create(operator, graph=GRAPH)
    operator.post(f"/api/v1/campaigns/{campaign['id']}/publish/")
    changed = chain(node("start", "event", name="cart_add"), node("end", "exit"))

    operator.patch(f"/api/v1/campaigns/{campaign['id']}/", {"graph": changed}, format="json")

    versions = operator.get(f"/api/v1/campaigns/{campaign['id']}/versions/").json()
    assert [v["graph"] for v in versions] == [GRAPH]
    assert operator.post(f"/api/v1/campaigns/{campaign['id']}/publish/").json()["number"] == 2


def test_a_change_from_a_stale_copy_is_refused_and_writes_nothing(operator):
    campaign = _create(operator, graph=GRAPH)
    url = f"/api/v1/campaigns/{campaign['id']}/"
    read = operator.get(url)
    assert read["ETag"] == f'"{read.json()["updated_at"]}"'
    shorter = chain(node("start", "event", name="cart_add"), node("end", "exit"))
    first = operator.patch(url, {"graph": shorter}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert first.status_code == 200, first.content
    assert first["ETag"] != read["ETag"]

    # A second operator, still on the first read, saves over it.
    stale = operator.patch(url, {"graph": GRAPH}, format="json", HTTP_IF_MATCH=read["ETag"])

    assert stale.status_code == 412
    assert stale.json()["code"] == "changed_elsewhere"
    assert "changed since you read it" in stale.json()["message"]
    assert operator.get(url).json()["graph"] == shorter
    again = operator.patch(url, {"graph": GRAPH}, format="json", HTTP_IF_MATCH=first["ETag"])
    assert again.status_code == 200
    assert again.json()["graph"] == GRAPH


@pytest.mark.parametrize("if_match", ['"yesterday"', '"2020-01-01T00:00:00Z"', "garbage"])
def test_an_if_match_that_names_no_read_of_the_campaign_is_refused(operator, if_match):
    campaign = _create(operator, graph=GRAPH)

    response = operator.patch(f"/api/v1/campaigns/{campaign['id']}/", {"name": "Renamed"},
                              format="json", HTTP_IF_MATCH=if_match)

    assert response.status_code == 412
    assert Campaign.objects.get(pk=campaign["id"]).name == "Cart rescue"


def test_without_if_match_or_with_a_star_the_last_write_wins(operator):
    campaign = _create(operator, graph=GRAPH)
    url = f"/api/v1/campaigns/{campaign['id']}/"

    assert operator.patch(url, {"name": "One"}, format="json").status_code == 200
    assert operator.patch(url, {"name": "Two"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    assert operator.get(url).json()["name"] == "Two"


def test_publishing_without_a_graph_names_the_problem(operator):
    campaign = _create(operator)

    response = operator.post(f"/api/v1/campaigns/{campaign['id']}/publish/")

    assert response.status_code == 400
    assert errors(response) == {"graph.nodes": "a list of at least one node is required"}
    assert not CampaignVersion.objects.exists()


def test_a_reference_deleted_after_saving_stops_publishing(operator):
    from segments.models import Segment
    from segments.rules import condition

    segment = Segment.objects.create(name="s", rule=condition("city", "==", "Paris"))
    graph = chain(node("start", "segment_entered", segment=segment.pk), node("end", "exit"))
    campaign = _create(operator, graph=graph)
    segment_id = segment.pk
    segment.delete()

    response = operator.post(f"/api/v1/campaigns/{campaign['id']}/publish/")

    assert response.status_code == 400
    assert errors(response) == {
        "graph.nodes[start].config.segment": f"segment {segment_id} does not exist"}


def test_pause_resume_and_archive_follow_the_states(operator):
    campaign = _create(operator, graph=GRAPH)
    url = f"/api/v1/campaigns/{campaign['id']}"

    assert operator.post(f"{url}/pause/").status_code == 409  # a draft
    operator.post(f"{url}/publish/")
    assert operator.post(f"{url}/pause/").json()["status"] == "paused"
    assert operator.post(f"{url}/pause/").status_code == 409
    assert operator.post(f"{url}/resume/").json()["status"] == "active"
    assert operator.post(f"{url}/archive/").json()["status"] == "archived"
    refused = operator.post(f"{url}/publish/")
    assert refused.status_code == 409
    assert refused.json()["message"] == "an archived campaign cannot be published"


def test_only_a_never_published_campaign_can_be_deleted(operator):
    draft = _create(operator)
    published = _create(operator, name="Other", graph=GRAPH)
    operator.post(f"/api/v1/campaigns/{published['id']}/publish/")

    assert operator.delete(f"/api/v1/campaigns/{draft['id']}/").status_code == 204
    assert operator.delete(f"/api/v1/campaigns/{published['id']}/").status_code == 409


def test_journeys_are_listed_with_where_they_wait(operator, publish):
    now = timezone.now()
    campaign = publish(GRAPH, at=now - dt.timedelta(hours=1))
    shopper = CustomerFactory(external_id="shopper-1")
    EventFactory(customer=shopper, name="cart_add", occurred_at=now)
    run(now)

    response = operator.get(f"/api/v1/campaigns/{campaign.pk}/journeys/?node=w")

    [journey] = response.json()["results"]
    assert (journey["customer"], journey["node"], journey["status"], journey["version"]) == \
        ("shopper-1", "w", "active", 1)
    assert journey["waiting_until"] is not None
    assert operator.get(f"/api/v1/campaigns/{campaign.pk}/journeys/?status=completed") \
        .json()["count"] == 0
    assert Journey.objects.count() == 1


def test_the_graph_check_marks_the_nodes(operator):
    graph = chain(node("start", "event", name="cart_add"),
                  node("w", "wait_for_event", kind="order", timeout={"days": 1}),
                  node("end", "exit"), ports={"w": "happened"})

    response = operator.post("/api/v1/flow-graphs/check/", {"graph": graph}, format="json")

    assert response.json() == {"valid": False, "problems": [{
        "field": "graph.nodes[w]", "node": "w",
        "message": "port 'timeout' is not connected (connect it to an Exit node to end "
                   "there)"}]}
    graph["edges"].append(edge("w", "end", "timeout"))
    assert operator.post("/api/v1/flow-graphs/check/", {"graph": graph},
                         format="json").json() == {"valid": True, "problems": []}


def test_the_palette_lists_every_node_type_with_its_schema(operator):
    types = {t["type"]: t for t in operator.get("/api/v1/flow-node-types/").json()}

    assert set(types) >= {"segment_entered", "segment_exited", "lifecycle_changed", "event",
                          "order_placed", "scheduled", "wait", "wait_until", "wait_for_date",
                          "wait_for_event", "condition", "split", "issue_coupon",
                          "send_message", "add_tag", "remove_tag", "set_attribute",
                          "call_webhook", "exit"}
    assert types["wait_for_event"]["ports"] == ["happened", "timeout"]
    assert types["wait"]["config_schema"]["properties"]["hours"]["type"] == "integer"
    assert next(iter(types)) == "segment_entered"  # triggers first


def test_the_palette_speaks_chinese(operator):
    with translation.override("zh-hans"):
        response = operator.get("/api/v1/flow-node-types/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    labels = {t["type"]: t["label"] for t in response.json()}
    assert labels["wait"] != "Wait"
