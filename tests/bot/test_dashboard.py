"""The dashboard in a real browser: Debian's chromium, headless, driven through chromedriver.

Signing in with the link a signed slash command answers with (its page's Sign in button); the
link a second time, an expired link, a forged link and no cookie are refused; the page shows what `feature set` wrote, the chart's
points are the audit stream's entries; a reason or a Slack name carrying <script> is text.
Screenshots of each page are saved (into $CHATOPS_SCREENSHOTS when set, e.g. docs/).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bot.dashboard import COOKIE
from bot.server import RUNTIME
from bot.slack_permalinks import SlackPermalinks
from flags.store import FlagStore
from handlers.approvals.store import APPROVAL_STORE
from handlers.core.freezes import Freeze
from handlers.dashboard.signin import SIGN_IN, Visitor
from handlers.freezes.store import FREEZE_STORE
from handlers.rollouts.store import ROLLOUT_STORE
from tests.bot.conftest import CHANNELS, SRE, BotUnderTest, signed_headers, start_bot, write_config
from tests.bot.dashboard_browser import link_token, sign_in
from tests.bot.deployments.conftest import (
    WEBHOOK_TOKEN,
    build_history,
    deployment_event,
    deployments_section,
    serving,
)
from tests.bot.slack_stub import HangingSlackStub, SlackStub
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
        assert f"<{dashboard.url}/ui/flags/{FLAG}|{FLAG}>" in answer, answer  # the flag's name links to its page
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
    _, answer = await dashboard.text(f"run feature set {FLAG} 60 --actors --staging", channel="#development")
    assert "*Set to" in answer, answer
    deadline = time.monotonic() + 10
    while True:  # the page from the live snapshot, with the change it was told of
        text = await _open(browser, f"{dashboard.url}/ui/?q=partitioned")
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
            for d in browser.find_elements(By.CSS_SELECTOR, "a.change[data-environment='gstg']")
        ]
    )
    store = dashboard.runner.app[RUNTIME].app.stores["staging"]  # type: ignore[attr-defined]
    stream = await store.redis.xrange(store.keys.audit(FLAG))
    assert len(stream) == 5
    assert [d[0] for d in dots] == [fields.get("entry", entry_id) for entry_id, fields in stream]
    assert [d[1] for d in dots] == ["25", "50", "25", "60", "25"]
    _shot(browser, tmp_path, "flag-edits")

    text = await _open(browser, f"{dashboard.url}/ui/deployments")
    assert "Deployments" in text
    text = await _open(browser, f"{dashboard.url}/ui/activity")
    assert "No approval is pending." in text and "No change freeze is in force." in text, text
    _shot(browser, tmp_path, "activity-empty")


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


# -- the exposure chart a person reads, and links out -----------------------------------------------


def _gates(value: str) -> str:
    """A state as the audit stream keeps it (Flipper's hash, as JSON): on, off or a percentage of actors."""
    gates = {"on": {"boolean": "true"}, "off": {}}.get(value, {"percentage_of_actors": value})
    return json.dumps(gates)


async def _write_history(
    store: FlagStore, flag: str, changes: list[tuple[float, str, str, str]], who: str = "alice"
) -> list[str]:
    """Audit entries at chosen times, as ``feature set`` writes them: (when, before, after, command);
    their ids, oldest first."""
    ids = []
    for version, (at, before, after, command) in enumerate(changes, 1):
        fields = {
            "version": str(version),
            "before": _gates(before),
            "after": _gates(after),
            "existed": "1",
            "exists": "1",
            "flag": flag,
            "environment": store.environment,
            "who": who,
            "who_id": "U0SRE",
            "at": f"{at:.6f}",
            "channel": "C0DEV",
            "command": command,
            "description": f"set to {after}",
            "checks": "{}",
        }
        ids.append(str(await store.redis.xadd(store.keys.audit(flag), fields, id=f"{int(at * 1000)}-0")))
    state = json.loads(_gates(changes[-1][2]))  # and the flag as the last one left it, in Flipper's layout
    await store.redis.sadd(store.keys.features, flag)
    if state:
        await store.redis.hset(store.keys.flag(flag), mapping=state)
    return ids


def _ticks(page: str) -> list[str]:
    """The time axis' labels (not the y-axis' percentages, not "now")."""
    labels = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', page)
    return [label for label in labels if not label.endswith("%") and not label.startswith("now")]


async def _page_over_http(dashboard: Dashboard, path: str) -> str:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        signin = {"token": link_token(await dashboard.link())}
        async with session.post(f"{dashboard.url}/ui/signin", data=signin) as signed:
            assert signed.status == 200
        async with session.get(f"{dashboard.url}{path}") as answer:
            assert answer.status == 200
            return await answer.text()


async def test_the_chart_over_minutes_reads_and_each_mark_leads_to_its_change_by_keyboard(
    dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    app = dashboard.runner.app[RUNTIME].app  # type: ignore[attr-defined]
    now = time.time()
    gstg_ids = await _write_history(
        app.stores["staging"],
        FLAG,
        [
            (now - 1500, "off", "25", f"/chatops run feature set {FLAG} 25 --actors --staging"),
            (now - 1080, "25", "on", f"/chatops run feature set {FLAG} true --staging"),
        ],
    )
    step = "/chatops run feature set {flag} {share} --actors --production (rollout R1 step {k}/2)"
    await _write_history(
        app.stores["production"],
        FLAG,
        [
            (now - 840, "off", "10", step.format(flag=FLAG, share=10, k=1)),
            (now - 360, "10", "50", step.format(flag=FLAG, share=50, k=2)),
        ],
    )
    await app.ports.need(FREEZE_STORE).put(Freeze("production", "manual", "incident 7", "carol", now - 240))
    await asyncio.to_thread(browser.delete_all_cookies)
    await sign_in(browser, await dashboard.link())
    text = await _open(browser, f"{dashboard.url}/ui/flags/{FLAG}")
    assert "dev, pre, gstg-ref, ops: off throughout" in text, text  # one line for the quiet environments
    page = str(await asyncio.to_thread(lambda: browser.page_source))
    lanes = re.findall(r'<text class="lane"[^>]*>([^<]*)</text>', page)
    assert lanes == ["gstg", "gprd"], lanes
    y_labels = re.findall(r'<text class="tick"[^>]*>(\d+%)</text>', page)
    assert y_labels == ["0%", "50%", "100%"] * 2, y_labels
    ticks = _ticks(page)
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d\d:\d\d", ticks[0]), ticks  # the first one is dated
    assert len(ticks) >= 4 and all(re.fullmatch(r"(.* )?\d\d:\d[05]", t) for t in ticks), ticks  # every 5 min
    values = re.findall(r'<text class="value"[^>]*>([^<]*)</text>', page)
    assert values == ["25%", "on", "10%", "50%"], values
    steps = await asyncio.to_thread(
        lambda: [
            (a.get_attribute("data-step"), len(a.find_elements(By.CSS_SELECTOR, "path.mark")))
            for a in browser.find_elements(By.CSS_SELECTOR, "a.change[data-environment='gprd']")
        ]
    )
    assert steps == [("R1 step 1/2", 1), ("R1 step 2/2", 1)], steps  # a rollout's steps are diamonds
    assert re.search(r'<g class="freeze"><title>gprd is frozen since [^<]* by carol: incident 7</title>', page)
    links = {
        label: await asyncio.to_thread(
            lambda label=label: browser.find_element(By.LINK_TEXT, label).get_attribute("href")
        )
        for label in ("gitlab-org/gitlab!136543", "gitlab-org/gitlab#431866", "gitlab-org/gitlab#431855")
    }
    assert links == {
        "gitlab-org/gitlab!136543": "https://gitlab.com/gitlab-org/gitlab/-/merge_requests/136543",
        "gitlab-org/gitlab#431866": "https://gitlab.com/gitlab-org/gitlab/-/issues/431866",
        "gitlab-org/gitlab#431855": "https://gitlab.com/gitlab-org/gitlab/-/issues/431855",
    }
    _shot(browser, tmp_path, "flag")

    rows = await asyncio.to_thread(
        browser.execute_script,
        "return [...document.querySelectorAll('a.change')].map(a => {"
        " const row = document.getElementById(a.getAttribute('href').slice(1));"
        " return row && row.tagName + ' ' + row.textContent; });",
    )
    assert len(rows) == 4 and all(r and r.startswith("TR ") for r in rows), rows  # every mark has its row
    first = await _tab_to_first_mark(browser)
    moment = time.strftime("%H:%M", time.gmtime(now - 1500))
    assert first["name"] == f"gstg: off → 25% of actors by alice at {moment} UTC", first
    assert first["ring"] not in ("none", ""), first  # the focus is seen
    await asyncio.to_thread(ActionChains(browser).send_keys(Keys.ENTER).perform)
    target = await asyncio.to_thread(
        browser.execute_script,
        "const t = document.querySelector(':target');"
        " return t && [location.hash, t.tagName, t.textContent, getComputedStyle(t.cells[0]).backgroundColor];",
    )
    assert target is not None, "Enter on the mark went nowhere"
    assert target[0] == f"#entry-gstg-{gstg_ids[0]}" and target[1] == "TR", target
    assert f"feature set {FLAG} 25 --actors --staging" in target[2], target
    assert target[3] == "rgb(255, 243, 176)", target  # the row it leads to stands out


async def _tab_to_first_mark(browser: webdriver.Chrome) -> dict[str, str]:
    """Tab from the top of the page until a chart mark has the focus: its name and its ring's stroke."""
    await asyncio.to_thread(browser.execute_script, "document.activeElement.blur(); window.scrollTo(0, 0);")
    for _ in range(40):
        await asyncio.to_thread(ActionChains(browser).send_keys(Keys.TAB).perform)
        found = await asyncio.to_thread(
            browser.execute_script,
            "const a = document.activeElement;"
            " return a.matches('a.change') ? {name: a.getAttribute('aria-label'),"
            " ring: getComputedStyle(a.querySelector('.ring')).stroke} : null;",
        )
        if found:
            return dict(found)
    raise AssertionError("no chart mark is reached by Tab")


async def test_the_chart_over_weeks_ticks_mondays_and_a_long_quiet_tail_is_drawn_short(dashboard: Dashboard) -> None:
    app = dashboard.runner.app[RUNTIME].app  # type: ignore[attr-defined]
    now, day = time.time(), 86400
    changes = [(now - 20 * day, "off", "10", ""), (now - 13 * day, "10", "50", ""), (now - 2 * day, "50", "on", "")]
    await _write_history(app.stores["staging"], FLAG, changes)
    page = await _page_over_http(dashboard, f"/ui/flags/{FLAG}")
    ticks = _ticks(page)
    assert len(ticks) >= 2 and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", t) for t in ticks), ticks
    year = time.gmtime(now).tm_year
    days = [time.strptime(f"{t} {year}", "%d %b %Y") for t in ticks]
    assert all(d.tm_wday == 0 for d in days), ticks  # weeks start on Mondays
    assert "later" not in page  # changes all along: no break

    quiet = "quiet_then_long_ago"  # three changes within two minutes, three weeks ago
    changes = [(now - 21 * day + s, before, after, "") for s, before, after in ((0, "off", "25"), (40, "25", "50"))]
    await _write_history(app.stores["production"], quiet, [*changes, (now - 21 * day + 100, "50", "on", "")])
    page = await _page_over_http(dashboard, f"/ui/flags/{quiet}")
    ticks = _ticks(page)
    assert len(ticks) >= 3 and all(re.fullmatch(r"(.* )?\d\d:\d\d:[0-5][05]", t) for t in ticks), ticks  # seconds
    assert ">now, 21 days later</text>" in page, page
    assert "dev, pre, gstg, gstg-ref, ops: off throughout" in page

    freezes = app.ports.need(FREEZE_STORE)
    await dashboard.redis.hset(freezes.key, "production|manual", "{not json")  # a record written by hand, broken
    page = await _page_over_http(dashboard, f"/ui/flags/{quiet}")
    assert '<p class="warn">Freezes could not be read, so none is marked: ' in page  # and the chart still shows
    assert ">now, 21 days later</text>" in page


APPROVAL_ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["sre"]}},
    {"environments": ["*"], "anyone": True},
]


