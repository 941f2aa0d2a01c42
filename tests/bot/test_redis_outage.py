"""Redis stopped during a stream of commands: a clear answer for each, no false success, /readyz
turns 503, and the first command after Redis returns succeeds without a restart of the bot."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.bot.conftest import FLAG, BotUnderTest, start_bot, write_config
from tests.bot.slack_stub import SlackStub
from tests.redis_process import RedisProcess


@pytest.mark.slow
async def test_commands_during_a_redis_outage(tmp_path: Path, prefix: str, slack: SlackStub) -> None:
    server = RedisProcess(tmp_path).start()
    config = write_config(tmp_path, server.url, prefix)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    try:
        async with aiohttp.ClientSession() as session:
            bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
            outcomes = []
            for i in range(24):
                if i == 8:
                    server.stop()
                if i == 16:
                    server.start()
                kind, text = await bot.text(
                    f"run feature set {FLAG} {i + 1} --actors --staging", channel="#development"
                )
                outcomes.append((i, kind, text))
                if i == 12:
                    async with session.get(f"{url}/readyz") as response:
                        assert response.status == 503 and "redis for gstg" in await response.text()
            for i, kind, text in outcomes:
                if 8 <= i < 16:
                    assert kind == "ephemeral" and "Could not reach Redis for gstg" in text, (i, text)
                    assert "*Set to" not in text.split("\n")[0]
                else:
                    assert kind == "in_channel" and f"*Set to {i + 1}% of actors*: `{FLAG}` on gstg" in text, (i, text)
            async with session.get(f"{url}/readyz") as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
        server.stop()
