"""kill -9 in the middle of a four-environment change: the next process finishes or undoes it.

dev and pre live on one Redis server, gstg and gprd on another whose writes are paused
(``CLIENT PAUSE WRITE``), so the change is caught after dev and pre were written (together,
in one script) and before gstg and gprd: that is when the server is killed. A new server
finds the change in the journal once its lease runs out, settles it, and tells the person
(a direct message) and the log channel. Nothing is lost or written twice.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.bot.conftest import FLAG, BotUnderTest, serve_process, stop_processes, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub
from tests.configs import example_environments
from tests.redis_process import RedisProcess, free_port

pytestmark = pytest.mark.slow

OPTIONS = ("dev", "pre", "staging", "production")
COMMAND = "run feature set {flag} {value} --dev --pre --staging --production --ignore-production-check"


async def _states(clients: dict[str, aioredis.Redis], prefix: str) -> dict[str, dict[str, str]]:
    return {o: await clients[o].hgetall(f"{prefix}{_p(o)}{FLAG}") for o in OPTIONS}


@pytest.mark.parametrize(
    ("start", "value", "action"),
    [
        ("false", "true", "undone"),  # raising exposure: undone where it was written
        ("true", "false", "finished"),  # reducing exposure: finished where it was not
    ],
    ids=["raising change is undone", "reducing change is finished"],
)
async def test_kill_9_midway_is_finished_or_undone_once_and_told(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    start: str,
    value: str,
    action: str,
) -> None:
    other = RedisProcess(tmp_path).start()
    config = write_config(
        tmp_path, redis_url, prefix, environments=example_environments(prefix, staging=other.url, production=other.url)
    )
    here = aioredis.from_url(redis_url, decode_responses=True)
    there = aioredis.from_url(other.url, decode_responses=True)
    clients = {"dev": here, "pre": here, "staging": there, "production": there}
    processes = []
    try:
        async with aiohttp.ClientSession() as session:
            port = free_port()
            first = serve_process(config, port, slack.url, token="xoxb-crash-test")
            processes.append(first)
            bot = BotUnderTest(f"http://127.0.0.1:{port}", slack, prefix, here, session)
            await wait_healthy(session, bot.url)
            if start == "true":
                _, text = await bot.text(COMMAND.format(flag=FLAG, value="true"), timeout=20)
                assert f"*Enabled*: `{FLAG}` on dev, pre, gstg, gprd" in text, text
            versions = {o: await _audits(clients, prefix, o) for o in OPTIONS}

            await there.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
            answer = await bot.send(COMMAND.format(flag=FLAG, value=value))
            assert answer.status == 200
            for _ in range(200):  # dev and pre are written; gstg and gprd wait on the paused server
                if await _audits(clients, prefix, "pre") > versions["pre"]:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("dev and pre were never written")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            await there.execute_command("CLIENT", "UNPAUSE")
            assert await here.hlen(f"{prefix}chatops:journal") == 1  # the change, left unfinished
            assert slack.responses.get(answer.response_id) is None  # and never answered

            port = free_port()
            second = serve_process(config, port, slack.url, token="xoxb-crash-test")
            processes.append(second)
            await slack.wait_for(lambda: slack.posts("U0SRE"), timeout=40)
            await slack.wait_for(lambda: _told(slack, action), timeout=5)
        states = await _states(clients, prefix)
        assert states == {o: {} for o in OPTIONS}  # no gate on anywhere: nothing half-done
        known = {o: await clients[o].sismember(f"{prefix}{_p(o)}flipper_features", FLAG) for o in OPTIONS}
        # undone: back to not set everywhere; finished: false (and so known) everywhere, as asked
        assert known == {o: action == "finished" for o in OPTIONS}
        (message,) = slack.post_texts("U0SRE")
        assert f"Interrupted change of `{FLAG}` by" in message and f": {action}" in message
        assert "The bot stopped (a crash or a restart) while writing" in message
        assert "It had been written to *dev, pre*." in message
        # the log channel reads it as any change: what stands written, where, with the command recorded
        (logged,) = _told(slack, action)
        assert ("on dev, pre by" if action == "undone" else "on dev, pre, gstg, gprd by") in logged, logged
        assert len(slack.post_texts("#g_database_frameworks")) == (2 if action == "finished" else 0)  # gprd changed
        audits = {o: await _audits(clients, prefix, o) for o in OPTIONS}
        # undone: dev and pre, the write and one undo, gstg and gprd never written; finished: one write each
        added = {"dev": 2, "pre": 2, "staging": 0, "production": 0} if action == "undone" else dict.fromkeys(OPTIONS, 1)
        assert audits == {o: versions[o] + added[o] for o in OPTIONS}
        # the entry is closed once the person and the log channel were told (telling comes first,
        # so that a recovery that dies in between tells again rather than never)
        for _ in range(100):
            if await here.hlen(f"{prefix}chatops:journal") == 0:
                break
            await asyncio.sleep(0.05)
        assert await here.hlen(f"{prefix}chatops:journal") == 0
    finally:
        stop_processes(processes)
        other.stop()
        await here.aclose()
        await there.aclose()


def _told(slack: SlackStub, action: str) -> list[str]:
    """What the log channel was told of the recovery (its writes are recorded as "undone after…")."""
    return [t for t in slack.post_texts("#feature-flag-log") if f"{action} after the bot stopped midway: " in t]


def _p(option: str) -> str:
    return {"dev": "dev:", "pre": "pre:", "staging": "gstg:", "production": "gprd:"}[option]


async def _audits(clients: dict[str, aioredis.Redis], prefix: str, option: str) -> int:
    return len(await clients[option].xrange(f"{prefix}{_p(option)}chatops:audit:{FLAG}"))
