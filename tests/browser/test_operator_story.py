"""The operator's whole story in real Chromium, across the builder and the canvas: a marketer
signs in, builds the dormant segment from a template while the live count follows each edit,
draws the win-back campaign on it by dragging and connecting nodes, is refused a save with a
dangling node and fixes it, runs the dry run; a manager publishes; the stored graph is what
was drawn and a customer who turns dormant starts a journey.

The canvas's own details (undo, copy/paste, 200 nodes, ...) are in test_canvas.py and the
builder's in test_segment_builder.py; this test proves the pages work together."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, DeliverySettings, Journey
from customers.models import CustomerMetrics, LifecycleStage
from customers.roles import Role, role_group
from segments.models import Segment
from segments.services.evaluation import segment_evaluate
from tests.browser.test_canvas import (
    EDGES,
    NODES,
    configure,
    connect,
    drawn,
    drop,
    expected_graph,
    make_dormant,
    open_canvas,
)
from tests.campaigns.conftest import run
from tests.campaigns.factories import CouponDefinitionFactory, MessageTemplateFactory
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "story-test-pass"  # a throwaway user in the test database


def operator(username: str, role: Role):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    user.groups.add(role_group(role))
    return user


@pytest.fixture
def shop():
    """Three customers without an order for 90 days, one for 65; a coupon and two messages."""
    DeliverySettings.objects.create(pk=1, cap_messages=0, quiet_channels=[])
    for name in ("Bo", "Li", "Wu"):
        make_dormant(CustomerFactory(name=name, email_consent=True, sms_consent=True,
                                     phone="+8613800000000"))
    lately = CustomerFactory(name="Zhao", email_consent=True)
    now = timezone.now()
    CustomerMetrics.objects.create(customer=lately, lifecycle_stage=LifecycleStage.ACTIVE,
                                   order_count=1, ltv=Decimal("80"), monetary=Decimal("80"),
                                   last_order_at=now - dt.timedelta(days=65),
                                   first_order_at=now - dt.timedelta(days=65), computed_at=now)
    return {
        "definition": CouponDefinitionFactory(name="Win-back 15%", value=Decimal("15"),
                                              code_prefix="BACK"),
        "email": MessageTemplateFactory(name="We miss you", channel="email"),
        "reminder": MessageTemplateFactory(name="Last days", channel="sms", subject="",
                                           body="Last days for {{ coupon.code }}!"),
    }


def log_in(page, username: str, then: str) -> None:
    page.goto(then)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{then}")


def build_the_dormant_segment(page) -> Segment:
    page.goto("/segments/new/")
    page.wait_for_selector("[data-builder-ready]")
    page.get_by_label("Start from a template").select_option("dormant_90")
    count = page.locator("[data-preview-count]")
    expect(count).to_have_text("3")
    days = page.get_by_label("Recency (days since last paid order): value")
    days.fill("60")
    expect(count).to_have_text("4")  # Zhao, 65 days, comes in
    days.fill("90")
    expect(count).to_have_text("3")
    page.get_by_label("Name").fill("Dormant customers")
    page.get_by_role("button", name="Create segment").click()
    page.wait_for_url(re.compile(r"/segments/\d+/$"))
    segment = Segment.objects.get(name="Dormant customers")
    assert segment.rule == {">=": [{"var": "recency_days"}, 90]}
    segment_evaluate(segment.pk)  # the worker's job; the campaign's trigger reads its members
    return segment


def draw_the_win_back(page) -> Campaign:
    page.goto("/campaigns/new/")
    page.get_by_label("Campaign name").fill("Dormant win-back")
    page.get_by_role("button", name="Create and open the canvas").click()
    page.locator('.canvas-app[data-ready="true"]').wait_for()
    for node_type, node_id, x, y in NODES:
        drop(page, node_type, x, y)
        page.locator(f'.react-flow__node[data-id="{node_id}"]').wait_for()
    for source, port, target in EDGES:
        connect(page, source, port, target)
    return Campaign.objects.get(name="Dormant win-back")


def test_a_marketer_builds_the_segment_draws_the_win_back_and_a_manager_publishes_it(
        page, shop, screenshot):
    page.set_viewport_size({"width": 1280, "height": 800})
    operator("marketer", Role.MARKETER)
    operator("manager", Role.MANAGER)
    log_in(page, "marketer", then="/segments/")

    shop["segment"] = build_the_dormant_segment(page)
    screenshot("segment")
    campaign = draw_the_win_back(page)
    configure(page, shop)

    page.get_by_role("button", name="Save draft").click()  # the SMS reminder leads nowhere
    reminder = page.locator('.react-flow__node[data-id="send_message-2"]')
    reminder.locator(".flow-node-problems").wait_for()
    assert Campaign.objects.get(pk=campaign.pk).draft_graph == {}
    connect(page, "send_message-2", "next", "exit-3")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved.").wait_for()
    assert reminder.locator(".flow-node-problems").count() == 0

    page.get_by_role("button", name="Dry run").click()
    trigger = page.locator('.react-flow__node[data-id="segment_entered-1"] [data-counts]')
    trigger.wait_for()
    assert "3 entered" in trigger.inner_text()
    assert page.get_by_role("button", name="Publish").count() == 0
    screenshot("dry-run")

    page.get_by_role("button", name="Log out").click()
    log_in(page, "manager", then=f"/campaigns/{campaign.pk}/")
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Publish").click()
    page.locator('[data-status="active"]').wait_for()

    stored = page.request.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert drawn(stored["graph"]) == expected_graph(shop)
    assert stored["status"] == "active"

    newcomer = CustomerFactory(name="Ma", email_consent=True)
    make_dormant(newcomer)
    segment_evaluate(shop["segment"].pk)
    run()
    assert Journey.objects.get(campaign=campaign).customer == newcomer
    screenshot("published")
