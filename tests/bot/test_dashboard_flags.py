"""The flags page at scale, in a real browser (Debian's chromium through chromedriver): 10,000
flags on six environments, paged on the server, sorted by name, last change and group, filtered
by search, type, state per environment, "changed since" and cleanup — every view a GET link
followed as a person follows it; the cells' badges (a rollout, a freeze, a kill, an approval
asked, each made with the bot's own commands); and an environment whose Redis is down saying
"unknown" per cell with when it was last read. The flags page's screenshot is saved (into
$CHATOPS_SCREENSHOTS when set, e.g. docs/).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import types
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
import redis.asyncio as aioredis
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import flags.store
from flags import AuditInfo, FlagStore, build_change
from handlers.composition.background import LIVE_POLL_S
from handlers.config import load_config
from tests.bot.conftest import ROOT, start_bot, write_config
from tests.bot.dashboard_browser import axe_problems, sign_in
from tests.bot.many_flags import ENVIRONMENTS, Many, flag_name, shown_state, write_definitions, write_flags
from tests.bot.slack_stub import SlackStub
from tests.bot.test_dashboard import FLAG, Dashboard, _open, _shot, browser
from tests.configs import example_environments
from tests.redis_process import RedisProcess, free_port

__all__ = ["browser"]  # the browser fixture, shared with test_dashboard.py

DASH = "\u2013"  # an en dash, as the page's count has it
MANY = Many(10_000, defined=1_000)
AGED = {"aged_forty_days": 40, "aged_ten_days": 10, "aged_three_days": 3}  # flags last changed so long ago
NAMES = sorted([flag_name(i) for i in range(MANY.count)] + list(AGED) + [FLAG])  # FLAG: defined, not set
INDEX = {flag_name(i): i for i in range(MANY.count)}
CHANGED = flag_name(5)  # changed through the bot by the sorts and filters test (it was 38% of actors on gstg)
ALL = "--dev --pre --staging --staging-ref --ops --production"
ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["sre"]}},
    {"environments": ["*"], "anyone": True},
]


async def _write_aged(stores: list[FlagStore], monkeypatch: pytest.MonkeyPatch) -> None:
    """AGED's flags switched on everywhere through the store, dated that many days ago (the
    store's clock set back while they are written, as a person's change then would be)."""
    audit = AuditInfo(who="alice", channel="#production", command="/chatops run feature set … true")
    for name, days in AGED.items():
        with monkeypatch.context() as patched:
            patched.setattr(flags.store, "time", types.SimpleNamespace(time=lambda d=days: time.time() - d * 86400))
            for store in stores:
                await store.apply(name, build_change("true"), audit)


@contextlib.asynccontextmanager
async def serving_many(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch, **redis_urls: str
) -> AsyncIterator[Dashboard]:
    """The bot serving the dashboard over 10,004 flags (``redis_urls``: environments, by option,
    on a Redis of their own)."""
    port = free_port()
    definitions = write_definitions(tmp_path / "definitions", MANY)
    config = write_config(
        tmp_path,
        redis_url,
        prefix,
        redis_prefix=prefix,
        ui={"base_url": f"http://127.0.0.1:{port}"},
        definitions=[str(ROOT / "deploy" / "feature_flags"), definitions],
        access=ACCESS,
        environments=example_environments(prefix, **redis_urls),
    )
    client = aioredis.from_url(redis_url, decode_responses=True)
    clients = {url: aioredis.from_url(url, decode_responses=True) for url in redis_urls.values()}
    environments = load_config(config).environments
    targets = [(clients.get(e.redis_url or "", client), e.prefix) for e in environments]
    await write_flags(targets, MANY.count)
    stores = [FlagStore(c, prefix=p, environment=e.name) for (c, p), e in zip(targets, environments, strict=True)]
    await _write_aged(stores, monkeypatch)
    for own in clients.values():
        await own.aclose()
    runner, url = await start_bot(config, slack, tmp_path / ".chatops", port=port)
    try:
        async with aiohttp.ClientSession() as session:
            bot = Dashboard(url, slack, prefix, client, session)
            bot.runner = runner
            yield bot
    finally:
        await runner.cleanup()
        await client.aclose()


@pytest.fixture
async def many(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Dashboard]:
    async with serving_many(tmp_path, redis_url, prefix, slack, monkeypatch) as bot:
        yield bot


async def _signed_in(bot: Dashboard, browser: webdriver.Chrome) -> None:
    """Sign the browser in and wait until the page reads the live snapshots."""
    await asyncio.to_thread(browser.delete_all_cookies)
    await sign_in(browser, await bot.link())
    deadline = time.monotonic() + 30
    while "States from the live snapshot" not in await _open(browser, f"{bot.url}/ui/"):
        assert time.monotonic() < deadline, "the live snapshots were not loaded in 30 s"
        await asyncio.sleep(0.3)


_ROWS = """return Array.from(document.querySelectorAll('table.flags tbody tr'),
  r => Array.from(r.cells, (c, i) => (i ? c : c.querySelector('a')).innerText.trim()))"""


async def _rows(browser: webdriver.Chrome) -> list[list[str]]:
    """The table's rows as shown: each cell's text (first the flag's name, without its icon links)."""
    found: list[list[str]] = await asyncio.to_thread(browser.execute_script, _ROWS)
    return found


async def _names(browser: webdriver.Chrome) -> list[str]:
    return [row[0] for row in await _rows(browser)]


async def _text(browser: webdriver.Chrome, css: str) -> str:
    return str(await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, css).text))


