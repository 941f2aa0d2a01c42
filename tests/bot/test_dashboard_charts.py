"""The flag page's metric charts: after a change in a watched environment the page shows the
chart the watch posted in Slack (the same title and span), inline as SVG with its caption and its
words; a flag without a recent watch shows none. Against a real Prometheus scraping the metrics
application, over plain HTTP. And the inline SVG itself: text from data is text, nothing styles
or scripts the page, each chart's ids are its own, a chart that cannot be drawn is a line."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from selenium.webdriver.common.by import By

import bot.dashboard_charts
from bot.charts import BOUND_COLOUR, MARK_STYLES, SERIES_COLOURS
from bot.dashboard_charts import chart_figure
from bot.server import RUNTIME
from handlers.checks.prometheus import PrometheusClient
from handlers.core.charts import Bound, Chart, Mark, Panel, Series
from handlers.core.timefmt import utc
from handlers.dashboard.signin import SIGN_IN, Visitor
from handlers.watches.store import WATCH_STORE, Watch
from tests.bot.conftest import FLAG, BotUnderTest, start_bot, wait_healthy, write_config
from tests.bot.dashboard_browser import sign_in
from tests.bot.slack_stub import SlackStub, Upload
from tests.bot.test_dashboard import browser  # noqa: F401 (the headless Chromium fixture)
from tests.metric_history import until_chartable
from tests.metrics_harness import PrometheusWithApp, error_ratio, start_prometheus_with_app
from tests.redis_process import free_port

WINDOW = "6s"
_VOID = {"meta", "link", "input", "br", "img", "hr"}  # HTML elements that never close


@dataclass
class PageParts(HTMLParser):
    """What a page holds: each figure's caption and its svg's attributes, the tags and texts inside
    svg elements, every id, and every reference to one (``href="#…"``, ``url(#…)``)."""

    captions: list[str] = field(default_factory=list)
    charts: list[dict[str, str]] = field(default_factory=list)
    svg_tags: set[str] = field(default_factory=set)
    svg_texts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    strokes: set[str] = field(default_factory=set)
    _open: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "svg" and values.get("role") == "img" and "figure" in self._open:
            self.charts.append(values)
        if "svg" in self._open:
            self.svg_tags.add(tag)
        self.ids += [values["id"]] if "id" in values else []
        self.references += [v[1:] for k, v in values.items() if k.endswith("href") and v.startswith("#")]
        self.references += [r for v in values.values() for r in re.findall(r"url\(#([^)]+)\)", v)]
        self.strokes.update(re.findall(r"stroke: (#[0-9a-f]{6})", values.get("style", "")))
        if tag not in _VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self._open[-1:] == ["figcaption"]:
            self.captions.append(data)
        elif self._open[-1:] == ["text"] and "svg" in self._open:
            self.svg_texts.append(data)


def parts_of(page: str) -> PageParts:
    parts = PageParts()
    parts.feed(page)
    return parts


@pytest.fixture
def world(tmp_path: Path, redis_url: str, prefix: str) -> Iterator[PrometheusWithApp]:
    with start_prometheus_with_app(tmp_path, redis_url, prefix, error_rate=0.3, base_error_rate=0.02) as started:
        yield started


@pytest.fixture
async def watched(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, world: PrometheusWithApp
) -> AsyncIterator[tuple[BotUnderTest, Any]]:
    """The bot with the dashboard and a watch on gstg (every second, for 6 s), signed in; and its application."""
    port = free_port()
    check = {"query": error_ratio("{env}", WINDOW), "worse_when": "higher", "max_increase": "2x", "unit": "ratio"}
    metrics = {
        "prometheus": {"url": world.prometheus.url, "timeout": 2},
        "checks": {"error_ratio": check},
        "watch": {"checks": ["error_ratio"], "minutes": 0.1, "every": "1s", "environments": ["gstg"]},
    }
    ui = {"base_url": f"http://127.0.0.1:{port}"}
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, ui=ui, metrics=metrics)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops", port=port)
    client = aioredis.from_url(redis_url, decode_responses=True)
    app = runner.app[RUNTIME].app
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await wait_healthy(session, url)
            token = app.ports.need(SIGN_IN).token(Visitor("U0SRE", "sre"))
            async with session.post(f"{url}/ui/signin", data={"token": token}) as signed:
                assert signed.status == 200  # followed to the flags page
            yield BotUnderTest(url, slack, prefix, client, session), app
    finally:
        await runner.cleanup()
        await client.aclose()


async def _flag_page(bot: BotUnderTest) -> str:
    async with bot.session.get(f"{bot.url}/ui/flags/{FLAG}") as response:
        assert response.status == 200
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        return await response.text()


async def _finished_watch(app: Any, slack: SlackStub) -> tuple[Watch, Upload]:
    """The watch once it has ended and its final reply's chart is in Slack."""
    store = app.ports.need(WATCH_STORE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = [w for w in await store.all() if w.done]
        uploads = slack.uploads("#feature-flag-log")
        if done and uploads:
            return done[0], uploads[0]
        await asyncio.sleep(0.3)
    raise AssertionError("the watch did not end with its chart within 30 s")


async def _watched_change(
    bot: BotUnderTest, app: Any, slack: SlackStub, world: PrometheusWithApp
) -> tuple[Watch, Upload]:
    """``feature set`` on gstg once Prometheus has enough history to chart, and its watch once over."""
    await until_chartable(PrometheusClient(bot.session, world.prometheus.url), error_ratio("gstg", WINDOW))
    _, said = await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    assert "on gstg" in said, said
    return await _finished_watch(app, slack)


@pytest.mark.slow
async def test_the_flag_page_shows_the_chart_its_watch_posted(
    watched: tuple[BotUnderTest, Any], slack: SlackStub, world: PrometheusWithApp
) -> None:
    bot, app = watched
    before = await _flag_page(bot)
    assert "metric-chart" not in before and "Metric checks" not in before and "<figure" not in before
    watch, upload = await _watched_change(bot, app, slack, world)

    page = await _flag_page(bot)
    parts = parts_of(page)
    assert parts.captions == [f"Error ratio after {FLAG} on gstg, {utc(watch.changes[0].at)}"], parts.captions
    (chart,) = parts.charts
    words, _, values = chart["aria-label"].partition(" UTC: ")
    assert words == upload.alt_txt.partition(" UTC: ")[0]  # the title and span of the chart Slack has
    assert words.startswith(f"After {FLAG} on gstg, ") and upload.title == f"After {FLAG} on gstg"
    assert re.fullmatch(r"error ratio on gstg: \d+(\.\d+)?% at the end", values), values
    assert f"<summary>In words</summary><p>{chart['aria-label']}</p>" in page
    assert {SERIES_COLOURS[0], BOUND_COLOUR, MARK_STYLES["change"][0]} <= parts.strokes  # line, bound, change
    assert {f"After {FLAG} on gstg", "error ratio", "gstg"} <= set(parts.svg_texts), parts.svg_texts
    assert not {"style", "script", "metadata", "foreignobject"} & parts.svg_tags, parts.svg_tags
    assert len(parts.ids) == len(set(parts.ids)) and set(parts.references) <= set(parts.ids)


def _chart(title: str, environment: str, mark: str, alt: str) -> Chart:
    start = 1_767_000_000.0
    points = tuple((start + i * 30, 0.01 + 0.002 * (i % 5)) for i in range(61))
    panel = Panel("error ratio", "ratio", (Series(environment, points),), (Bound("bound 2%", 0.02),))
    return Chart(title, start, start + 1800, (panel,), (Mark(start + 900, mark, "change"),), alt)


def test_text_from_data_is_text_and_each_chart_keeps_its_own_ids() -> None:
    evil = '"><script>alert(1)</script>'
    charts = [
        _chart(f"After {evil} on gstg", f"gstg{evil}", f"f: off → {evil}", f"alt {evil}"),
        _chart("After my_flag on gstg", "gstg", "my_flag: off → on", "the other"),
    ]
    page = "".join(chart_figure(c, n) for n, c in enumerate(charts, 1))
    assert "<script" not in page and "<style" not in page and "<?xml" not in page and "<!DOCTYPE" not in page
    parts = parts_of(page)
    assert [c["aria-label"] for c in parts.charts] == [f"alt {evil}", "the other"]
    assert f"After {evil} on gstg" in parts.svg_texts and f"gstg{evil}" in parts.svg_texts, parts.svg_texts
    assert parts.captions == [
        f"Error ratio after {evil} on gstg, 2025-12-29 09:35 UTC",
        "Error ratio after my_flag on gstg, 2025-12-29 09:35 UTC",
    ]
    assert parts.ids and len(parts.ids) == len(set(parts.ids))
    assert set(parts.references) <= set(parts.ids) and {r.split("-")[0] for r in parts.references} == {
        "chart1",
        "chart2",
    }
    assert not any(k.startswith("on") for c in parts.charts for k in c)


def test_a_chart_without_panels_or_one_that_cannot_be_drawn_is_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    why = "Could not read the recent watches of my_flag: <refused>"
    assert chart_figure(Chart("Watches of my_flag", 0, 0, (), alt=why), 1) == f'<p class="warn">{escape(why)}</p>'
    dollars = _chart("After my_flag on gstg", "gstg", "my_flag: $x^$ → on", "what it shows")  # text, not maths
    assert "<svg" in chart_figure(dollars, 1)

    def broken(chart: Chart) -> str:
        raise ValueError("a chart its data breaks")

    monkeypatch.setattr(bot.dashboard_charts, "render_svg", broken)
    unreadable = _chart("After my_flag on gstg", "gstg", "my_flag: → on", "what it shows")
    said = chart_figure(unreadable, 1)
    assert said.startswith('<p class="warn">Error ratio after my_flag on gstg, ') and "<svg" not in said, said
    assert said.endswith("the chart could not be drawn. what it shows</p>"), said


@pytest.mark.slow
async def test_in_a_browser_the_chart_is_drawn_under_its_caption(
    watched: tuple[BotUnderTest, Any],
    slack: SlackStub,
    world: PrometheusWithApp,
    browser: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    bot, app = watched
    await _watched_change(bot, app, slack, world)
    token = app.ports.need(SIGN_IN).token(Visitor("U0SRE", "sre"))
    await asyncio.to_thread(browser.delete_all_cookies)
    await sign_in(browser, f"{bot.url}/ui/signin?token={token}")
    await asyncio.to_thread(browser.get, f"{bot.url}/ui/flags/{FLAG}")
    figure = await asyncio.to_thread(browser.find_element, By.CSS_SELECTOR, "figure.metric-chart")
    caption = await asyncio.to_thread(lambda: figure.find_element(By.TAG_NAME, "figcaption").text)
    svg = await asyncio.to_thread(figure.find_element, By.CSS_SELECTOR, "svg[role=img]")
    size = await asyncio.to_thread(lambda: svg.size)
    assert caption.startswith(f"Error ratio after {FLAG} on gstg, "), caption
    assert size["width"] >= 900 and 0.3 < size["height"] / size["width"] < 0.5, size  # its own shape, full width
    lines = await asyncio.to_thread(svg.find_elements, By.CSS_SELECTOR, f'path[style*="{SERIES_COLOURS[0]}"]')
    sizes = await asyncio.to_thread(lambda: [p.size for p in lines if p.is_displayed()])
    assert len(sizes) == 2 and all(s["width"] > 1 for s in sizes), sizes  # the series' line and its legend's sample
    folder = Path(os.environ.get("CHATOPS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    assert await asyncio.to_thread(figure.screenshot, str(folder / "dashboard-flag-chart.png"))
