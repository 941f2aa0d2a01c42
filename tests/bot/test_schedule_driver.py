"""Two ``chatops serve`` processes on one Redis: a scheduled change runs exactly once, even when
the process driving the timers is killed (``kill -9``) before it is due."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.bot.conftest import FLAG, BotUnderTest, lease_holder, start_servers, stop_processes, write_config
from tests.bot.slack_stub import SlackStub

pytestmark = pytest.mark.slow


async def test_a_schedule_runs_once_when_its_driver_is_killed(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    config = write_config(tmp_path, redis_url, prefix)
    client = aioredis.from_url(redis_url, decode_responses=True)
    processes: dict[int, tuple[subprocess.Popen[str], str]] = {}
    try:
        async with aiohttp.ClientSession() as session:
            processes = await start_servers(config, slack.url, session)
            holder = await lease_holder(client, prefix)
            other = next(pid for pid in processes if pid != holder)
            bot = BotUnderTest(processes[other][1], slack, prefix, client, session)
            _, text = await bot.text(f"run feature set {FLAG} true --staging --in 4s", channel="#development")
            assert "runs at" in text, text
            os.kill(holder, signal.SIGKILL)  # the driver dies before the schedule is due
            killed_at = time.monotonic()
            await slack.wait_for(lambda: _scheduled(slack), timeout=20)
            took = time.monotonic() - killed_at
            await asyncio.sleep(2)  # nothing else comes
        history = await client.xrange(f"{prefix}gstg:chatops:audit:{FLAG}")
        assert len(history) == 1 and history[0][1]["command"].endswith("(schedule S1)")
        assert await client.hgetall(f"{prefix}gstg:{FLAG}") == {"boolean": "true"}
        (post,) = _scheduled(slack)
        assert "*gstg*: `off` → `on`" in post
        assert took < 12, took  # the survivor took over (within the lease) and ran it when due
        assert await lease_holder(client, prefix) == other
    finally:
        stop_processes(p for p, _ in processes.values())
        await client.aclose()


def _scheduled(slack: SlackStub) -> list[str]:
    return [t for t in slack.post_texts("#development") if t.startswith("Scheduled change S1")]