@contextlib.asynccontextmanager
async def _serving(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> AsyncIterator[Dashboard]:
    """The bot with a dashboard, talking to ``slack``; production changes need an approval."""
    port = free_port()
    ui = {"base_url": f"http://127.0.0.1:{port}"}
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, ui=ui, access=APPROVAL_ACCESS)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops", port=port)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            dashboard = Dashboard(url, slack, prefix, client, session)
            dashboard.runner = runner
            yield dashboard
    finally:
        await runner.cleanup()
        await client.aclose()


async def test_the_activity_page_links_each_rollout_and_approval_to_its_message_in_slack(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, browser: webdriver.Chrome
) -> None:
    async with _serving(tmp_path, redis_url, prefix, slack) as dashboard:
        await _activity_links(dashboard, browser, tmp_path)


async def test_with_slack_not_answering_the_activity_page_comes_without_its_links(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    slack = await HangingSlackStub(
        channels=dict(CHANNELS), usergroups={"sre": SRE}, hanging={"chat.getPermalink"}
    ).start()
    try:
        async with _serving(tmp_path, redis_url, prefix, slack) as dashboard:
            rollout = f"run feature rollout {FLAG} --steps 10,50 --every 1h --dev"
            assert "Started R1" in (await dashboard.text(rollout, channel="#development"))[1]
            started = time.monotonic()
            page = await _page_over_http(dashboard, "/ui/activity")
            assert time.monotonic() - started < 5  # the page waits for Slack two seconds at most
            assert f"R1</b> · {FLAG} · running" in page and "in Slack" not in page, page
            assert slack.count("chat.getPermalink") == 1
    finally:
        await slack.stop()


async def _activity_links(dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path) -> None:
    slack, app = dashboard.slack, dashboard.runner.app[RUNTIME].app  # type: ignore[attr-defined]
    rollout = f"run feature rollout {FLAG} --steps 10,50 --every 1h --dev"
    assert "Started R1" in (await dashboard.text(rollout, channel="#development"))[1]
    (started,) = await app.ports.need(ROLLOUT_STORE).all()
    channel, _, ts = started.message.partition("|")
    await asyncio.to_thread(browser.delete_all_cookies)
    await sign_in(browser, await dashboard.link())
    text = await _open(browser, f"{dashboard.url}/ui/activity")
    assert "its message in Slack" in text and "its card in Slack" not in text, text
    link = await asyncio.to_thread(lambda: browser.find_element(By.LINK_TEXT, "its message in Slack"))
    href = await asyncio.to_thread(link.get_attribute, "href")
    assert href == f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}", href

    slack.fail_next("chat.getPermalink", 200, body={"ok": False, "error": "ratelimited"})  # the card's link
    _, asked = await dashboard.text(f"run feature set {FLAG} true --production --ignore-feature-flag-consistency-check")
    assert "Approval requested from @sre" in asked, asked
    text = await _open(browser, f"{dashboard.url}/ui/activity")
    assert f"A1 · {FLAG}" in text and "its card in Slack" not in text, text  # left out; the page still shows
    assert "its message in Slack" in text  # the rollout's, kept from the first page
    text = await _open(browser, f"{dashboard.url}/ui/activity")
    assert "its card in Slack" not in text and slack.count("chat.getPermalink") == 2  # not asked again at once

    permalinks = dashboard.runner.app[RUNTIME].permalinks  # type: ignore[attr-defined]
    assert isinstance(permalinks, SlackPermalinks)
    permalinks.retry_s = 0.0  # as a minute later
    text = await _open(browser, f"{dashboard.url}/ui/activity")
    (request,) = await app.ports.need(APPROVAL_STORE).pending()
    channel, _, ts = request.card.partition("|")
    link = await asyncio.to_thread(lambda: browser.find_element(By.LINK_TEXT, "its card in Slack"))
    href = await asyncio.to_thread(link.get_attribute, "href")
    assert href == f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}", href
    assert slack.count("chat.getPermalink") == 3
    _shot(browser, tmp_path, "activity")
