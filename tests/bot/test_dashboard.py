"""The dashboard in a real browser: Debian's chromium, headless, driven through chromedriver.

Signing in with the link a signed slash command answers with (its page's Sign in button); the
link a second time, an expired link, a forged link and no cookie are refused; the page shows what `feature set` wrote, the chart's
points are the audit stream's entries; a reason or a Slack name carrying <script> is text.
Screenshots of each page are saved (into $CHATOPS_SCREENSHOTS when set, e.g. docs/).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from bot.dashboard import COOKIE
from bot.server import RUNTIME
from handlers.dashboard.signin import SIGN_IN, Visitor
from tests.bot.conftest import BotUnderTest, signed_headers, start_bot, write_config
from tests.bot.dashboard_browser import link_token, sign_in
from tests.bot.deployments.conftest import (
    WEBHOOK_TOKEN,
    build_history,
    deployment_event,
    deployments_section,
    serving,
)
from tests.bot.slack_stub import SlackStub
from tests.redis_process import RedisProcess, free_port

FLAG = "enforce_explicit_connection_for_partitioned_shared_models"  # the example definition
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), "")
DRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    assert CHROMIUM and Path(DRIVER).exists(), "install Debian's chromium and chromium-driver (.ci/run does)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


class Dashboard(BotUnderTest):
    runner: object = None

    async def link(self, user: str = "U0SRE", user_name: str = "") -> str:
        body, response_id = self.form("run dashboard", user, "#development", user_name or None)
        async with self.session.post(f"{self.url}/slack/events", data=body, headers=signed_headers(body)) as answer:
            assert answer.status == 200
        await self.slack.wait_for(lambda: self.slack.responses.get(response_id), 5)
        (message,) = self.slack.responses[response_id]
        assert message.get("response_type") == "ephemeral", message
        found = re.search(r"<(http://[^|>]+/ui/signin\?token=[^|>]+)\|", str(message))
        assert found, message
        return found.group(1)


@pytest.fixture
async def dashboard(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> AsyncIterator[Dashboard]:
    port = free_port()
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, ui={"base_url": f"http://127.0.0.1:{port}"})
    runner, url = await start_bot(config, slack, tmp_path / ".chatops", port=port)
    client = aioredis.from_url(redis_url, decode_responses=True)
    async with aiohttp.ClientSession() as session:
        bot = Dashboard(url, slack, prefix, client, session)
        bot.runner = runner
        yield bot
    await runner.cleanup()
    await client.aclose()


async def _open(browser: webdriver.Chrome, url: str) -> str:
    """Load ``url`` (off the event loop, which serves it) and return the page's text."""
    await asyncio.to_thread(browser.get, url)
    return str(await asyncio.to_thread(lambda: browser.find_element(By.TAG_NAME, "body").text))


