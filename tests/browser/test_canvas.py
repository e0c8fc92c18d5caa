"""The campaign canvas in real Chromium: a marketer draws the dormant win-back by dragging node
types from the palette and connecting ports with the mouse, configures the nodes in the side
panel, is refused a save with a dangling node and fixes it, runs the dry run; a manager
publishes; the stored graph is what was drawn and journeys start. A viewer cannot edit. A
200-node canvas opens and its nodes and view can be dragged; its frame times are recorded in
var/test-artifacts/canvas-bench.json, not asserted (they follow the machine)."""

import datetime as dt
import itertools
import json
import re
import statistics
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, DeliverySettings, Journey
from campaigns.services.campaigns import campaign_save
from customers.models import CustomerMetrics, LifecycleStage
from customers.roles import Role, role_group
from segments.models import Segment
from segments.rules import condition
from segments.services.evaluation import segment_evaluate
from tests.browser.conftest import accessibility_violations
from tests.campaigns.conftest import run
from tests.campaigns.factories import CouponDefinitionFactory, MessageTemplateFactory
from tests.conftest import wait_for
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BENCH = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "canvas-bench.json"


def operator(role: Role):
    user = get_user_model().objects.create_user(role.group)
    user.groups.add(role_group(role))
    return user


def make_dormant(customer) -> None:
    now = timezone.now()
    CustomerMetrics.objects.update_or_create(customer=customer, defaults={
        "lifecycle_stage": LifecycleStage.DORMANT, "order_count": 2, "ltv": Decimal("120"),
        "monetary": Decimal("120"), "last_order_at": now - dt.timedelta(days=90),
        "first_order_at": now - dt.timedelta(days=300), "computed_at": now})


@pytest.fixture
def shop(db):
    """A dormant segment of three customers, a personal 15% coupon, an email and an SMS."""
    DeliverySettings.objects.create(pk=1, cap_messages=0, quiet_channels=[])
    for name in ("Bo", "Li", "Wu"):
        make_dormant(CustomerFactory(name=name, email_consent=True, sms_consent=True,
                                     phone="+8613800000000"))
    segment = Segment.objects.create(name="Dormant customers",
                                     rule=condition("lifecycle_stage", "==", "dormant"))
    segment_evaluate(segment.pk)
    definition = CouponDefinitionFactory(name="Win-back 15%", value=Decimal("15"),
                                         code_prefix="BACK")
    email = MessageTemplateFactory(name="We miss you", channel="email")
    reminder = MessageTemplateFactory(name="Last days", channel="sms", subject="",
                                      body="Last days for {{ coupon.code }}!")
    return {"segment": segment, "definition": definition, "email": email,
            "reminder": reminder}


# --- drawing with the mouse ------------------------------------------------------------------

def open_canvas(page, url: str) -> None:
    page.goto(url)
    page.locator('.canvas-app[data-ready="true"]').wait_for()


def drop(page, node_type: str, x: float, y: float) -> None:
    """Drag the palette's node type onto the canvas, its top-left corner at (x, y) of the
    pane."""
    page.locator(f'.palette-item[data-type="{node_type}"]').drag_to(
        page.locator(".canvas-flow .react-flow__pane"), target_position={"x": x, "y": y})


def centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page, source: str, port: str, target: str) -> None:
    """Press on the source node's port and release on the target node's input."""
    start = centre(page.locator(
        f'.react-flow__node[data-id="{source}"] .react-flow__handle[data-handleid="{port}"]'))
    end = centre(page.locator(f'.react-flow__node[data-id="{target}"] .react-flow__handle.target'))
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    page.locator(f'.react-flow__edge[data-id="e:{source}:{port}:{target}"]').wait_for(
        state="attached")


def field(panel, label: str):
    """The panel's input of this label (a required one's label ends in a hidden " *")."""
    return panel.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def select_node(page, node_id: str):
    page.locator(f'.react-flow__node[data-id="{node_id}"] .flow-node-title').click()
    panel = page.locator(".canvas-panel")
    panel.locator(f'[id^="cfg-{node_id}-"], #label-{node_id}').first.wait_for()
    return panel


