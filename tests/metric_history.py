"""Waiting for a fresh Prometheus to have enough history to chart: a chart spans half an hour
before a change (``BEFORE_S``) read in 240 steps of 7.5 s, so a Prometheus started seconds ago may
give it no point at all, and then nothing to start the chart from (``metric_chart`` starts it
where the data does, read again at that span's resolution, only once it has a point)."""

from __future__ import annotations

import asyncio
import time

from handlers.checks.prometheus import PrometheusClient
from handlers.core.metric_charts import BEFORE_S

__all__ = ["until_chartable"]


async def until_chartable(client: PrometheusClient, query: str, points: int = 1, timeout: float = 45.0) -> None:
    """Until ``query`` over a chart's span ending now has ``points`` values; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        now = time.time()
        found = await client.values(query, now - BEFORE_S, now)
        if len(found) >= points:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} points within {timeout} s for {query}")
        await asyncio.sleep(0.5)
