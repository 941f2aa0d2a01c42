"""The flags API read by a page in a real browser: OpenFeature's web SDK with its OFREP web provider
(from npm, written by nobody here) bundled by esbuild into tests/node/web's page, served from an
origin of its own and loaded in Debian's headless Chromium (through chromedriver), calling
``chatops serve`` (the flags API mounted) across origins with a front-end key: every front-end flag
in one bulk request, polled with its ETag; a change typed in Slack shows on the page at the next
poll; back-end flags never reach the page; a back-end key and an origin not listed are refused;
and, switching its context through 1,000 actors, the page answers as Ruby Flipper does."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.bot.conftest import BotUnderTest, start_bot
from tests.bot.slack_stub import SlackStub
from tests.bot.test_dashboard import CHROMIUM, DRIVER
from tests.bot.test_flags_api import ACTORS, GATE_KINDS, ONE, groups_of, post, set_gate_kinds
from tests.configs import ROOT
from tests.flags.flipper_oracle import FlipperOracle
from tests.flags_api_server import BACKEND, FRONTEND, KEYS, flags_api_config, flags_api_server, gprd_store, until
from tests.openfeature_js import bundle, bundle_page
from tests.redis_process import free_port

GPRD, WEB = KEYS["FLAGS_API_KEY_GPRD"], KEYS["FLAGS_API_KEY_WEB"]
POLL_MS = 250  # the page's pollInterval: short, so the test waits little
Page = dict[str, Any]


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    assert CHROMIUM and Path(DRIVER).exists(), "install Debian's chromium and chromium-driver (.ci/run does)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
async def page_server(tmp_path: Path) -> AsyncIterator[int]:
    """The bundled page, served on a port of its own (so from another origin than the API): its port."""
    folder = await asyncio.to_thread(bundle_page, tmp_path / "page")
    app = web.Application()
    app.router.add_static("/", folder)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port
    await runner.cleanup()


@pytest.fixture
async def mounted(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, page_server: int, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotUnderTest]:
    """``chatops serve`` with the flags API mounted, browsers allowed from the page's origin."""
    for variable, value in KEYS.items():
        monkeypatch.setenv(variable, value)
    origin = f"http://localhost:{page_server}"  # the API is on 127.0.0.1: another host, another port
    config = flags_api_config(tmp_path, redis_url, prefix, mount_in_serve=True, cors_origins=[origin])
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    try:
        async with aiohttp.ClientSession() as session:
            yield BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
    finally:
        await runner.cleanup()


async def open_page(
    browser: webdriver.Chrome, origin: str, api: str, key: str, user: str, poll_ms: int = POLL_MS
) -> None:
    query = {"api": api, "key": key, "user": user, "flags": f"{FRONTEND},{BACKEND}", "poll": str(poll_ms)}
    await asyncio.to_thread(browser.get, f"{origin}/index.html?{urlencode(query)}")


async def page_state(browser: webdriver.Chrome) -> Page:
    """What the page holds (``window.ofrep``): provider status, flags, requests, events."""
    found = await asyncio.to_thread(browser.execute_script, "return JSON.stringify(window.ofrep || null)")
    return json.loads(found) or {}


async def wait_for(browser: webdriver.Chrome, what: str, condition: Any, seconds: float = 10) -> Page:
    """The page's state once ``condition(state)`` holds (checked every 20 ms, for at most ``seconds``)."""

    def holds(driver: webdriver.Chrome) -> Page | None:
        state: Page = json.loads(driver.execute_script("return JSON.stringify(window.ofrep || null)")) or {}
        return state if state and condition(state) else None

    waiting = WebDriverWait(browser, seconds, poll_frequency=0.02)
    result: Page = await asyncio.to_thread(waiting.until, holds, f"the page never showed: {what}")
    return result


def shown(state: Page, flag: str) -> tuple[Any, ...]:
    item = state.get("flags", {}).get(flag, {})
    return item.get("value"), item.get("reason"), item.get("variant"), item.get("errorCode")


