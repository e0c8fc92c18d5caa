"""The campaign pages (no browser): who may open them, what they list and what they refuse."""

import json
import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_publish, campaign_save
from customers.roles import Role, role_group
from tests.campaigns.factories import CampaignFactory, chain, node

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_role(client):
    def sign_in(role: Role | None):
        user = get_user_model().objects.create_user(f"user-{role.group if role else 'none'}")
        if role is not None:
            user.groups.add(role_group(role))
        client.force_login(user)
        return client

    return sign_in


def props(response) -> dict:
    found = re.search(r'<script id="canvas-props" type="application/json">(.*?)</script>',
                      response.content.decode())
    return json.loads(unescape(found.group(1)))


def names(response) -> list[str]:
    rows = re.findall(r'<td><a href="/campaigns/\d+/">([^<]+)</a>', response.content.decode())
    return [unescape(name) for name in rows]


def test_signed_out_visitors_go_to_the_login_page(client):
    for url in (reverse("campaign-list"), reverse("campaign-create"),
                reverse("campaign-canvas", args=[1])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_a_user_without_a_role_is_refused(as_role):
    client = as_role(None)
    assert client.get(reverse("campaign-list")).status_code == 403


def test_a_viewer_sees_the_list_without_the_new_campaign_button(as_role):
    CampaignFactory(name="Win-back")
    response = as_role(Role.VIEWER).get(reverse("campaign-list"))
    assert response.status_code == 200
    assert names(response) == ["Win-back"]
    assert reverse("campaign-create") not in response.content.decode()


def test_a_marketer_sees_the_new_campaign_button(as_role):
    response = as_role(Role.MARKETER).get(reverse("campaign-list"))
    assert reverse("campaign-create") in response.content.decode()


def test_the_list_filters_by_name_and_status(as_role):
    client = as_role(Role.VIEWER)
    CampaignFactory(name="Dormant win-back")
    CampaignFactory(name="Birthday", status=Campaign.Status.PAUSED)
    CampaignFactory(name="Second order", description="win-back for new buyers")
    assert sorted(names(client.get(reverse("campaign-list"), {"q": "win-back"}))) == [
        "Dormant win-back", "Second order"]
    assert names(client.get(reverse("campaign-list"), {"status": "paused"})) == ["Birthday"]


def test_an_htmx_request_gets_only_the_table(as_role):
    CampaignFactory(name="Birthday")
    response = as_role(Role.VIEWER).get(reverse("campaign-list"), {"q": "birth"},
                                        HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert names(response) == ["Birthday"]
    assert "<html" not in body


def test_htmx_restoring_history_gets_the_whole_page(as_role):
    CampaignFactory(name="Birthday")
    response = as_role(Role.VIEWER).get(reverse("campaign-list"), {"q": "birth"},
                                        HTTP_HX_REQUEST="true",
                                        HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()
    assert names(response) == ["Birthday"]


def test_an_unknown_status_is_a_400_that_says_so(as_role):
    response = as_role(Role.VIEWER).get(reverse("campaign-list"), {"status": "running"})
    assert response.status_code == 400
    assert "running" in response.content.decode()


def test_the_list_is_paginated(as_role):
    for n in range(30):
        CampaignFactory(name=f"c-{n:02d}")
    client = as_role(Role.VIEWER)
    first = client.get(reverse("campaign-list"))
    second = client.get(reverse("campaign-list"), {"page": 2})
    assert len(names(first)) == 25
    assert len(names(second)) == 5
    assert "Page 2 of 2 (30 campaigns)" in second.content.decode()


def test_a_viewer_may_not_create_a_campaign(as_role):
    client = as_role(Role.VIEWER)
    assert client.get(reverse("campaign-create")).status_code == 403
    assert client.post(reverse("campaign-create"), {"name": "x"}).status_code == 403
    assert not Campaign.objects.exists()


def test_a_marketer_creates_a_draft_and_lands_on_its_canvas(as_role):
    client = as_role(Role.MARKETER)
    response = client.post(reverse("campaign-create"), {"name": " Win-back ",
                                                       "description": "dormant"})
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaign-canvas", args=[campaign.pk])
    assert (campaign.name, campaign.status, campaign.draft_graph) == ("Win-back", "draft", {})
    assert campaign.created_by.username == "user-marketer"


def test_a_taken_name_is_a_form_error(as_role):
    CampaignFactory(name="Win-back")
    response = as_role(Role.MARKETER).post(reverse("campaign-create"), {"name": "Win-back"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Campaign.objects.count() == 1


def test_the_canvas_page_says_what_the_role_may_do(as_role):
    campaign = CampaignFactory()
    url = reverse("campaign-canvas", args=[campaign.pk])
    viewer = props(as_role(Role.VIEWER).get(url))
    assert (viewer["role"], viewer["canEdit"], viewer["canPublish"]) == ("viewer", False, False)
    assert viewer["campaignId"] == campaign.pk
    marketer = props(as_role(Role.MARKETER).get(url))
    assert (marketer["canEdit"], marketer["canPublish"]) == (True, False)
    manager = props(as_role(Role.MANAGER).get(url))
    assert (manager["canEdit"], manager["canPublish"]) == (True, True)


def test_an_archived_campaign_opens_read_only(as_role):
    campaign = CampaignFactory(status=Campaign.Status.ARCHIVED)
    page = props(as_role(Role.MANAGER).get(reverse("campaign-canvas", args=[campaign.pk])))
    assert (page["canEdit"], page["canPublish"]) == (False, False)


def test_an_unknown_campaign_is_a_404(as_role):
    response = as_role(Role.VIEWER).get(reverse("campaign-canvas", args=[999999]))
    assert response.status_code == 404


def test_a_published_campaign_lists_its_version(as_role):
    campaign = campaign_save(Campaign(name="Tagger"), draft_graph=chain(
        node("start", "event", name="signup"), node("tag", "add_tag", tag="new"),
        node("end", "exit")))
    campaign_publish(campaign)
    body = as_role(Role.VIEWER).get(reverse("campaign-list")).content.decode()
    assert "v1" in body
    assert "Active" in body
