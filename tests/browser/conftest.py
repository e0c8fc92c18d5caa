"""Real-browser tests: Debian's Chromium (/usr/bin/chromium, installed by bin/ensure-chromium)
driven by Playwright against pytest-django's live server. Playwright is never allowed to
download a browser of its own.

Without the browser these tests skip with a reason, except under CI=true, where a missing
browser is a failure: CI must prove the pages work in a real browser.
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse the
# ORM calls the tests make to seed data ("async-unsafe").
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


def _browser_missing_reason() -> str | None:
    if CHROMIUM.exists():
        return None
    return f"{CHROMIUM} is missing: run bin/ensure-chromium (apt-get install chromium)"


def pytest_collection_modifyitems(config, items):
    reason = _browser_missing_reason()
    if reason is None or os.environ.get("CI") == "true":
        return  # under CI the browser fixture fails loudly instead
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    reason = _browser_missing_reason()
    if reason is not None:
        pytest.fail(f"CI=true and {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "screenshots"
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def screenshot(request, page):
    """screenshot("name"): the page as it is now, kept as a test artifact under
    var/test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def accessibility_violations(page, *, impacts=("serious", "critical")) -> list[str]:
    """axe-core's WCAG 2 A/AA violations of the page (of these impacts), as
    "rule: target" lines; [] when there are none."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    return [f"{v['id']}: {', '.join(str(n['target']) for n in v['nodes'][:3])}"
            for v in result["violations"] if v["impact"] in impacts]


@pytest.fixture
def sign_in(page, live_server):
    """sign_in(user): the browser is signed in as `user` (a session made without the login
    form; tests of the form itself use the form)."""
    from django.test import Client

    def sign(user) -> None:
        client = Client()
        client.force_login(user)
        page.context.add_cookies([{"name": "sessionid",
                                   "value": client.cookies["sessionid"].value,
                                   "url": live_server.url}])

    return sign
