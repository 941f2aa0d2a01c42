"""The charts of a flag's recent watches, for the dashboard (``RecentMetricCharts``): each drawn
as the watch's final reply posts it, from the watch kept in the bot's Redis (a week) and what
Prometheus answers now."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from redis.exceptions import RedisError

from handlers.checks.prometheus import PrometheusClient
from handlers.config.metrics import Metrics
from handlers.core.charts import Chart
from handlers.core.recent_charts import no_chart
from handlers.watches.chart import watch_chart
from handlers.watches.store import Watch, WatchStore

__all__ = ["RecentWatchCharts"]

_log = structlog.get_logger("chatops.watch")


class RecentWatchCharts:
    """``metrics`` (None: no metrics configured, no charts) and ``prometheus``, which gives the
    client of the configured Prometheus (``Services.prometheus``)."""

    def __init__(
        self, store: WatchStore, metrics: Metrics | None, prometheus: Callable[[], PrometheusClient | None]
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._prometheus = prometheus

    async def for_flag(self, flag: str, limit: int) -> list[Chart]:
        metrics = self._metrics
        client = self._prometheus() if metrics is not None else None
        if metrics is None or client is None or limit < 1:
            return []
        try:
            watches = await self._store.all()
        except (RedisError, OSError, ValueError, TypeError, KeyError) as error:  # down, or a record not ours
            _log.warning("watch.charts_unread", flag=flag, error=str(error)[:200])
            return [no_chart(f"Watches of {flag}", f"Could not read the recent watches of {flag}: {error}")]
        recent = sorted((w for w in watches if _changes(w, flag)), key=_newest_first)[:limit]
        now = time.time()
        charts = (watch_chart(client, metrics, w, end=w.read_at if w.done else now) for w in recent)
        return list(await asyncio.gather(*charts))


def _changes(watch: Watch, flag: str) -> bool:
    return any(change.flag == flag for change in watch.changes)


def _newest_first(watch: Watch) -> tuple[float, int]:
    return -watch.started, -int(watch.id[1:])
