"""Browser fixtures: the live system, Debian's Chromium, and a ``Browse`` per test that
watches for console errors, CSP violations and dialogs, and runs axe-core on request.

Chromium and axe-core are required in CI (``CI=true``: their absence fails the run); on a
developer machine without them the browser tests are skipped with the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .live import Account, LiveSystem

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
NOTE_PREFIX = "Failed to load resource: the server responded with a status of "
# Reported, not hidden: a listener is registered before any page script runs.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI", pytrace=False)
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def live() -> Iterator[LiveSystem]:
    system = LiveSystem().start()
    yield system
    system.stop()


@pytest.fixture(autouse=True)
def _fresh_tenant(live: LiveSystem) -> None:
    live.reset()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        _missing(f"axe-core ({AXE}; run `npm ci --prefix tests/web`)")
    return AXE.read_text(encoding="utf-8")


# Module scope: Playwright's synchronous API keeps an event loop in this thread while it
# runs, which pytest-asyncio's tests in later modules must not find.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing(f"Chromium ({CHROMIUM}; apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Browse:
    """One browser context (one manager's phone), its page, and what went wrong in it."""

    live: LiveSystem
    context: Any
    page: Any
    axe: str
    errors: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    error_documents: set[str] = field(default_factory=set)

    def console_error(self, text: str, url: str) -> None:
        self.errors.append(f"console: {text} ({url})")

    def problems(self) -> list[str]:
        """Everything that went wrong, except Chromium's note that a page it navigated to
        answered 4xx/5xx: error pages and re-shown forms do that on purpose (and the tests
        check their status). A sub-resource (stylesheet, script, icon) failing still counts."""
        return [e for e in self.errors
                if not (e.startswith(f"console: {NOTE_PREFIX}")
                        and any(e.endswith(f"({url})") for url in self.error_documents))]

    def goto(self, path: str) -> Any:
        return self.page.goto(self.live.url + path)

    def sign_in(self, account: Account, *, start: str = "/") -> None:
        """Through the fake's sign-in page, as a manager would."""
        page = self.page
        if start == "/":
            self.goto("/")
            page.get_by_role("link", name="Sign in").click()
        else:
            self.goto(start)
        page.wait_for_url(re.compile(re.escape(self.live.fake_url)))
        page.fill("#username", account.upn)
        page.fill("#password", account.password)
        page.click("#signin")
        page.wait_for_url(re.compile(re.escape(self.live.url)))

    def check(self, name: str | None = None) -> None:
        """axe at phone and desktop width (no serious or critical findings), and at phone
        width a screenshot to docs/screenshots/{name}.png."""
        page = self.page
        page.wait_for_load_state("load")
        for size in (DESKTOP, PHONE):  # end at phone width, where the test runs
            page.set_viewport_size(size)
            if page.evaluate("typeof window.axe") == "undefined":
                # Evaluated through the DevTools protocol: the page's CSP is not relaxed.
                page.evaluate(self.axe)
            result = page.evaluate("""async () => {
                const r = await axe.run(document, {resultTypes: ["violations"]});
                return r.violations.filter(v => ["serious", "critical"].includes(v.impact))
                  .map(v => `${v.id} (${v.impact}): ${v.help} at ` +
                            v.nodes.map(n => n.target.join(" ")).join(", "));
            }""")
            assert result == [], f"axe at {size['width']}px on {page.url}: {result}"
        self.checked.append(page.url)
        if name is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def text(self) -> str:
        return str(self.page.inner_text("main"))


@pytest.fixture
def browse(live: LiveSystem, browser: Any, axe_source: str) -> Iterator[Browse]:
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, locale="en-US",
                                  color_scheme="light")
    yield from _browse(live, context, axe_source)


@pytest.fixture
def browse_no_js(live: LiveSystem, browser: Any, axe_source: str) -> Iterator[Browse]:
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, locale="en-US",
                                  java_script_enabled=False)
    yield from _browse(live, context, axe_source)


def _browse(live: LiveSystem, context: Any, axe: str) -> Iterator[Browse]:
    # ignore_https_errors: the fake's certificate comes from a CA made for this run that
    # Chromium does not know (the proxy itself is plain http on loopback).
    page = context.new_page()
    state = Browse(live, context, page, axe)
    context.expose_binding("__cspViolation",
                           lambda source, text: state.errors.append(f"CSP: {text}"))
    context.add_init_script(CSP_LISTENER)
    def on_console(msg: Any) -> None:
        if msg.type == "error":
            state.console_error(msg.text, str(msg.location.get("url")))

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type == "document":
            state.error_documents.add(response.url)

    def on_dialog(dialog: Any) -> None:  # e.g. alert(1) from a display name: must not happen
        state.errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: state.errors.append(f"page error: {exc}"))
    page.on("dialog", on_dialog)
    yield state
    context.close()
    problems = state.problems()
    assert problems == [], "\n".join(problems)
