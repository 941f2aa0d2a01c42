"""Two ``chatops serve`` processes on one Redis: ``kill -9`` of the one driving a rollout; the
other takes over and writes the remaining steps; the audit stream has exactly one entry per step."""

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


async def test_kill_9_of_the_driver_mid_rollout_loses_and_doubles_no_step(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    config = write_config(tmp_path, redis_url, prefix)
    client = aioredis.from_url(redis_url, decode_responses=True)
    audit = f"{prefix}gstg:chatops:audit:{FLAG}"
    processes: dict[int, tuple[subprocess.Popen[str], str]] = {}
    try:
        async with aiohttp.ClientSession() as session:
            processes = await start_servers(config, slack.url, session)
            holder = await lease_holder(client, prefix)
            other = next(pid for pid in processes if pid != holder)
            bot = BotUnderTest(processes[other][1], slack, prefix, client, session)
            start = f"run feature rollout {FLAG} --steps 10,20,30,40,50 --every 2s --staging"
            _, text = await bot.text(start, channel="#development")
            assert "Started R1" in text, text
            for _ in range(200):  # two steps written by the driver
                if await client.xlen(audit) >= 2:
                    break
                await asyncio.sleep(0.05)
            os.kill(holder, signal.SIGKILL)
            killed_at = time.monotonic()
            before = await client.xlen(audit)
            for _ in range(600):  # the survivor takes over and writes the next step
                if await client.xlen(audit) > before:
                    break
                await asyncio.sleep(0.05)
            takeover = time.monotonic() - killed_at
            for _ in range(600):
                if await client.hget(f"{prefix}gstg:{FLAG}", "percentage_of_actors") == "50":
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(3)  # nothing more comes
        entries = await client.xrange(audit)
        steps = [fields["command"].rsplit("(", 1)[1] for _, fields in entries]
        assert steps == [f"rollout R1 step {n}/5)" for n in range(1, 6)], steps  # each once, in order
        assert await client.hget(f"{prefix}gstg:{FLAG}", "percentage_of_actors") == "50"
        assert takeover < 10, takeover  # lease (4 s) + one attempt (1 s) + the step's own wait (2 s)
        assert await lease_holder(client, prefix) == other
    finally:
        stop_processes(p for p, _ in processes.values())
        await client.aclose()
