"""`chatops serve` as a real process: health, a signed command, and its answer via the stub."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.bot.conftest import FLAG, SIGNING_SECRET, BotUnderTest, serve_process, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.redis_process import free_port


@pytest.mark.parametrize("workers", [[], ["--workers=2"]], ids=["one process", "--workers=2"])
async def test_chatops_serve_process(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, workers: list[str]
) -> None:
    config = write_config(tmp_path, redis_url, prefix)
    port = free_port()
    process = serve_process(config, port, slack.url, *workers, token="xoxb-serve")
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
            message = await bot.command(f"run feature set {FLAG} true --staging", channel="#development")
            assert f"*Enabled*: `{FLAG}` on gstg" in message_text(message)
            for n in range(4):  # with workers, the kernel spreads these connections over them
                async with aiohttp.ClientSession() as fresh:
                    bot = BotUnderTest(url, slack, prefix, None, fresh)  # type: ignore[arg-type]
                    message = await bot.command(f"run feature get {FLAG} --staging", channel="#development")
                    assert "on" in message_text(message), n
            async with session.get(f"{url}/metrics") as response:
                assert response.status == 200 and "python_info" in await response.text()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert '"event": "bot.serving"' in stderr
    if workers:
        assert '"workers": 2' in stderr and '"event": "bot.workers_started"' in stderr, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "xoxb-serve" not in stderr and SIGNING_SECRET not in stderr