async def _follow(browser: webdriver.Chrome, css: str) -> dict[str, list[str]]:
    """Click what ``css`` finds (a link, a button) as a person does; once the page it leads to
    is loaded, that page's URL parameters."""
    before = await asyncio.to_thread(lambda: browser.current_url)
    await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, css).click())
    deadline = time.monotonic() + 10
    while (url := await asyncio.to_thread(lambda: browser.current_url)) == before or await asyncio.to_thread(
        browser.execute_script, "return document.readyState"
    ) != "complete":
        assert time.monotonic() < deadline, f"{css} led nowhere from {before}"
        await asyncio.sleep(0.05)
    return _params(str(url))


def _params(url: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        found.setdefault(key, []).append(value)
    return found


async def test_ten_thousand_flags_are_paged_on_the_server_with_links_that_keep_the_filters(
    many: Dashboard, browser: webdriver.Chrome
) -> None:
    await _signed_in(many, browser)
    total = f"{len(NAMES):,}"
    assert await _text(browser, "p.count") == f"Showing 1{DASH}100 of {total} flags. Page 1 of 101."
    assert await _names(browser) == NAMES[:100]
    assert await _follow(browser, ".pager a[rel=next]") == {"page": ["2"]}
    assert await _text(browser, "p.count") == f"Showing 101{DASH}200 of {total} flags. Page 2 of 101."
    assert await _names(browser) == NAMES[100:200]
    assert await _follow(browser, ".pager a[href$='page=101']") == {"page": ["101"]}
    assert await _names(browser) == NAMES[10_000:] and len(NAMES[10_000:]) == 4
    await _follow(browser, ".pager a[href='/ui/']")  # « First: the page without parameters
    assert await _names(browser) == NAMES[:100]
    body = await _open(browser, f"{many.url}/ui/?page=999")  # past the last page: the last page
    assert f"Showing 10,001{DASH}10,004 of {total} flags. Page 101 of 101." in body

    await _open(browser, f"{many.url}/ui/?state=gprd:on&state=gstg:off")
    wanted = [n for n in NAMES if n in INDEX and shown_state(INDEX[n], 5) == "on" and shown_state(INDEX[n], 2) == "off"]
    assert len(wanted) == 2_000 and await _names(browser) == wanted[:100]
    assert (
        await _text(browser, "p.count")
        == f"Showing 1{DASH}100 of 2,000 flags matching the filters ({total} in all). Page 1 of 20."
    )
    assert await _follow(browser, ".pager a[rel=next]") == {"state": ["gprd:on", "gstg:off"], "page": ["2"]}
    assert await _names(browser) == wanted[100:200]  # the next page of the same filter
    assert await _follow(browser, "th a[href*='sort=group']") == {"state": ["gprd:on", "gstg:off"], "sort": ["group"]}
    grouped = sorted((n for n in wanted if INDEX[n] < MANY.defined), key=lambda n: MANY.group(INDEX[n]))
    assert await _names(browser) == grouped[:100]  # sorting keeps the filter and starts at page 1


async def test_the_three_sorts_and_each_filter_show_the_rows_they_should(
    many: Dashboard, browser: webdriver.Chrome
) -> None:
    _, answer = await many.text(f"run feature set {CHANGED} 30 --actors --staging", channel="#development")
    assert "*Set to" in answer, answer
    await _signed_in(many, browser)
    await _sorts(many, browser)
    await _filters(many, browser)
    await _the_form(many, browser)


async def _sorts(many: Dashboard, browser: webdriver.Chrome) -> None:
    assert await _follow(browser, "thead th:first-child a") == {"order": ["desc"]}  # the current sort, turned
    assert await _names(browser) == NAMES[::-1][:100]
    assert await _follow(browser, "th a[href*='sort=changed']") == {"sort": ["changed"]}
    names = await _names(browser)  # newest first; flags never changed through the bot after, by name
    never = [n for n in NAMES if n not in AGED and n != CHANGED]
    assert names == [CHANGED, "aged_three_days", "aged_ten_days", "aged_forty_days", *never[:96]], names[:6]
    rows = await _rows(browser)
    assert re.fullmatch(r"\d+ (s|min) ago", rows[0][7]) and rows[1][7] == "3 days ago" and rows[4][7] == "—", rows[:5]
    assert await _follow(browser, "th a[href*='sort=changed']") == {"sort": ["changed"], "order": ["asc"]}
    assert (await _names(browser))[:4] == ["aged_forty_days", "aged_ten_days", "aged_three_days", CHANGED]
    await _follow(browser, "th a[href*='sort=group']")
    by_group = sorted(
        [flag_name(i) for i in range(MANY.defined)] + [FLAG],
        key=lambda n: MANY.group(INDEX[n]) if n in INDEX else "group::database frameworks",
    )
    assert await _names(browser) == by_group[:100]
    await _follow(browser, "th a[href*='sort=group']")  # descending: gamma first, names still in order
    assert await _names(browser) == [n for n in by_group if n in INDEX and MANY.group(INDEX[n]) == "group::gamma"][:100]


async def _filters(many: Dashboard, browser: webdriver.Chrome) -> None:
    cases: list[tuple[str, Callable[[str], bool]]] = [
        ("q=many_flag_0001", lambda n: n.startswith("many_flag_0001")),
        ("q=GROUP::BETA", lambda n: n in INDEX and MANY.group(INDEX[n]) == "group::beta"),  # case is ignored
        ("q=16.3", lambda n: n in INDEX and MANY.milestone(INDEX[n]) == "16.3"),
        ("type=wip", lambda n: n in INDEX and MANY.type(INDEX[n]) == "wip"),
        (
            "type=wip&q=group::alpha",
            lambda n: n in INDEX and MANY.type(INDEX[n]) == "wip" and MANY.group(INDEX[n]) == "group::alpha",
        ),
        (
            "state=ops:off&state=ops:on&state=dev:partly",
            lambda n: n in INDEX and shown_state(INDEX[n], 4) != "partly" and shown_state(INDEX[n], 0) == "partly",
        ),
        ("state=ops:unknown", lambda n: False),
        ("since=1d", lambda n: n == CHANGED),
        ("since=7d", lambda n: n in (CHANGED, "aged_three_days")),
        ("since=30d", lambda n: n in (CHANGED, "aged_three_days", "aged_ten_days")),
    ]
    for params, wanted in cases:
        await _open(browser, f"{many.url}/ui/?{params}")
        expected = [n for n in NAMES if wanted(n)]
        assert await _names(browser) == expected[:100], params
        count = await _text(browser, "p.count")
        assert f" of {len(expected):,} flags matching" in count or (not expected and "No flag matches" in count), (
            params,
            count,
        )
    await _open(browser, f"{many.url}/ui/?cleanup=1&q=aged_")  # on everywhere for 30+ days: clean it up
    rows = await _rows(browser)
    assert [r[0] for r in rows] == ["aged_forty_days"] and "fully on everywhere" in rows[0][-1], rows


async def _the_form(many: Dashboard, browser: webdriver.Chrome) -> None:
    """The filters form is a GET form: what is typed and chosen becomes the URL, and is shown chosen."""
    await _open(browser, f"{many.url}/ui/?sort=changed")
    await asyncio.to_thread(lambda: browser.find_element(By.NAME, "q").send_keys("group::gamma"))
    await asyncio.to_thread(lambda: Select(browser.find_element(By.NAME, "type")).select_by_value("beta"))
    await asyncio.to_thread(
        lambda: Select(browser.find_elements(By.CSS_SELECTOR, "select[name=state]")[5]).select_by_value("gprd:off")
    )
    params = await _follow(browser, "form.filters button")
    assert params == {
        "q": ["group::gamma"],
        "type": ["beta"],
        "since": [""],
        "state": ["", "", "", "", "", "gprd:off"],
        "sort": ["changed"],
    }, params
    expected = [
        n
        for n in NAMES
        if n in INDEX
        and MANY.group(INDEX[n]) == "group::gamma"
        and MANY.type(INDEX[n]) == "beta"
        and shown_state(INDEX[n], 5) == "off"
    ]
    assert await _names(browser) == expected[:100] and expected
    chosen = await asyncio.to_thread(
        lambda: [
            Select(s).first_selected_option.get_attribute("value")
            for s in browser.find_elements(By.CSS_SELECTOR, "select")
        ]
    )
    assert chosen == ["beta", "", "", "", "", "", "", "gprd:off"], chosen
    assert await asyncio.to_thread(lambda: browser.find_element(By.NAME, "q").get_attribute("value")) == "group::gamma"


async def _cell(browser: webdriver.Chrome, flag: str, environment: str) -> tuple[str, list[tuple[str, str]]]:
    """A cell's text and its badges (each its text and its accessible name)."""
    column = ENVIRONMENTS.index(environment) + 2  # after the flag's name
    found = await asyncio.to_thread(
        lambda: browser.find_element(By.XPATH, f"//tbody/tr[td[1]/a[1][text()='{flag}']]/td[{column}]")
    )
    badges = await asyncio.to_thread(
        lambda: [(b.text, b.get_attribute("aria-label") or "") for b in found.find_elements(By.CLASS_NAME, "badge")]
    )
    return str(await asyncio.to_thread(lambda: found.text)), badges


async def test_the_cells_show_a_rollout_a_freeze_a_kill_and_an_approval_in_words(
    many: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    killed, asked = flag_name(2), flag_name(3)  # on gstg; 27% of actors on gprd
    assert (
        "Started R1"
        in (await many.text(f"run feature rollout {FLAG} --steps 10,50 --every 1h --dev", channel="#development"))[1]
    )
    assert "Frozen" in (await many.text('run freeze on --staging-ref --reason "incident 42"'))[1]
    _, answer = await many.text(f"run feature kill {killed} --staging", channel="#development")
    assert "Killed" in answer, answer
    _, answer = await many.text(f"run feature set {asked} true --production --ignore-feature-flag-consistency-check")
    assert "Approval requested from @sre" in answer, answer
    await _signed_in(many, browser)
    await _open(browser, f"{many.url}/ui/?sort=changed")
    _shot(browser, tmp_path, "flags")
    assert await axe_problems(browser) == []  # badges, icon links, page links and the form, as axe-core sees them

    text, badges = await _cell(browser, FLAG, "dev")
    ((shown, said),) = badges
    assert text.startswith("10% of actors") and re.fullmatch(r"▶ 1/2 · (\d\d-\d\d )?\d\d:\d\d", shown), (text, badges)
    assert re.fullmatch(
        r"Rollout R1 running: step 1 of 2 written; next 50% of actors at 20\d\d-\d\d-\d\d \d\d:\d\d UTC", said
    )
    for flag in (FLAG, killed, asked, "aged_three_days"):  # every flag's cell on a frozen environment
        _, badges = await _cell(browser, flag, "gstg-ref")
        assert [b for b, _ in badges] == ["❄ frozen"] and "gstg-ref is frozen since " in badges[0][1], badges
        assert badges[0][1].endswith("by u0sre: incident 42"), badges
    text, badges = await _cell(browser, killed, "gstg")
    assert text == "off\n✖ killed" and [b for b, _ in badges] == ["✖ killed"], (text, badges)
    assert re.fullmatch(rf"Killed by u0sre at .* UTC: /chatops run feature kill {killed} --staging", badges[0][1])
    text, badges = await _cell(browser, asked, "gprd")
    assert text.startswith("27% of actors") and [b for b, _ in badges] == ["⚖ A1"], (text, badges)
    assert badges[0][1].startswith(f"Approval A1 pending: /chatops run feature set {asked} true --production"), badges
    assert "asked by u0sre; @sre may approve it until " in badges[0][1], badges
    assert (await _cell(browser, asked, "gstg"))[1] == []  # only where it asks to change

    assert "paused" in (await many.text(f"run feature rollout pause {FLAG}", channel="#development"))[1].lower()
    _, answer = await many.text(f"run feature set {killed} true --staging", channel="#development")
    assert "*Enabled*" in answer, answer
    await _open(browser, f"{many.url}/ui/?sort=changed")
    assert [b for b, _ in (await _cell(browser, FLAG, "dev"))[1]] == ["‖ 1/2"]
    assert (await _cell(browser, killed, "gstg"))[1] == []  # changed again since: no longer killed
    await _links_out(browser)


async def _links_out(browser: webdriver.Chrome) -> None:
    """The definition's merge request, rollout issue and feature issue, as icons named in words."""
    links = await asyncio.to_thread(
        lambda: [
            (a.text, a.get_attribute("href"), a.get_attribute("aria-label"))
            for a in browser.find_elements(By.XPATH, f"//tbody/tr/td[1][a[1][text()='{FLAG}']]/span/a")
        ]
    )
    assert links == [
        ("⎇", "https://gitlab.com/gitlab-org/gitlab/-/merge_requests/136543", f"Merge request that introduced {FLAG}"),
        ("⚐", "https://gitlab.com/gitlab-org/gitlab/-/issues/431866", f"Rollout issue of {FLAG}"),
        ("✎", "https://gitlab.com/gitlab-org/gitlab/-/issues/431855", f"Feature issue of {FLAG}"),
    ]


async def test_an_environment_whose_redis_is_down_is_unknown_in_each_cell_with_when_it_was_last_read(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    monkeypatch: pytest.MonkeyPatch,
    browser: webdriver.Chrome,
) -> None:
    (tmp_path / "ops-redis").mkdir()
    ops = RedisProcess(tmp_path / "ops-redis").start()
    try:
        async with serving_many(tmp_path, redis_url, prefix, slack, monkeypatch, ops=ops.url) as bot:
            await _signed_in(bot, browser)
            rows = await _rows(browser)
            assert rows[3][:7] == [NAMES[3], *(["off"] * 6)] and rows[0][5] == "on", rows[:4]
            ops.stop()
            started = time.time()
            deadline = time.monotonic() + 20
            while "Could not read ops: its Redis cannot be read now (last read " not in (
                page := await _open(browser, f"{bot.url}/ui/")
            ):
                assert time.monotonic() < deadline, page[:2000]
                await asyncio.sleep(0.2)
            rows = await _rows(browser)
            read = {r[5] for r in rows}
            assert len(read) == 1, read  # one time for the whole column
            found = re.fullmatch(r"unknown\nlast read (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", read.pop())
            assert found, rows[0]
            last = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            # the last good read, before it stopped (a full read comes every LIVE_POLL_S)
            assert started - LIVE_POLL_S - 5 < last <= started, (last, started)
            assert rows[0][4] == "on" and rows[3][1:5] == ["off"] * 4, rows[:4]  # the others as they are
            assert await axe_problems(browser) == []
            await _open(browser, f"{bot.url}/ui/?state=ops:unknown")
            assert (
                await _text(browser, "p.count")
                == f"Showing 1{DASH}100 of {len(NAMES):,} flags matching the filters ({len(NAMES):,} in all). Page 1 of 101."
            )
            assert "No flag matches the filters" in await _open(browser, f"{bot.url}/ui/?state=ops:on")
    finally:
        ops.stop()