def _shot(browser: webdriver.Chrome, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("CHATOPS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(folder / f"dashboard-{name}.png"))


async def test_sign_in_works_once_for_its_person_and_everything_else_is_refused(
    dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    async with dashboard.session.get(f"{dashboard.url}/ui/", allow_redirects=False) as anonymous:
        page = await anonymous.text()
        assert anonymous.status == 401 and "/chatops run dashboard" in page
        assert "<table" not in page  # nothing is rendered without a session
    link = await dashboard.link()
    signin = {"token": link_token(link)}
    async with aiohttp.ClientSession() as fresh:
        async with fresh.get(link, allow_redirects=False) as looked:  # the link's page only shows a button
            assert looked.status == 200 and "Set-Cookie" not in looked.headers
        async with fresh.post(f"{dashboard.url}/ui/signin", data=signin, allow_redirects=False) as signed:
            assert signed.status == 303 and signed.headers["Location"] == "/ui/"
            cookie = signed.headers["Set-Cookie"]
            assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
            assert "Max-Age=43200" in cookie and "Path=/ui" in cookie
    async with dashboard.session.post(f"{dashboard.url}/ui/signin", data=signin, allow_redirects=False) as again:
        assert again.status == 401 and "was used already" in await again.text()
    async with dashboard.session.get(link, allow_redirects=False) as looked:
        assert looked.status == 401 and "was used already" in await looked.text()

    await asyncio.to_thread(browser.delete_all_cookies)
    text = await sign_in(browser, await dashboard.link(user="U0ONCALL", user_name="oncall-person"))
    assert "flags" in text and "oncall-person" in text  # signed in, as the link's person
    (session,) = [c for c in await asyncio.to_thread(browser.get_cookies) if c["name"] == COOKIE]
    assert session["httpOnly"] is True and session["sameSite"] == "Lax" and session["secure"] is False
    _shot(browser, tmp_path, "flags-empty")

    runtime = dashboard.runner.app[RUNTIME]  # type: ignore[attr-defined]
    expired = runtime.app.ports.get(SIGN_IN).token(Visitor("U0SRE", "sre"), now=time.time() - 3600)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    for url, reason in (
        (f"{dashboard.url}/ui/signin?token={expired}", "This sign-in link has expired."),
        (forged, "This sign-in link is not one this bot made"),
        (f"{dashboard.url}/ui/signin?token=", "This sign-in link is not one this bot made"),
    ):
        await asyncio.to_thread(browser.delete_all_cookies)
        text = await _open(browser, url)
        assert reason in text and "/chatops run dashboard" in text, (url, text)
        assert not [c for c in await asyncio.to_thread(browser.get_cookies) if c["name"] == COOKIE]
    text = await _open(browser, f"{dashboard.url}/ui/flags/{FLAG}")  # no cookie now
    assert "You are not signed in" in text


async def test_the_pages_show_what_was_written_and_the_chart_is_the_audit_stream(
    dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    for state in ("25 --actors", "50 --actors"):
        _, answer = await dashboard.text(f"run feature set {FLAG} {state} --staging", channel="#development")
        assert "*Set to" in answer, answer
    _, answer = await dashboard.text(f"run feature set {FLAG} 25 --actors --staging", channel="#development")
    assert "*Set to" in answer, answer
    await asyncio.to_thread(browser.delete_all_cookies)
    text = await sign_in(browser, await dashboard.link())
    row = await asyncio.to_thread(
        lambda: browser.find_element(By.XPATH, f"//tr[td/a[text()='{FLAG}']]").find_elements(By.TAG_NAME, "td")
    )
    heads = await asyncio.to_thread(lambda: [th.text for th in browser.find_elements(By.CSS_SELECTOR, "thead th")])
    cells = dict(zip(heads, [await asyncio.to_thread(lambda c=c: c.text) for c in row], strict=False))
    assert cells["gstg"] == "25% of actors", cells
    assert cells["gprd"] == "off", cells
    _shot(browser, tmp_path, "flags")
    _, answer = await dashboard.text(f"run feature set {FLAG} 60 --actors --staging", channel="#development")
    assert "*Set to" in answer, answer
    deadline = time.monotonic() + 10
    while True:  # the page from the live snapshot, with the change it was told of
        text = await _open(browser, f"{dashboard.url}/ui/?name=partitioned")
        if "States from the live snapshot" in text and "60% of actors" in text:
            break
        assert time.monotonic() < deadline, text
        await asyncio.sleep(0.2)
    _, answer = await dashboard.text(f"run feature set {FLAG} 25 --actors --staging", channel="#development")
    assert "*Set to" in answer, answer

    text = await _open(browser, f"{dashboard.url}/ui/flags/{FLAG}")
    assert "History (5 changes)" in text, text
    dots = await asyncio.to_thread(
        lambda: [
            (d.get_attribute("data-entry"), d.get_attribute("data-share"))
            for d in browser.find_elements(By.CSS_SELECTOR, "circle.change[data-environment='gstg']")
        ]
    )
    store = dashboard.runner.app[RUNTIME].app.stores["staging"]  # type: ignore[attr-defined]
    stream = await store.redis.xrange(store.keys.audit(FLAG))
    assert len(stream) == 5
    assert [d[0] for d in dots] == [fields.get("entry", entry_id) for entry_id, fields in stream]
    assert [d[1] for d in dots] == ["25", "50", "25", "60", "25"]
    _shot(browser, tmp_path, "flag")

    text = await _open(browser, f"{dashboard.url}/ui/deployments")
    assert "Deployments" in text
    text = await _open(browser, f"{dashboard.url}/ui/activity")
    assert "No approval is pending." in text and "No change freeze is in force." in text, text
    _shot(browser, tmp_path, "activity")


async def test_script_in_a_reason_or_a_slack_name_is_text(dashboard: Dashboard, browser: webdriver.Chrome) -> None:
    evil = "<script>document.title='pwned'</script>"
    body, response_id = dashboard.form(
        f"run feature set {FLAG} true --staging", "U0SRE", "#development", user_name=f"mallory{evil}"
    )
    async with dashboard.session.post(
        f"{dashboard.url}/slack/events", data=body, headers=signed_headers(body)
    ) as answer:
        assert answer.status == 200
    await dashboard.slack.wait_for(lambda: dashboard.slack.responses.get(response_id), 5)
    _, killed = await dashboard.text(f'run feature kill {FLAG} --reason "{evil}" --staging', channel="#development")
    assert "kill" in killed.lower() or "off" in killed.lower(), killed
    await asyncio.to_thread(browser.delete_all_cookies)
    await sign_in(browser, await dashboard.link())
    text = await _open(browser, f"{dashboard.url}/ui/flags/{FLAG}")
    assert evil in text, text  # shown as the text it is
    assert await asyncio.to_thread(lambda: browser.find_elements(By.TAG_NAME, "script")) == []
    assert await asyncio.to_thread(lambda: browser.title) != "pwned"


async def test_behind_a_proxy_the_trusted_header_signs_in(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    ui = {
        "base_url": "https://chatops.example.com",
        "trusted_header": "X-Forwarded-Email",
        "trusted_proxies": ["127.0.0.1/32"],
    }
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    behind = {**ui, "trusted_proxies": ["10.0.0.0/8"]}  # the proxy is not where this request comes from
    config = write_config(elsewhere, redis_url, prefix, redis_prefix=prefix, ui=behind)
    runner, url = await start_bot(config, slack, elsewhere / ".chatops")
    forged_header = {"X-Forwarded-Email": "mallory@example.com"}
    async with aiohttp.ClientSession() as session, session.get(f"{url}/ui/", headers=forged_header) as forged:
        assert forged.status == 401 and "mallory" not in await forged.text()
    await runner.cleanup()
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, ui=ui)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/ui/", headers={"X-Forwarded-Email": "ada@example.com"}) as proxied:
            page = await proxied.text()
            assert proxied.status == 200 and "ada@example.com" in page and "<table" in page
            assert proxied.headers["Content-Security-Policy"].startswith("default-src 'none'")
        async with session.get(f"{url}/ui/", headers={"X-Forwarded-Email": " "}) as blank:
            assert blank.status == 401
        async with session.get(f"{url}/ui/deployments") as direct:
            assert direct.status == 401 and "/chatops run dashboard" in await direct.text()
        token = runner.app[RUNTIME].app.ports.get(SIGN_IN).token(Visitor("U0SRE", "sre"))
        async with session.post(f"{url}/ui/signin", data={"token": token}, allow_redirects=False) as signed:
            assert signed.status == 303 and "Secure" in signed.headers["Set-Cookie"]  # served as https
    await runner.cleanup()


async def test_with_its_own_redis_down_the_dashboard_says_so(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    (tmp_path / "own-redis").mkdir()
    own = RedisProcess(tmp_path / "own-redis").start()  # the bot's own Redis: sessions live there
    try:
        port = free_port()
        config = write_config(
            tmp_path, own.url, prefix, redis_prefix=prefix, ui={"base_url": f"http://127.0.0.1:{port}"}
        )
        runner, url = await start_bot(config, slack, tmp_path / ".chatops", port=port)
        token = runner.app[RUNTIME].app.ports.get(SIGN_IN).token(Visitor("U0SRE", "sre"))
        jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.post(f"{url}/ui/signin", data={"token": token}) as signed:
                assert signed.status == 200  # followed to the flags page
            own.stop()
            async with session.get(f"{url}/ui/") as down:
                assert down.status == 503 and "cannot reach its own Redis" in await down.text()
            async with session.get(f"{url}/ui/signin?token={token}") as again:
                assert again.status == 503 and "try again in a minute" in await again.text()
        await runner.cleanup()
    finally:
        own.stop()


async def test_deployments_and_activity_pages_show_what_chat_shows(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    browser: webdriver.Chrome,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    history = build_history(tmp_path / "gitlab")
    port = free_port()
    access = [
        {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["sre"]}},
        {"environments": ["*"], "anyone": True},
    ]
    config = write_config(
        tmp_path,
        redis_url,
        prefix,
        redis_prefix=prefix,
        ui={"base_url": f"http://127.0.0.1:{port}"},
        deployments=deployments_section(str(history.repo.path)),
        access=access,
    )
    async with serving(config, slack, redis_url, prefix, history, port) as (bot, _):
        url = bot.url
        event = deployment_event("gstg", history.latest, "success", "2026-11-26 09:00:00 +0000")
        assert (await bot.webhook(event))[0] == 200
        rollout = f"run feature rollout {FLAG} --steps 10,50 --every 1h --dev"
        assert "Started R1" in (await bot.text(rollout, channel="#development"))[1]
        assert "Frozen" in (await bot.text('run freeze on --staging --reason "<b>incident</b> 42"'))[1]
        _, asked = await bot.text(f"run feature set {FLAG} true --production --ignore-feature-flag-consistency-check")
        assert "Approval requested from @sre" in asked, asked
        dashboard = Dashboard(url, slack, prefix, bot.redis, bot.session)
        await asyncio.to_thread(browser.delete_all_cookies)
        await sign_in(browser, await dashboard.link())
        text = await _open(browser, f"{url}/ui/deployments")
        assert "gstg" in text and history.latest[:11] in text, text
        text = await _open(browser, f"{url}/ui/activity")
        assert f"R1 · {FLAG} · running" in text and re.search(r"steps · next: (10|50)% at ", text), text
        assert "gstg is frozen since " in text and "<b>incident</b> 42" in text, text  # as text, not bold
        assert f"A1 · {FLAG} · /chatops run feature set {FLAG} true --production" in text, text
        bold = await asyncio.to_thread(lambda: [b.text for b in browser.find_elements(By.CSS_SELECTOR, "main b")])
        assert "incident" not in bold and "R1" in bold, bold  # the reason's tags are text, not markup
