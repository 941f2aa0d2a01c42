"""Driving the dashboard in the tests' headless Chromium: signing in through a link's button,
opening pages, screenshots, and axe-core's accessibility check (from npm, tests/node)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.openfeature_js import NODE_DIR

__all__ = ["axe_problems", "link_token", "open_page", "screenshot", "sign_in"]

AXE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (results) => done(results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => [n.target.join(" "), n.failureSummary]).slice(0, 5),
  }))),
  (error) => done({error: String(error)}),
);
"""


async def open_page(browser: webdriver.Chrome, url: str) -> str:
    """Load ``url`` (off the event loop, which serves it) and return the page's text."""
    await asyncio.to_thread(browser.get, url)
    return str(await asyncio.to_thread(lambda: browser.find_element(By.TAG_NAME, "body").text))


def link_token(link: str) -> str:
    """The token of a sign-in link."""
    return parse_qs(urlsplit(link).query)["token"][0]


async def sign_in(browser: webdriver.Chrome, link: str) -> str:
    """Follow a sign-in link as a person does (open it, press Sign in) and return the text of the
    page it lands on."""
    await open_page(browser, link)

    def press() -> str:
        button = browser.find_element(By.CSS_SELECTOR, "main form button")
        assert button.text == "Sign in", button.text
        button.click()
        WebDriverWait(browser, 10).until(expected_conditions.staleness_of(button))
        WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")
        return str(browser.find_element(By.TAG_NAME, "body").text)

    return await asyncio.to_thread(press)


def screenshot(browser: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    """The window saved as dashboard-NAME.png (into $CHATOPS_SCREENSHOTS when set, e.g. docs/)."""
    folder = Path(os.environ.get("CHATOPS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dashboard-{name}.png"
    assert browser.save_screenshot(str(path))
    return path


async def axe_problems(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page open in ``browser`` (injected by
    WebDriver, which the page's Content-Security-Policy does not govern)."""
    assert AXE.is_file(), "axe-core is not installed: run `npm ci` in tests/node (.ci/run does)"
    source = AXE.read_text(encoding="utf-8")

    def run() -> Any:
        browser.set_script_timeout(60)
        browser.execute_script(source)
        return browser.execute_async_script(_RUN_AXE)

    violations = await asyncio.to_thread(run)
    assert isinstance(violations, list), violations  # axe ran (an error comes back as a dict)
    return [v for v in violations if v["impact"] in ("serious", "critical")]