# The win-back as drawn: (palette type, node id the canvas gives it, where it is dropped).
NODES = [
    ("segment_entered", "segment_entered-1", 30, 10),
    ("wait_until", "wait_until-1", 30, 110),
    ("issue_coupon", "issue_coupon-1", 30, 210),
    ("exit", "exit-1", 250, 210),
    ("send_message", "send_message-1", 30, 320),
    ("wait_for_event", "wait_for_event-1", 250, 320),
    ("exit", "exit-2", 470, 320),
    ("send_message", "send_message-2", 250, 430),
    ("exit", "exit-3", 470, 430),
]
EDGES = [
    ("segment_entered-1", "next", "wait_until-1"),
    ("wait_until-1", "next", "issue_coupon-1"),
    ("issue_coupon-1", "issued", "send_message-1"),
    ("issue_coupon-1", "not_issued", "exit-1"),
    ("send_message-1", "next", "wait_for_event-1"),
    ("wait_for_event-1", "happened", "exit-2"),
    ("wait_for_event-1", "timeout", "send_message-2"),
    # send_message-2 -> exit-3 is drawn after the refused save
]


def configure(page, shop) -> None:
    panel = select_node(page, "segment_entered-1")
    field(panel, "Segment").select_option(label="Dormant customers")
    panel = select_node(page, "wait_until-1")
    field(panel, "Time of day").fill("10:00")
    panel = select_node(page, "issue_coupon-1")
    field(panel, "Coupon definition").select_option(label="Win-back 15%")
    assert panel.locator('[data-field="definition"] .field-error').count() == 0
    panel = select_node(page, "send_message-1")
    field(panel, "Channel").select_option("email")
    field(panel, "Message template").select_option(label="We miss you")
    panel = select_node(page, "wait_for_event-1")
    field(panel, "Wait for").select_option("order")
    field(panel, "Days").fill("3")
    panel = select_node(page, "send_message-2")
    field(panel, "Channel").select_option("sms")
    field(panel, "Message template").select_option(label="Last days")
    field(panel, "Name on the canvas").fill("Reminder")


def expected_graph(shop) -> tuple[dict, set]:
    configs = {
        "segment_entered-1": ("segment_entered", {"segment": shop["segment"].pk}),
        "wait_until-1": ("wait_until", {"time": "10:00"}),
        "issue_coupon-1": ("issue_coupon", {"definition": shop["definition"].pk}),
        "send_message-1": ("send_message", {"channel": "email",
                                            "template": shop["email"].pk}),
        "wait_for_event-1": ("wait_for_event", {"kind": "order", "timeout": {"days": 3}}),
        "send_message-2": ("send_message", {"channel": "sms", "template": shop["reminder"].pk}),
        "exit-1": ("exit", {}), "exit-2": ("exit", {}), "exit-3": ("exit", {}),
    }
    edges = {*EDGES, ("send_message-2", "next", "exit-3")}
    return configs, edges


def drawn(graph: dict) -> tuple[dict, set]:
    configs = {n["id"]: (n["type"], n.get("config", {})) for n in graph["nodes"]}
    edges = {(e["source"], e["port"], e["target"]) for e in graph["edges"]}
    return configs, edges


