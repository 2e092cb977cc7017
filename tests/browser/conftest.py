"""Browser tests of the console: the e2e suite (real processes) driven by headless Chromium.

The suite, its settings and users come from tests/e2e/conftest.py (imported, not copied), on a
RabbitMQ node of the tests' own. Chromium is
Debian's /usr/bin/chromium (``bin/browser-deps`` installs it) driven through Playwright with
``executable_path``: Playwright never downloads a browser. Without Chromium the tests skip and
say why. Screenshots go to ``$SCREENSHOT_DIR`` (default ``run/screenshots``); README images are
made with ``SCREENSHOT_DIR=docs/screenshots``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.broker import OwnBroker
from casekit.testing.suite import Client, running_suite

# package-scoped fixtures: imported here, they serve (and end with) the browser package's suite
from tests.e2e.conftest import E2E_ENV, PASSWORD, add_users, admin, agent, supervisor  # noqa: F401 - reused

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", infra.ROOT / "run" / "screenshots"))
BLOCKING = ("serious", "critical")


# Package scope: the browser suite (its own broker and every process) is stopped as soon as the
# journeys are done, not kept running beside the end-to-end suite until the session ends.
@pytest.fixture(scope="package")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """The e2e suite on a RabbitMQ node of its own (no vhost churn on the shared broker)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (bin/browser-deps installs Debian's chromium as root)")
    broker = OwnBroker(tmp_path_factory.mktemp("rabbit"), name="cwconsole")
    broker.start()
    try:
        base = f"pyamqp://guest:guest@127.0.0.1:{broker.port}"
        # a browser waits for the page, not for a fault: the default RPC timeout, not e2e's 4 s
        env = {**E2E_ENV, "GATEWAY_WORKERS": "1", "RPC_TIMEOUT": "10"}
        with running_suite(
            tmp_path_factory.mktemp("suite"), extra_env=env, broker=(broker.api, base)
        ) as running:
            add_users(running)
            yield running
    finally:
        broker.stop()
        broker.kill()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (bin/browser-deps installs Debian's chromium as root)")
    from playwright.sync_api import sync_playwright

    # Not ``with sync_playwright()``: its stop() waits for an asyncio child watcher that never
    # fires under nameko's eventlet patch. The browser is closed here; the driver process ends
    # by itself when this process exits and its pipe closes.
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    try:
        yield chromium
    finally:
        chromium.close()


class Console:
    """One signed-in browser tab on the console, with the checks every journey makes."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.token: str | None = None
        self.said: list[str] = []  # what the page logged and which calls failed: shown on failure
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: self.said.append(f"console.{msg.type}: {msg.text[:300]}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.said.append(f"HTTP {r.status} {r.request.method} {r.url}"),
        )
        page.on("requestfailed", lambda r: self.said.append(f"failed {r.method} {r.url}: {r.failure}"))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and "Content Security Policy" in msg.text
                and self.errors.append(f"CSP: {msg.text}")
            ),
        )
        page.on("request", lambda req: self.urls.append(req.url))

    def open(self, hash_path: str = "") -> None:
        self.page.goto(f"{self.base}/console/{hash_path}")

    def sign_in(self, username: str, password: str) -> None:
        self.open()
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("heading", name="My work").wait_for()
        # signed in, the API's capabilities read and the first view drawn: only now does a
        # navigation by the user (or the test) land on a console that is ready for it
        self.page.locator("body[data-ready]").wait_for(state="attached")
        self.token = self.page.evaluate("JSON.parse(sessionStorage.getItem('casework.session')).token")

    def go(self, hash_path: str) -> None:
        self.page.evaluate("h => { location.hash = h }", hash_path)

    def toast(self, text: str) -> None:
        """Wait for the status message containing ``text``; fail with the message shown instead."""
        try:
            self.page.get_by_role("status").filter(has_text=text).wait_for()
        except Exception as exc:  # noqa: BLE001 - say what the console said instead
            shown = self.page.locator("#toast").inner_text()
            raise AssertionError(f"expected a message with {text!r}, the console said {shown!r}") from exc
        self.settled()

    def settled(self) -> None:
        """Wait until the case folder is not reloading (``aria-busy``), as a user waits for the page
        to stop changing before the next click: a reload must not replace a control mid-use."""
        self.page.locator("#folder-pane:not([aria-busy])").wait_for(state="attached", timeout=60000)

    def shot(self, name: str) -> list[Path]:
        """Desktop and phone screenshots of the current state, each checked by axe-core."""
        saved = []
        SHOTS.mkdir(parents=True, exist_ok=True)
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.wait_for_timeout(150)  # let layout settle after the resize (not an assertion)
            self.check_accessibility(f"{name} ({size_name})")
            path = SHOTS / f"{name}-{size_name}.png"
            self.page.screenshot(path=str(path), full_page=True)
            saved.append(path)
        self.page.set_viewport_size(DESKTOP)
        return saved

    def check_accessibility(self, where: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.page, options={"resultTypes": ["violations"]})
        bad = [v for v in results.response["violations"] if v.get("impact") in BLOCKING]
        summary = "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad
        )
        assert not bad, f"axe-core found serious violations on {where}: {summary}"

    def assert_clean(self) -> None:
        assert not self.errors, self.errors
        if self.token:
            leaked = [u for u in self.urls if self.token in u or re.search(r"[?&](access_)?token=", u)]
            assert not leaked, f"token in a URL: {leaked[:3]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed


CALL_FAILED = pytest.StashKey[bool]()
LOG_LINES = 25
LEVEL = re.compile(r'"level": ?"(warning|error|critical)"')


def diagnosis(tab: Console, suite: Suite) -> str:
    """What the page showed and said and what the processes logged: a failed journey on a CI
    machine must say why, not only which locator timed out."""
    parts = []
    try:
        parts.append("toast: " + tab.page.locator("#toast").inner_text(timeout=1000))
        busy = tab.page.locator("#folder-pane[aria-busy]").count()
        parts.append(f"folder pane busy: {bool(busy)}")
    except Exception as exc:  # noqa: BLE001 - the page may be gone
        parts.append(f"page not readable: {exc!r}")
    parts.append("browser:\n  " + "\n  ".join(tab.said[-40:]))
    for log in sorted((suite.run_dir / "logs").glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        bad = [line[:400] for line in lines if LEVEL.search(line) or "Traceback" in line]
        if bad:
            parts.append(f"{log.name} (last warnings and errors):\n  " + "\n  ".join(bad[-LOG_LINES:]))
    return "\n".join(parts)


@pytest.fixture
def console(request: pytest.FixtureRequest, browser: Any, suite: Suite) -> Iterator[Console]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(45000)  # a folder reload may retry a slow part (2 x RPC timeout)
    page = context.new_page()
    tab = Console(page, suite.gateway_url)
    try:
        yield tab
        tab.assert_clean()
    finally:
        if request.node.stash.get(CALL_FAILED, False):
            request.node.add_report_section("call", "console diagnosis", diagnosis(tab, suite))
        context.close()


def open_case(client: Client, title: str, **extra: Any) -> dict[str, Any]:
    body = {
        "type": "complaint",
        "title": title,
        "priority": "high",
        "description": "The customer says the bill for March counts the same reading twice.",
        "customer": {
            "name": "Ann Smith",
            "email": f"ann.{uuid.uuid4().hex[:6]}@example.org",
            "phone": "+44 20 7946 0018",
        },
        "data": {"product": "gas", "amount": 120},
        **extra,
    }
    response = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response.json()


def user_id(client: Client) -> str:
    """The caller's user id: the ``sub`` of its access token."""
    token = client.http.headers["Authorization"].split()[1]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def staff(by: Client, queue: str, member: Client, role: str = "agent") -> str:
    """Put ``member`` on ``queue``; answer its user id."""
    uid = user_id(member)
    response = by.request("PUT", f"/api/v1/queues/{queue}/members/{uid}", json={"role": role})
    assert response.status_code == 200, response.text
    return uid
