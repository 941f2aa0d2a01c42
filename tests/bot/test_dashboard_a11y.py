"""Every dashboard page in headless Chromium, checked by axe-core (npm, tests/node): no serious or
critical accessibility violation on the sign-in, flags, cleanup, flag, deployments, activity,
404, sign-out, signed-out and 401 pages; the skip link is the first stop of the keyboard, visibly
focused, and leads into the page. The deployments page links to each deployment's pipeline and
to the compare view between environments' revisions, as the Slack answer does.
Screenshots: dashboard-signin, -deployments, -404 (into $CHATOPS_SCREENSHOTS when set, e.g. docs/).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.bot.conftest import FLAG, write_config
from tests.bot.dashboard_browser import axe_problems, open_page, screenshot, sign_in
from tests.bot.deployments.conftest import (
    WEBHOOK_TOKEN,
    DeployBot,
    History,
    build_history,
    deployment_event,
    deployments_section,
    serving,
)
from tests.bot.slack_stub import SlackStub
from tests.bot.test_dashboard import Dashboard, browser  # noqa: F401 (the headless Chromium fixture)
from tests.redis_process import free_port

WEB_URL = "https://gitlab.com/gitlab-org/gitlab"
ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["sre"]}},
    {"environments": ["*"], "anyone": True},
]


async def _something_on_every_page(bot: DeployBot, history: History) -> None:
    """Deployments (two environments apart, one running), a flag's changes, a rollout, a freeze
    and a pending approval: every page has rows, links and badges to check."""
    events = [
        deployment_event("gprd", history.mr103_merge, "success", "2026-11-26 08:00:00 +0000", deployment_id=21),
        deployment_event("gprd-cny", history.latest, "success", "2026-11-26 09:00:00 +0000", deployment_id=22),
        deployment_event("gstg", history.latest, "running", "2026-11-26 09:30:00 +0000", deployment_id=23),
    ]
    for number, event in enumerate(events, 901):
        event["deployable_url"] = f"{WEB_URL}/-/jobs/{number}"
        assert (await bot.webhook(event))[0] == 200
    for state in ("25 --actors", "50 --actors"):
        assert "*Set to" in (await bot.text(f"run feature set {FLAG} {state} --staging", channel="#development"))[1]
    rollout = f"run feature rollout {FLAG} --steps 10,50 --every 1h --dev"
    assert "Started R1" in (await bot.text(rollout, channel="#development"))[1]
    assert "Frozen" in (await bot.text('run freeze on --staging --reason "incident 42"'))[1]
    _, asked = await bot.text(f"run feature set {FLAG} true --production --ignore-feature-flag-consistency-check")
    assert "Approval requested from @sre" in asked, asked


async def _links(driver: webdriver.Chrome, text: str) -> list[str]:
    return await asyncio.to_thread(
        lambda: [a.get_attribute("href") or "" for a in driver.find_elements(By.LINK_TEXT, text)]
    )


async def _press_sign_out(driver: webdriver.Chrome) -> str:
    """Press the header's Sign out button; the text of the page it leads to."""

    def press() -> str:
        button = driver.find_element(By.CSS_SELECTOR, "header form button")
        button.click()
        WebDriverWait(driver, 10).until(expected_conditions.staleness_of(button))
        WebDriverWait(driver, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")
        return str(driver.find_element(By.TAG_NAME, "body").text)

    return await asyncio.to_thread(press)


async def _skip_link_works(driver: webdriver.Chrome) -> None:
    """Tab once: the skip link, visible and outlined; Enter: the keyboard is in the page's main."""

    def check() -> dict[str, Any]:
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        style: dict[str, Any] = driver.execute_script(
            "const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();"
            "return {text: e.textContent, top: r.top, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)};"
        )
        focused.send_keys(Keys.ENTER)
        WebDriverWait(driver, 5).until(expected_conditions.url_contains("#main"))
        style["then"] = driver.execute_script("return document.activeElement.id")
        return style

    seen = await asyncio.to_thread(check)
    assert seen["text"] == "Skip to content" and seen["top"] >= 0, seen  # on screen once focused
    assert seen["outline"] != "none" and seen["width"] >= 2, seen  # a visible focus ring
    assert seen["then"] == "main", seen


async def test_every_page_has_no_serious_accessibility_violation_and_deployments_link_out(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    browser: webdriver.Chrome,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    history = build_history(tmp_path / "gitlab")
    port = free_port()
    ui = {"base_url": f"http://127.0.0.1:{port}"}
    deployments = deployments_section(str(history.repo.path))
    config = write_config(
        tmp_path, redis_url, prefix, redis_prefix=prefix, ui=ui, deployments=deployments, access=ACCESS
    )
    async with serving(config, slack, redis_url, prefix, history, port) as (bot, _):
        await _something_on_every_page(bot, history)
        url, found = bot.url, {}
        await asyncio.to_thread(browser.delete_all_cookies)
        link = await Dashboard(url, slack, prefix, bot.redis, bot.session).link()
        assert "Sign in" in await open_page(browser, link)
        found["sign-in"] = await axe_problems(browser)
        screenshot(browser, tmp_path, "signin")
        assert "flags" in await sign_in(browser, link)
        found["flags"] = await axe_problems(browser)
        await _skip_link_works(browser)
        for name, path in (("cleanup", "/ui/?cleanup=1"), ("flag", f"/ui/flags/{FLAG}"), ("activity", "/ui/activity")):
            await open_page(browser, url + path)
            found[name] = await axe_problems(browser)

        text = await open_page(browser, f"{url}/ui/deployments")
        found["deployments"] = await axe_problems(browser)
        assert "differs from gprd-cny: compare" in text and "new deployment running" in text, text
        assert await _links(browser, "compare") == [f"{WEB_URL}/-/compare/{history.latest}...{history.mr103_merge}"]
        assert sorted(await _links(browser, "pipeline")) == [f"{WEB_URL}/-/jobs/{n}" for n in (901, 902, 903)]
        screenshot(browser, tmp_path, "deployments")

        assert "Not found" in await open_page(browser, f"{url}/ui/flags/no_such_flag_anywhere")
        found["404"] = await axe_problems(browser)
        screenshot(browser, tmp_path, "404")
        assert "You are signed in as" in await open_page(browser, f"{url}/ui/signout")
        found["sign-out"] = await axe_problems(browser)
        assert "You are not signed in" in await _press_sign_out(browser)
        found["signed-out"] = await axe_problems(browser)
        assert "You are not signed in" in await open_page(browser, f"{url}/ui/")  # the 401 page
        found["401"] = await axe_problems(browser)
    assert not [page for page, problems in found.items() if problems], found
