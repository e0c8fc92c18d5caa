"""Operator roles: viewer < marketer < manager < admin, on pages and on the operator API,
and logins locked after repeated failures."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from customers.roles import Role, role_of
from tests.campaigns.factories import chain, node
from tests.segments.operators import staff_user, token_client

pytestmark = pytest.mark.django_db

GRAPH = chain(node("start", "event", name="cart_add"), node("end", "exit"))
SEGMENT = {"name": "Paris", "rule": {"==": [{"var": "city"}, "Paris"]}}


@pytest.fixture
def as_role():
    """An operator API client for a role (one operator per role)."""
    clients = {}

    def client(role: Role):
        if role not in clients:
            clients[role] = token_client(staff_user(role.group, role=role))
        return clients[role]

    return client


def test_a_viewer_reads_but_cannot_write(as_role):
    viewer = as_role(Role.VIEWER)

    assert viewer.get("/api/v1/segments/").status_code == 200
    refused = viewer.post("/api/v1/segments/", SEGMENT, format="json")
    assert refused.status_code == 403
    assert refused.json()["message"] == "This needs the Marketer role; yours is Viewer."


def test_a_viewer_may_preview_a_rule_and_check_a_graph(as_role):
    viewer = as_role(Role.VIEWER)

    assert viewer.post("/api/v1/segments/preview/", {"rule": SEGMENT["rule"]},
                       format="json").status_code == 200
    assert viewer.post("/api/v1/flow-graphs/check/", {"graph": GRAPH},
                       format="json").status_code == 200


def test_a_marketer_drafts_but_a_manager_publishes(as_role):
    marketer, manager = as_role(Role.MARKETER), as_role(Role.MANAGER)
    campaign = marketer.post("/api/v1/campaigns/", {"name": "Rescue", "graph": GRAPH},
                             format="json").json()

    assert marketer.post(f"/api/v1/campaigns/{campaign['id']}/publish/").status_code == 403
    assert manager.post(f"/api/v1/campaigns/{campaign['id']}/publish/").status_code == 201
    assert marketer.post(f"/api/v1/campaigns/{campaign['id']}/pause/").status_code == 403


def test_coupons_are_a_managers_and_webhooks_an_admins(as_role):
    definition = {"name": "10% off", "kind": "percentage", "value": "10", "valid_days": 7}

    assert as_role(Role.MARKETER).post("/api/v1/coupon-definitions/", definition,
                                       format="json").status_code == 403
    assert as_role(Role.MANAGER).post("/api/v1/coupon-definitions/", definition,
                                      format="json").status_code == 201
    hook = {"name": "CRM", "url": "https://crm.example.com/hook"}
    assert as_role(Role.MANAGER).post("/api/v1/webhook-endpoints/", hook,
                                      format="json").status_code == 403
    assert as_role(Role.ADMIN).post("/api/v1/webhook-endpoints/", hook,
                                    format="json").status_code == 201


def test_a_user_without_a_role_sees_no_page(client):
    client.force_login(get_user_model().objects.create_user("nobody"))

    assert client.get("/").status_code == 403
    assert client.get("/customers/").status_code == 403


def test_a_signed_out_visitor_is_sent_to_the_login(client):
    response = client.get("/customers/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_highest_of_several_roles_counts_and_superusers_are_admins():
    user = staff_user("both", role=Role.VIEWER)
    user.groups.add(staff_user("other", role=Role.MANAGER).groups.get())
    superuser = get_user_model().objects.create_superuser("root", "r@example.com", None)

    assert role_of(get_user_model().objects.get(pk=user.pk)) == Role.MANAGER
    assert role_of(superuser) == Role.ADMIN


def test_create_operator_gives_a_login_its_role():
    out = io.StringIO()

    call_command("create_operator", "mia", "--role", "marketer", stdout=out)
    call_command("create_operator", "mia", "--role", "manager", stdout=io.StringIO())

    assert out.getvalue().startswith("Operator mia created with the marketer role. Password: ")
    mia = get_user_model().objects.get(username="mia")
    assert (role_of(mia), mia.is_staff) == (Role.MANAGER, False)


def test_repeated_failed_logins_lock_the_account(client):
    get_user_model().objects.create_user("op", password="right-password-1")
    for _attempt in range(5):
        client.post("/accounts/login/", {"username": "op", "password": "wrong"})

    locked = client.post("/accounts/login/", {"username": "op",
                                              "password": "right-password-1"})

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
