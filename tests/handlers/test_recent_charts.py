"""The charts of a flag's recent watches, as the dashboard asks for them (``RecentMetricCharts``):
from watches kept in a real Redis and series read from a real Prometheus scraping the metrics
application. Only the flag's watches, newest first, at most as many as asked; each drawn up to
where its watch ended; Prometheus or Redis unreachable is said, never raised."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from handlers.checks.prometheus import PrometheusClient
from handlers.config import parse_config
from handlers.config.metrics import Metrics
from handlers.core.charts import Chart
from handlers.core.metric_charts import BEFORE_S
from handlers.core.recent_charts import chart_caption
from handlers.core.timefmt import utc
from handlers.watches.recent import RecentWatchCharts
from handlers.watches.store import Watch, Watched, WatchStore
from tests.configs import FLAG, ROOT, example
from tests.helpers import delete_prefixed
from tests.metric_history import until_chartable
from tests.metrics_harness import PrometheusWithApp, error_ratio
from tests.redis_process import free_port

OTHER_FLAG = "some_other_flag"
WINDOW = "6s"


def _metrics(prometheus_url: str) -> Metrics:
    data: dict[str, Any] = example()
    data["definitions"] = [str(ROOT / "deploy" / "feature_flags")]
    check = {"query": error_ratio("{env}", WINDOW), "max_increase": "2x", "unit": "ratio"}
    data["metrics"] = {"prometheus": {"url": prometheus_url, "timeout": 2}, "checks": {"error_ratio": check}}
    metrics = parse_config(data).metrics
    assert metrics is not None
    return metrics


def _watch(number: int, flag: str, at: float, *, done: bool = True) -> Watch:
    change = Watched(flag, "staging", "sre", "U0SRE", at, "off", "on", f"E{number}", f"post-{number}")
    return Watch(
        f"W{number}",
        "staging",
        "gstg",
        ("error_ratio",),
        at,
        at + 6,
        (change,),
        baselines={"error_ratio": 0.01},
        read_at=at + 6.5 if done else 0.0,
        done=done,
    )


@pytest.fixture
async def watches(redis_url: str, prefix: str) -> AsyncIterator[WatchStore]:
    client = aioredis.from_url(redis_url)
    yield WatchStore(client, prefix)
    await client.aclose()
    delete_prefixed(redis_url, prefix)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def _charts(store: WatchStore, metrics: Metrics | None, client: PrometheusClient) -> RecentWatchCharts:
    return RecentWatchCharts(store, metrics, lambda: client)


@pytest.mark.slow
async def test_the_flag_s_last_watches_newest_first_each_drawn_to_its_end(
    watches: WatchStore, session: aiohttp.ClientSession, prometheus_with_app: PrometheusWithApp
) -> None:
    url = prometheus_with_app.prometheus.url
    await until_chartable(PrometheusClient(session, url), error_ratio("gstg", WINDOW))
    now = time.time()  # each watch's span takes in what Prometheus has scraped since it started
    moments = {1: now - 4, 2: now - 3, 3: now - 2.5, 4: now - 2, 5: now - 1}
    for number, at in moments.items():
        await watches.save(_watch(number, OTHER_FLAG if number == 3 else FLAG, at))
    await watches.save(_watch(6, FLAG, now - 5, done=False))  # still running: drawn up to now

    charts = await _charts(watches, _metrics(url), PrometheusClient(session, url)).for_flag(FLAG, 3)

    assert [c.marks[0].at for c in charts] == [moments[5], moments[4], moments[2]]
    for chart in charts:
        at = chart.marks[0].at
        assert chart.title == f"After {FLAG} on gstg" and chart.end == at + 6.5
        assert at - BEFORE_S <= chart.start <= chart.end - 60  # from where Prometheus' data starts, if later
        (panel,) = chart.panels
        (series,) = panel.series
        assert panel.title == "error ratio" and series.label == "gstg" and series.points, chart
        assert all(0 <= value <= 1 for _, value in series.points)
        assert chart.alt.startswith(f"After {FLAG} on gstg, ") and "error ratio on gstg: " in chart.alt, chart.alt
        assert "% at the end" in chart.alt, chart.alt
        assert chart_caption(chart) == f"Error ratio after {FLAG} on gstg, {utc(at)}"
    every = await _charts(watches, _metrics(url), PrometheusClient(session, url)).for_flag(FLAG, 10)
    assert [c.marks[0].at for c in every] == [moments[5], moments[4], moments[2], moments[1], now - 5]
    assert every[-1].end >= time.time() - 5  # the running watch's chart ends now


async def test_prometheus_unreachable_is_said_in_each_chart(
    watches: WatchStore, session: aiohttp.ClientSession
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    await watches.save(_watch(1, FLAG, time.time() - 60))
    (chart,) = await _charts(watches, _metrics(nowhere), PrometheusClient(session, nowhere, 1)).for_flag(FLAG, 3)
    assert chart.panels[0].series == ()
    assert "error ratio on gstg: not shown (Prometheus could not be reached" in chart.alt, chart.alt


async def test_its_own_redis_unreachable_is_a_line_saying_so(session: aiohttp.ClientSession) -> None:
    down = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        url = f"http://127.0.0.1:{free_port()}"
        (said,) = await _charts(WatchStore(down, "x:"), _metrics(url), PrometheusClient(session, url)).for_flag(FLAG, 3)
    finally:
        await down.aclose()
    assert said.panels == () and said.alt.startswith(f"Could not read the recent watches of {FLAG}: "), said


async def test_without_metrics_or_a_watch_of_the_flag_there_is_no_chart(
    watches: WatchStore, session: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = PrometheusClient(session, url)
    assert await _charts(watches, _metrics(url), client).for_flag(FLAG, 3) == []
    await watches.save(_watch(1, OTHER_FLAG, time.time() - 60))
    assert await _charts(watches, _metrics(url), client).for_flag(FLAG, 3) == []
    await watches.save(_watch(2, FLAG, time.time() - 30))
    assert await _charts(watches, None, client).for_flag(FLAG, 3) == []
    found: list[Chart] = await _charts(watches, _metrics(url), client).for_flag(FLAG, 3)
    assert [c.marks[0].at for c in found] == [(await watches.all())[1].started]