def test_marketer_draws_the_win_back_and_a_manager_publishes_it(page, sign_in, shop,
                                                                 screenshot):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(operator(Role.MARKETER))
    page.goto("/campaigns/")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name").fill("Dormant win-back")
    page.get_by_role("button", name="Create and open the canvas").click()
    page.locator('.canvas-app[data-ready="true"]').wait_for()
    campaign = Campaign.objects.get(name="Dormant win-back")

    for node_type, node_id, x, y in NODES:
        drop(page, node_type, x, y)
        page.locator(f'.react-flow__node[data-id="{node_id}"]').wait_for()
    for source, port, target in EDGES:
        connect(page, source, port, target)
    configure(page, shop)

    # The reminder's port leads nowhere: the server refuses the save and names the node.
    page.get_by_role("button", name="Save draft").click()
    reminder = page.locator('.react-flow__node[data-id="send_message-2"]')
    reminder.locator(".flow-node-problems").wait_for()
    page.keyboard.press("Escape")
    page.locator(".canvas-flow .react-flow__pane").click(position={"x": 700, "y": 20})
    problems = page.locator(".problem-list")
    assert "port 'next' is not connected" in problems.inner_text()
    assert "send_message-2" in problems.inner_text()
    assert Campaign.objects.get(pk=campaign.pk).draft_graph == {}
    screenshot("canvas-problem")
    assert accessibility_violations(page) == []

    connect(page, "send_message-2", "next", "exit-3")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved.").wait_for()
    assert reminder.locator(".flow-node-problems").count() == 0

    page.get_by_role("button", name="Dry run").click()
    trigger_counts = page.locator('.react-flow__node[data-id="segment_entered-1"] [data-counts]')
    trigger_counts.wait_for()
    assert "3 entered" in trigger_counts.inner_text()
    coupon_counts = page.locator('.react-flow__node[data-id="issue_coupon-1"] [data-counts]')
    assert "3 coupons" in coupon_counts.inner_text()
    assert "Would enter" in page.locator("[data-dry-run]").inner_text()
    assert page.get_by_role("button", name="Publish").count() == 0  # marketers do not publish
    screenshot("canvas-dry-run")
    assert accessibility_violations(page) == []

    sign_in(operator(Role.MANAGER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Publish").click()
    page.locator('[data-status="active"]').wait_for()

    saved = page.request.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert drawn(saved["graph"]) == expected_graph(shop)
    assert saved["current_version"] == 1
    assert all("position" in n for n in saved["graph"]["nodes"])
    reminder_node = next(n for n in saved["graph"]["nodes"] if n["id"] == "send_message-2")
    assert reminder_node["label"] == "Reminder"
    campaign.refresh_from_db()
    assert drawn(campaign.current_version.graph) == expected_graph(shop)

    # A customer who becomes dormant now starts a journey; the canvas shows it live.
    newcomer = CustomerFactory(name="Ma", email_consent=True)
    make_dormant(newcomer)
    segment_evaluate(shop["segment"].pk)
    run()
    journey = Journey.objects.get(campaign=campaign)
    assert journey.customer == newcomer
    assert journey.node == "wait_until-1"  # waiting for 10:00 in the customer's time zone
    live = page.locator('.react-flow__node[data-id="wait_until-1"] [data-counts]')
    live.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.react-flow__node[data-id=\"wait_until-1\"] "
        "[data-counts]')?.textContent.includes('1 here now')", timeout=15_000)
    page.get_by_role("button", name="Auto-layout").click()
    page.wait_for_timeout(400)
    screenshot("canvas-live")


def winback_campaign(shop) -> Campaign:
    graph = {"nodes": [
        {"id": "start", "type": "segment_entered", "config": {"segment": shop["segment"].pk},
         "position": {"x": 0, "y": 0}},
        {"id": "coupon", "type": "issue_coupon",
         "config": {"definition": shop["definition"].pk}, "position": {"x": 0, "y": 150}},
        {"id": "end", "type": "exit", "config": {}, "position": {"x": 0, "y": 300}},
        {"id": "none", "type": "exit", "config": {}, "position": {"x": 260, "y": 300}},
    ], "edges": [
        {"source": "start", "port": "next", "target": "coupon"},
        {"source": "coupon", "port": "issued", "target": "end"},
        {"source": "coupon", "port": "not_issued", "target": "none"},
    ]}
    return campaign_save(Campaign(name="Coupon for the dormant"), draft_graph=graph)


def test_a_viewer_reads_the_canvas_but_cannot_change_it(page, sign_in, shop, screenshot):
    campaign = winback_campaign(shop)
    sign_in(operator(Role.VIEWER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    assert page.locator('.canvas-app[data-readonly="true"]').count() == 1
    assert page.locator(".canvas-palette").count() == 0
    assert page.get_by_role("button", name="Save draft").count() == 0
    assert page.get_by_role("button", name="Publish").count() == 0
    panel = select_node(page, "coupon")
    assert field(panel, "Coupon definition").is_disabled()
    assert "Win-back 15%" in page.locator('.react-flow__node[data-id="coupon"]').inner_text()
    screenshot("canvas-viewer")

    refused = page.request.patch(f"/api/v1/campaigns/{campaign.pk}/",
                                 data={"graph": {}}, headers={"X-CSRFToken": csrf(page)})
    assert refused.status == 403
    assert page.request.post(f"/api/v1/campaigns/{campaign.pk}/publish/",
                             headers={"X-CSRFToken": csrf(page)}).status == 403
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT


def csrf(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def test_undo_redo_copy_paste_and_layout(page, sign_in, shop):
    campaign = winback_campaign(shop)
    sign_in(operator(Role.MARKETER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    nodes = page.locator(".react-flow__node")
    assert nodes.count() == 4

    select_node(page, "coupon")
    page.locator(".canvas-flow .react-flow__pane").focus()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    page.locator('.react-flow__node[data-id="issue_coupon-1"]').wait_for()
    assert nodes.count() == 5
    page.keyboard.press("Control+z")
    page.locator('.react-flow__node[data-id="issue_coupon-1"]').wait_for(state="detached")
    page.keyboard.press("Control+Shift+z")
    page.locator('.react-flow__node[data-id="issue_coupon-1"]').wait_for()
    page.get_by_role("button", name="Undo").click()
    assert nodes.count() == 4

    before = page.locator('.react-flow__node[data-id="none"]').bounding_box()
    page.get_by_role("button", name="Auto-layout").click()
    page.wait_for_timeout(400)
    after = page.locator('.react-flow__node[data-id="none"]').bounding_box()
    assert (before["x"], before["y"]) != (after["x"], after["y"])

    # A config problem shows under its field.
    panel = select_node(page, "coupon")
    field(panel, "Coupon definition").select_option("")
    page.get_by_role("button", name="Save draft").click()
    panel.locator('[data-field="definition"] .field-error').wait_for()
    assert page.locator('.react-flow__node[data-id="coupon"] .flow-node-problems').is_visible()
    field(panel, "Coupon definition").select_option(label="Win-back 15%")
    assert panel.locator('[data-field="definition"] .field-error').count() == 0

    # Keyboard users connect through the side panel: swap the coupon's two exits.
    panel.locator("#conn-coupon-issued").select_option(label="Exit (none)")
    panel.locator("#conn-coupon-not_issued").select_option(label="Exit (end)")
    page.get_by_role("button", name="Check").click()
    page.get_by_text("No problems found.").wait_for()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved.").wait_for()
    campaign.refresh_from_db()
    assert {(e["source"], e["port"], e["target"]) for e in campaign.draft_graph["edges"]} == {
        ("start", "next", "coupon"), ("coupon", "issued", "none"),
        ("coupon", "not_issued", "end")}
    assert [n["id"] for n in campaign.draft_graph["nodes"]] == ["start", "coupon", "end", "none"]


def test_unsaved_work_is_offered_back_after_a_reload(page, sign_in, shop):
    campaign = campaign_save(Campaign(name="Half drawn"))
    sign_in(operator(Role.MARKETER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    drop(page, "wait", 40, 40)
    page.locator('.react-flow__node[data-id="wait-1"]').wait_for()
    page.wait_for_timeout(1200)  # the copy is written 0.8 s after the last change
    page.reload()
    page.locator('.canvas-app[data-ready="true"]').wait_for()
    assert page.locator(".react-flow__node").count() == 0  # the server kept nothing
    page.get_by_role("button", name="Restore it").click()
    page.locator('.react-flow__node[data-id="wait-1"]').wait_for()
    page.get_by_role("button", name="Undo").click()
    assert page.locator(".react-flow__node").count() == 0


def test_a_save_over_another_operators_change_is_refused_and_the_work_kept(page, sign_in,
                                                                          shop):
    campaign = winback_campaign(shop)
    sign_in(operator(Role.MARKETER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    panel = select_node(page, "coupon")
    name = panel.get_by_label("Name on the canvas")

    def drawn() -> str:
        return json.dumps(Campaign.objects.get(pk=campaign.pk).draft_graph)

    for label in ["Gift", "Gift, 15%"]:  # two saves in a row from this canvas
        name.fill(label)
        page.get_by_role("button", name="Save draft").click()
        wait_for(lambda label=label: f'"{label}"' in drawn())
    # Meanwhile another operator renames the campaign (or saves a drawing of their own).
    campaign_save(Campaign.objects.get(pk=campaign.pk), name="Coupon, renamed")
    name.fill("Gift for you")
    page.wait_for_timeout(1200)  # the browser's copy is written 0.8 s after the last change

    page.get_by_role("button", name="Save draft").click()

    page.get_by_text("this campaign was changed elsewhere").wait_for()
    assert '"Gift, 15%"' in drawn()
    assert "Gift for you" not in drawn()
    page.reload()
    page.locator('.canvas-app[data-ready="true"]').wait_for()
    page.get_by_role("button", name="Restore it").click()
    page.locator('.react-flow__node[data-id="coupon"]', has_text="Gift for you").wait_for()


def test_a_split_gets_a_port_per_branch(page, sign_in, shop):
    campaign = campaign_save(Campaign(name="A/B"))
    sign_in(operator(Role.MARKETER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    page.locator('.palette-item[data-type="split"]').press("Enter")  # added from the keyboard
    split = page.locator('.react-flow__node[data-id="split-1"]')
    split.wait_for()
    handles = split.locator(".react-flow__handle.source")
    assert [h.get_attribute("data-handleid") for h in handles.all()] == ["A", "B"]
    page.locator(".canvas-panel").get_by_role("button", name="Add a branch").click()
    page.locator('.react-flow__node[data-id="split-1"] [data-handleid="C"]').wait_for()
    assert handles.count() == 3


def test_a_condition_on_a_segment_needs_no_json(page, sign_in, shop):
    campaign = campaign_save(Campaign(name="Condition"))
    sign_in(operator(Role.MARKETER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    page.locator('.palette-item[data-type="condition"]').press("Enter")
    panel = select_node(page, "condition-1")
    panel.get_by_label("Customer is in segment").select_option(label="Dormant customers")
    node = page.locator('.react-flow__node[data-id="condition-1"]')
    assert "in Dormant customers" in node.inner_text()
    panel.get_by_text("Edit as JsonLogic").click()
    rule = json.loads(panel.get_by_label("Or any segment rule, as JsonLogic").input_value())
    assert rule == {"in_segment": [{"var": "segment"}, shop["segment"].pk]}
    panel.get_by_label("Or any segment rule, as JsonLogic").fill(
        '{"==": [{"var": "city"}, "Paris"]}')
    assert "a segment rule" in node.inner_text()
    assert panel.get_by_label("Customer is in segment").input_value() == ""
    # The builder below follows the typed rule.
    builder = panel.locator("[data-rule-editor]")
    expect(builder.get_by_title("Field")).to_have_value("city")


def test_a_condition_is_built_with_the_segment_builders_conditions(page, sign_in, shop,
                                                                   screenshot):
    campaign = campaign_save(Campaign(name="Built condition"))
    sign_in(operator(Role.MARKETER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    page.locator('.palette-item[data-type="condition"]').press("Enter")
    panel = select_node(page, "condition-1")
    builder = panel.locator("[data-rule-editor]")
    builder.get_by_title("Add a condition").click()
    builder.get_by_title("Field").select_option("city")
    builder.get_by_title("Operator").select_option("==")
    builder.get_by_label("City: value").fill("Paris")
    screenshot("condition-built")

    node = page.locator('.react-flow__node[data-id="condition-1"]')
    assert "a segment rule" in node.inner_text()
    panel.get_by_text("Edit as JsonLogic").click()
    rule = json.loads(panel.get_by_label("Or any segment rule, as JsonLogic").input_value())
    assert rule == {"==": [{"var": "city"}, "Paris"]}


def test_the_canvas_speaks_chinese(page, sign_in, shop):
    from django.utils import translation

    from campaigns.flows import NODE_TYPES

    with translation.override("zh-hans"):
        wait_label = str(NODE_TYPES["wait"].label)
    assert wait_label != "Wait"
    campaign = winback_campaign(shop)
    sign_in(operator(Role.MARKETER))
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    page.get_by_label("Language").select_option("zh-hans")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    page.locator('.canvas-app[data-ready="true"]').wait_for()
    assert page.locator('.palette-item[data-type="wait"]').inner_text() == wait_label
    assert page.get_by_role("button", name="保存草稿").count() == 1  # the island's own strings


def test_the_campaign_pages_pass_an_accessibility_check(page, sign_in, shop, screenshot):
    page.set_viewport_size({"width": 1280, "height": 800})
    campaign = winback_campaign(shop)
    sign_in(operator(Role.MARKETER))
    page.goto("/campaigns/")
    screenshot("campaign-list")
    assert accessibility_violations(page, impacts=("moderate", "serious", "critical")) == []
    page.get_by_label("Search campaigns").fill("nothing like it")
    page.get_by_text("No campaign matches this search.").wait_for()
    page.goto("/campaigns/new/")
    screenshot("campaign-create")
    assert accessibility_violations(page) == []
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    select_node(page, "coupon")
    screenshot("canvas")
    assert accessibility_violations(page, impacts=("moderate", "serious", "critical")) == []


# --- a 200-node canvas -----------------------------------------------------------------------

def long_chain(size: int) -> dict:
    """A trigger, size - 2 waits in a zigzag, an exit: a valid graph of `size` nodes."""
    nodes = [{"id": "start", "type": "event", "config": {"name": "visit"},
              "position": {"x": 0, "y": 0}}]
    nodes += [{"id": f"w{n}", "type": "wait", "config": {"days": 1},
               "position": {"x": (n % 10) * 260, "y": (n // 10 + 1) * 140}}
              for n in range(size - 2)]
    nodes.append({"id": "end", "type": "exit", "config": {},
                  "position": {"x": 0, "y": (size // 10 + 2) * 140}})
    ids = [n["id"] for n in nodes]
    edges = [{"source": a, "port": "next", "target": b} for a, b in itertools.pairwise(ids)]
    return {"nodes": nodes, "edges": edges}


FRAME_PROBE = """() => { window.__frames = []; window.__long = []; let last = performance.now();
  if (!window.__longObserver) {
    window.__longObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__long.push(entry.duration); });
    window.__longObserver.observe({ type: "longtask" }); }
  const tick = (now) => { window.__frames.push(now - last); last = now;
    if (window.__frames.length < 100000) window.__probe = requestAnimationFrame(tick); };
  window.__probe = requestAnimationFrame(tick); }"""


def frames(page) -> tuple[list[float], list[float]]:
    """The frame intervals (ms) since the probe started, and the long tasks (ms) among
    them: script work over 50 ms, as opposed to frames the busy machine did not schedule."""
    return page.evaluate("() => { cancelAnimationFrame(window.__probe); "
                         "return [window.__frames.slice(1), window.__long]; }")


def transform(page, selector: str) -> str:
    return page.evaluate("(selector) => document.querySelector(selector).style.transform",
                         selector)


def drag(page, start: tuple[float, float], delta: tuple[float, float], steps: int = 60) -> float:
    page.evaluate(FRAME_PROBE)
    started = time.perf_counter()
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + delta[0], start[1] + delta[1], steps=steps)
    page.mouse.up()
    return time.perf_counter() - started


def test_a_200_node_canvas_stays_smooth(page, sign_in, shop):
    page.set_viewport_size({"width": 1280, "height": 800})
    graph = long_chain(200)
    campaign = campaign_save(Campaign(name="Long"), draft_graph=graph)
    sign_in(operator(Role.MARKETER))

    started = time.perf_counter()
    open_canvas(page, f"/campaigns/{campaign.pk}/")
    page.locator(".react-flow__node").first.wait_for()
    render_s = time.perf_counter() - started
    rendered = page.locator(".react-flow__node").count()

    node = page.locator('.react-flow__node[data-id="start"] .flow-node-title')
    node_before = transform(page, '.react-flow__node[data-id="start"]')
    node_drag_s = drag(page, centre(node), (120, 80))
    node_frames, node_long = frames(page)
    node_after = transform(page, '.react-flow__node[data-id="start"]')
    viewport_before = transform(page, ".react-flow__viewport")
    pane_drag_s = drag(page, (900, 500), (-300, -200))
    pane_frames, pane_long = frames(page)
    viewport_after = transform(page, ".react-flow__viewport")
    figures = {
        "nodes": len(graph["nodes"]),
        "nodes_in_dom": rendered,
        "open_to_first_node_s": round(render_s, 3),
        "node_drag_60_moves_s": round(node_drag_s, 3),
        "node_drag_median_frame_ms": round(statistics.median(node_frames), 1),
        "node_drag_p95_frame_ms": round(sorted(node_frames)[int(len(node_frames) * .95)], 1),
        "node_drag_long_tasks_ms": [round(d) for d in node_long],
        "pan_60_moves_s": round(pane_drag_s, 3),
        "pan_median_frame_ms": round(statistics.median(pane_frames), 1),
        "pan_p95_frame_ms": round(sorted(pane_frames)[int(len(pane_frames) * .95)], 1),
        "pan_long_tasks_ms": [round(d) for d in pane_long],
    }
    BENCH.parent.mkdir(parents=True, exist_ok=True)
    BENCH.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))  # noqa: T201 - the figures, in the test's output too

    # What the operator sees: the nodes drawn, the dragged node and the panned view moved.
    # How smooth it felt is a figure (above, and docs/canvas.md), not a pass mark: frame
    # times follow the machine, not the code.
    assert rendered > 0
    assert node_after != node_before
    assert viewport_after != viewport_before
