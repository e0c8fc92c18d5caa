"""The operator API for results and the dry run, as an operator (or a storefront that must
be refused) sees it: GET /api/v1/campaigns/{id}/results/, POST /api/v1/campaigns/{id}/simulate/.
"""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from campaigns.models import Coupon, Delivery, Journey
from tests.campaigns import builders as b
from tests.campaigns.factories import CampaignFactory, CouponDefinitionFactory, chain, edge, node
from tests.customers.factories import CustomerFactory
from tests.segments.operators import errors, staff_user, token_client

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
GRAPH = chain(node("start", "scheduled", segment=1, at="2026-03-02T10:00:00+00:00"),
              node("mail", "send_message", channel="email", template=1),
              node("end", "exit"))


@pytest.fixture
def operator():
    return token_client(staff_user())


@pytest.fixture
def campaign():
    """Two treated customers (one spent 30.00 after a mail) and two held out (one spent
    10.00)."""
    campaign = CampaignFactory(goal={"kind": "order"}, holdout_percent=Decimal("50"))
    v1 = b.version(campaign, GRAPH, at=T0)
    buyer, idle, held_buyer, held_idle = (CustomerFactory() for _ in range(4))
    for customer in (buyer, idle):
        walk = b.journey(v1, customer, entered_at=T0)
        b.steps(walk, ("mail", "next", T0), ("end", "", T0))
        b.delivery(walk, "mail", step=1, status=Delivery.Status.SENT, sent_at=T0)
    for customer in (held_buyer, held_idle):
        b.journey(v1, customer, entered_at=T0, status=Journey.Status.HOLDOUT, node="mail")
    b.order(buyer, T0 + DAY, "30.00")
    b.order(held_buyer, T0 + DAY, "10.00")
    return campaign


ENDPOINTS = [("get", "/api/v1/campaigns/{}/results/"), ("post", "/api/v1/campaigns/{}/simulate/")]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_storefront_key_is_refused(api, campaign, method, url):
    response = getattr(api, method)(url.format(campaign.pk), format="json")

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_user_who_is_not_staff_is_forbidden(campaign, method, url):
    client = token_client(staff_user("clerk", is_staff=False))

    response = getattr(client, method)(url.format(campaign.pk), format="json")

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_an_unknown_campaign_is_not_found(operator, method, url):
    response = getattr(operator, method)(url.format(999), format="json")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert "999" in response.json()["message"]


# --- results ----------------------------------------------------------------------------------

def test_results_show_groups_uplift_and_nodes(operator, campaign):
    response = operator.get(f"/api/v1/campaigns/{campaign.pk}/results/")

    body = response.json()
    assert response.status_code == 200
    assert body["journeys"]["entered"] == 4
    assert body["treated"] == {"customers": 2, "conversions": 1, "conversion_rate": 0.5,
                               "revenue": "30.00", "arpu": "15.00"}
    assert (body["holdout"]["arpu"], body["uplift"]["arpu"]["difference"]) == ("5.00", "10.00")
    assert body["attribution"] == {"touched": 2, "orders": 1, "revenue": "30.00"}
    assert [(n["id"], n["entered"], n["messages"]["sent"]) for n in body["nodes"]] == [
        ("start", 4, 0), ("mail", 2, 2), ("end", 2, 0)]


def test_results_of_one_version(operator, campaign):
    v2 = b.version(campaign, GRAPH, number=2, at=T0 + DAY)
    b.journey(v2, CustomerFactory(), entered_at=T0 + DAY)

    response = operator.get(f"/api/v1/campaigns/{campaign.pk}/results/", {"version": 2})

    assert (response.json()["version"], response.json()["journeys"]["entered"]) == (2, 1)


def test_results_of_a_version_the_campaign_does_not_have_are_not_found(operator, campaign):
    response = operator.get(f"/api/v1/campaigns/{campaign.pk}/results/", {"version": 5})

    assert response.status_code == 404
    assert "version 5" in response.json()["message"]


@pytest.mark.parametrize("version", ["two", "0"])
def test_a_bad_version_is_named(operator, campaign, version):
    response = operator.get(f"/api/v1/campaigns/{campaign.pk}/results/", {"version": version})

    assert set(errors(response)) == {"version"}


# --- the dry run ------------------------------------------------------------------------------

def _draft(**config) -> dict:
    from segments.models import Segment, SegmentMembership

    segment = Segment.objects.create(name="all", rule={"==": [{"var": "city"}, "X"]})
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=CustomerFactory(), entered_at=T0)
        for _ in range(3))
    graph = chain(node("start", "segment_entered", segment=segment.pk),
                  node("gift", "issue_coupon", **config), node("end", "exit"),
                  ports={"gift": "issued"})
    graph["edges"].append(edge("gift", "end", "not_issued"))
    return graph


def test_simulate_shows_who_would_enter_and_what_it_would_spend(operator):
    definition = CouponDefinitionFactory(kind="fixed", value=Decimal("5.00"), max_codes=2)
    campaign = CampaignFactory(draft_graph=_draft(definition=definition.pk))

    response = operator.post(f"/api/v1/campaigns/{campaign.pk}/simulate/")

    body = response.json()
    assert response.status_code == 200
    assert (body["entering"], body["coupons"], body["discount_budget"]) == (3, 2, "10.00")
    gift = next(n for n in body["nodes"] if n["id"] == "gift")
    assert (gift["ports"], gift["not_issued_by_reason"]) == (
        {"issued": 2, "not_issued": 1}, {"budget": 1})
    assert body["notes"][0] == "Nothing was written and nothing was sent."
    assert Coupon.objects.count() == 0


def test_simulate_names_each_problem_of_a_draft_that_could_not_be_published(operator):
    campaign = CampaignFactory(draft_graph=_draft(definition=987654))

    response = operator.post(f"/api/v1/campaigns/{campaign.pk}/simulate/")

    assert errors(response) == {
        "draft_graph.nodes[gift].config.definition": "coupon definition 987654 does not exist"}


def test_simulate_refuses_an_empty_draft(operator):
    response = operator.post(f"/api/v1/campaigns/{CampaignFactory().pk}/simulate/")

    assert errors(response) == {"draft_graph.nodes": "a list of at least one node is required"}


# --- docs -------------------------------------------------------------------------------------

def test_both_endpoints_are_in_the_openapi_schema():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                 stdout=out)

    paths = json.loads(out.getvalue())["paths"]
    assert paths["/api/v1/campaigns/{id}/results/"]["get"]["operationId"] == "campaigns_results"
    simulate = paths["/api/v1/campaigns/{id}/simulate/"]["post"]
    assert simulate["operationId"] == "campaigns_simulate"
    assert {"200", "400", "401", "403", "404"} <= set(simulate["responses"])
