"""The back office for campaigns: every page loads, the draft is checked as the API checks it,
and the state actions go through the same services."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import Campaign
from tests.campaigns.conftest import T0, run
from tests.campaigns.factories import chain, node
from tests.customers.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db

GRAPH = chain(node("start", "event", name="cart_add"), node("w", "wait", hours=1),
              node("end", "exit"))


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", None)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["campaign", "campaignversion", "journey"])
def test_the_pages_load_with_a_running_campaign(admin_client, publish, model):
    campaign = publish(GRAPH)
    EventFactory(customer=CustomerFactory(), name="cart_add", occurred_at=T0)
    run(T0)
    journey = campaign.journeys.get()
    rows = {"campaign": campaign, "campaignversion": campaign.current_version,
            "journey": journey}

    listing = admin_client.get(reverse(f"admin:campaigns_{model}_changelist"))
    page = admin_client.get(reverse(f"admin:campaigns_{model}_change", args=[rows[model].pk]))

    assert listing.status_code == 200
    assert page.status_code == 200


def test_a_bad_draft_is_refused_with_the_node_named(admin_client):
    graph = chain(node("start", "event", name="cart_add"), node("w", "wait", hours=0),
                  node("end", "exit"))

    response = admin_client.post(reverse("admin:campaigns_campaign_add"), {
        "name": "Rescue", "draft_graph": json.dumps(graph), "entry": "once",
        "holdout_percent": "0", "goal": "{}", "goal_days": "7", "attribution_days": "7",
        "priority": "0"})

    assert response.status_code == 200
    assert "nodes[w].config: the duration must be between" in response.content.decode()
    assert not Campaign.objects.exists()


def test_publish_and_pause_from_the_list(admin_client):
    campaign = Campaign.objects.create(name="Rescue", draft_graph=GRAPH)
    changelist = reverse("admin:campaigns_campaign_changelist")

    admin_client.post(changelist, {"action": "campaign_publish",
                                   "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert (campaign.status, campaign.current_version.number) == ("active", 1)

    admin_client.post(changelist, {"action": "campaign_pause", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == "paused"