@pytest.mark.slow
async def test_a_page_reads_front_end_flags_and_sees_a_slack_change_at_the_next_poll(
    mounted: BotUnderTest, browser: webdriver.Chrome, page_server: int
) -> None:
    bot, page, api = mounted, f"http://localhost:{page_server}", f"{mounted.url}/gprd"
    await open_page(browser, page, api, WEB, "User:1")
    ready = await wait_for(browser, "ready", lambda s: s["status"] == "READY")
    assert shown(ready, FRONTEND) == (False, "DEFAULT", "off", None)  # defined, not set: its default
    assert shown(ready, BACKEND) == (False, "ERROR", None, "FLAG_NOT_FOUND")  # not for front ends
    first = ready["requests"][0]
    assert (first["status"], first["ifNoneMatch"], first["keys"]) == (200, None, [FRONTEND])
    unchanged = await wait_for(browser, "two polls", lambda s: len(s["requests"]) >= 3)
    assert [r["status"] for r in unchanged["requests"][1:3]] == [304, 304]  # polled with the ETag
    assert all(r["ifNoneMatch"] == first["etag"] for r in unchanged["requests"][1:3])

    text = (await bot.command(f"run feature set {BACKEND} false --production"))["text"]
    assert f"Disabled: {BACKEND} on gprd" in text, text
    polls = len((await page_state(browser))["requests"])
    later = await wait_for(browser, "two more polls", lambda s: len(s["requests"]) >= polls + 3)
    assert [r["status"] for r in later["requests"][1:]] == [304] * (len(later["requests"]) - 1), later

    change = f"run feature set {FRONTEND} true --production --user=1 --ignore-feature-flag-consistency-check"
    text = (await bot.command(change))["text"]
    assert f"Enabled for User:1: {FRONTEND} on gprd" in text, text
    polls = len((await page_state(browser))["requests"])
    on = await wait_for(browser, f"{FRONTEND} on for User:1", lambda s: shown(s, FRONTEND)[0] is True, 5)
    assert shown(on, FRONTEND) == (True, "TARGETING_MATCH", "on", None)
    assert shown(on, BACKEND) == (False, "ERROR", None, "FLAG_NOT_FOUND")
    requests = on["requests"]
    answered = [i for i, r in enumerate(requests) if r["status"] == 200]
    assert len(answered) == 2, requests  # the first request, and the poll that brought the change
    assert answered[1] <= polls + 2, requests  # the next poll (or the one after, if one was under way)
    assert requests[answered[1]]["ifNoneMatch"] == first["etag"] and requests[answered[1]]["keys"] == [FRONTEND]
    assert all(r["keys"] in (None, [FRONTEND]) for r in requests)  # the back-end flag never reached the page
    changes = [e["flagsChanged"] for e in on["events"] if e["event"] == "PROVIDER_CONFIGURATION_CHANGED"]
    assert changes == [[FRONTEND]]

    # A back-end key in a page, and a page from an origin not listed: refused, nothing read.
    await open_page(browser, page, api, GPRD, "User:1")
    refused = await wait_for(browser, "the back-end key refused", lambda s: s["status"] == "FATAL")
    assert [r["status"] for r in refused["requests"]] == [403] and refused["error"]
    assert shown(refused, FRONTEND)[3] == "PROVIDER_FATAL"
    await open_page(browser, f"http://127.0.0.1:{page_server}", api, WEB, "User:1")
    blocked = await wait_for(browser, "the origin refused", lambda s: s["status"] == "ERROR")
    assert [r["status"] for r in blocked["requests"]] == [0]  # the browser's CORS check failed the fetch
    assert "Failed to fetch" in blocked["requests"][0]["error"]
    assert shown(blocked, FRONTEND) == (False, "ERROR", None, "FLAG_NOT_FOUND")  # nothing was read


#: Runs window.evaluateEach (tests/node/web/page.mjs) with the contexts and flags given; its answers as JSON.
EVALUATE_EACH = """
const [contexts, flags, done] = arguments;
window.evaluateEach(contexts, flags).then(
  (answers) => done(JSON.stringify(answers)),
  (error) => done(JSON.stringify({ error: String(error) })),
);
"""
BATCH = 250  # actors per script call: few round trips through chromedriver, each well within its timeout


async def page_answers(browser: webdriver.Chrome, actors: list[str], flags: list[str]) -> list[Any]:
    """Per actor, what the page's context change fetched ([status, targetingKey sent] of each
    request) and each flag's [value, reason, errorCode] then, asked BATCH actors at a time."""
    await asyncio.to_thread(browser.set_script_timeout, 60)
    answers: list[Any] = []
    for start in range(0, len(actors), BATCH):
        contexts = [{"targetingKey": a, "groups": groups_of(a)} for a in actors[start : start + BATCH]]
        found = json.loads(await asyncio.to_thread(browser.execute_async_script, EVALUATE_EACH, contexts, flags))
        assert isinstance(found, list) and len(found) == len(contexts), found
        answers += found
    return answers


