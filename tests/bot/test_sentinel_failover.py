"""A Sentinel failover during a stream of `feature set` commands: every change the bot reported
as done is there afterwards, on the new master."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
import redis

from tests.bot.conftest import FLAG, BotUnderTest, start_bot, write_config
from tests.bot.slack_stub import SlackStub
from tests.sentinel_setup import SentinelSetup


@pytest.mark.slow
async def test_failover_loses_no_reported_change(tmp_path: Path, prefix: str, slack: SlackStub) -> None:
    setup = await asyncio.to_thread(SentinelSetup, tmp_path)
    try:
        await _stream_through_a_failover(setup, tmp_path, prefix, slack)
    finally:
        setup.stop()  # also when an assertion fails: no Redis left running


async def _stream_through_a_failover(setup: SentinelSetup, tmp_path: Path, prefix: str, slack: SlackStub) -> None:
    config = write_config(tmp_path, setup.url, prefix)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    first_master = setup.master_port
    reported: list[int] = []
    refused = 0
    try:
        async with aiohttp.ClientSession() as session:
            bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
            deadline = time.monotonic() + 60
            i = 0
            while time.monotonic() < deadline:
                i += 1
                if i == 15:
                    await asyncio.to_thread(setup.failover)
                value = i % 100 + 1
                kind, text = await bot.text(
                    f"run feature set {FLAG} {value} --actors --staging", channel="#development", timeout=30
                )
                if kind == "in_channel":
                    reported.append(value)
                else:
                    refused += 1
                    assert "ould not reach Redis for gstg" in text or "changed there while the checks ran" in text, text
                if i > 15 and setup.master_port_now() != first_master and len(reported) >= 40:
                    break
    finally:
        await runner.cleanup()
    assert setup.master_port_now() != first_master, "the failover happened"
    new_master = redis.Redis(port=setup.master_port_now(), decode_responses=True)
    entries = new_master.xrange(f"{prefix}gstg:chatops:audit:{FLAG}")
    recorded = [int(json.loads(e[1]["after"])["percentage_of_actors"]) for e in entries]
    missing = [v for v in reported if v not in recorded]
    assert not missing, f"reported as done but lost: {missing} (refused during failover: {refused})"
    assert new_master.hgetall(f"{prefix}gstg:{FLAG}") == {"percentage_of_actors": str(reported[-1])}