@pytest.mark.slow
async def test_the_page_answers_as_ruby_flipper_for_every_gate_kind_and_1000_actors(
    tmp_path: Path, redis_url: str, prefix: str, browser: webdriver.Chrome, page_server: int
) -> None:
    flags, page = list(GATE_KINDS), f"http://localhost:{page_server}"
    config = flags_api_config(tmp_path, redis_url, prefix, frontend_flags=flags, cors_origins=[page])
    oracle = FlipperOracle(redis_url)
    try:
        async with (
            aiohttp.ClientSession() as session,
            gprd_store(redis_url, prefix) as set_flag,
            flags_api_server(config, session) as server,
        ):
            await set_gate_kinds(set_flag)

            async def pushed() -> bool:
                _, body, _ = await post(
                    session, server.url + ONE + "kind_everything", {"context": {"targetingKey": "User:5"}}, WEB
                )
                return body.get("value") is True

            await until(pushed, 2, "the flags pushed")
            pairs: list[tuple[str, str | None]] = [(name, actor) for actor in ACTORS for name in flags]
            flipper = oracle.evaluate(f"{prefix}gprd:", pairs)
            await open_page(browser, page, f"{server.url}/gprd", WEB, "Visitor:0", poll_ms=0)  # polls never
            await wait_for(browser, "ready", lambda s: s["status"] == "READY")
            answers = await page_answers(browser, ACTORS, flags)
    finally:
        oracle.close()
    assert len(ACTORS) == 1000 and len(answers) == len(ACTORS)
    unfetched = [(a, requests) for a, (requests, _) in zip(ACTORS, answers, strict=True) if requests != [[200, a]]]
    assert unfetched == [], f"{len(unfetched)} context changes not fetched once for their actor: {unfetched[:3]}"
    details = [detail for _, per_flag in answers for detail in per_flag]
    errors = [(pair, d) for pair, d in zip(pairs, details, strict=True) if d[2] is not None]
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:3]}"
    disagreements = [(pair, ruby, d[0]) for pair, ruby, d in zip(pairs, flipper, details, strict=True) if d[0] != ruby]
    assert disagreements == [], f"{len(disagreements)} of {len(pairs)} differ from Flipper, e.g. {disagreements[:5]}"
    assert 0.2 < sum(flipper) / len(flipper) < 0.8  # both answers occur often


def _readme_browser_example() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Any language: the flags API (OFREP)\n")
    section = readme[start : readme.index("\n## ", start + 1)]
    [example] = [b for b in re.findall(r"```js\n(.*?)```", section, re.S) if b.startswith("// Browser")]
    return str(example)


@pytest.mark.slow
async def test_the_readme_browser_example_runs_in_a_page(
    mounted: BotUnderTest, browser: webdriver.Chrome, page_server: int, tmp_path: Path
) -> None:
    example = _readme_browser_example()
    assert "'https://flags.example.com/gprd'" in example and "'new_navigation'" in example
    source = tmp_path / "readme-example.mjs"  # the page's own values, the example, then what it read
    source.write_text(
        f"const currentUserId = 1;\nconst FRONTEND_KEY = {json.dumps(WEB)};\n"
        + example.replace("https://flags.example.com/gprd", f"{mounted.url}/gprd")
        + "document.title = JSON.stringify(on);\n"
    )
    await asyncio.to_thread(bundle, source, tmp_path / "page" / "readme.js")
    (tmp_path / "page" / "readme.html").write_text('<!doctype html><script type="module" src="readme.js"></script>')
    change = f"run feature set {FRONTEND} true --production --user=1 --ignore-feature-flag-consistency-check"
    text = (await mounted.command(change))["text"]
    assert f"Enabled for User:1: {FRONTEND} on gprd" in text, text
    await asyncio.to_thread(browser.get, f"http://localhost:{page_server}/readme.html")
    waiting = WebDriverWait(browser, 10, poll_frequency=0.02)
    await asyncio.to_thread(waiting.until, lambda driver: driver.title, "the example never finished")
    assert browser.title == "true"
