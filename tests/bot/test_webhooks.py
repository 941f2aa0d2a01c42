"""Outgoing webhooks against real HTTP receivers: signed events that follow the documented schema, a
receiver that fails three times (each event delivered once, in order per flag), one that never
answers (retried, dead, visible in status, retried by command), a Grafana annotations stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import redis.asyncio as aioredis

from bot.server import RUNTIME
from handlers.dashboard.signin import SIGN_IN, Visitor
from tests.bot.conftest import (
    FLAG,
    ROOT,
    BotUnderTest,
    serve_process,
    start_bot,
    stop_processes,
    wait_healthy,
    write_config,
)
from tests.bot.slack_stub import SlackStub
from tests.redis_process import free_port
from tests.webhook_receivers import Receivers

pytestmark = pytest.mark.slow

SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())
bots: dict[str, Any] = {}  # each bot's application, by its URL (for a dashboard sign-in link)


async def activity_page(bot: BotUnderTest) -> str:
    """The dashboard's activity page, signed in with a fresh link as Slack's users are."""
    token = bots[bot.url].ports.need(SIGN_IN).token(Visitor("U0SRE", "sre"))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(f"{bot.url}/ui/signin", data={"token": token}) as signed:
            assert signed.status == 200
        async with session.get(f"{bot.url}/ui/activity") as page:
            assert page.status == 200
            return await page.text()


def webhooks(url: str, **never: Any) -> list[dict[str, Any]]:
    quick = {"backoff_seconds": 0.05, "max_backoff_seconds": 0.2}
    return [
        {"name": "signed", "url": f"{url}/signed", "secret_env": "TEST_WEBHOOK_SECRET", **quick},
        {"name": "flaky", "url": f"{url}/flaky", "max_attempts": 10, "concurrency": 2, **quick},
        {"name": "never", "url": f"{url}/never", "timeout": 0.3, "max_attempts": 3, **quick, **never},
        {
            "name": "grafana",
            "url": f"{url}/api/annotations",
            "format": "grafana_annotation",
            "token_env": "TEST_GRAFANA_TOKEN",
            "environments": ["gprd"],
            **quick,
        },
    ]


@contextlib.asynccontextmanager
async def hooked_bot(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, receivers: Receivers
) -> AsyncIterator[tuple[BotUnderTest, Path]]:
    port = free_port()
    dashboard = {"base_url": f"http://127.0.0.1:{port}"}
    config = write_config(tmp_path, redis_url, prefix, webhooks=webhooks(receivers.url), ui=dashboard)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops", port=port)
    bots[url] = runner.app[RUNTIME].app
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            yield BotUnderTest(url, slack, prefix, client, session), config
    finally:
        await runner.cleanup()
        await client.aclose()


@pytest.fixture
async def receivers(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receivers]:
    found = await Receivers().start()
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", found.secret)
    monkeypatch.setenv("TEST_GRAFANA_TOKEN", found.grafana_token)
    yield found
    await found.stop()


async def until(condition: Any, timeout: float, what: str) -> None:
    for _ in range(int(timeout * 20)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


async def status(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``chatops webhooks ARGS`` as a person types it (in a thread: the bot under test shares this loop)."""
    command = [sys.executable, "-m", "bot.cli", "--log-level", "error", "webhooks", *args, "--config", str(config)]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60, cwd=ROOT)


async def test_events_reach_every_receiver_as_each_asks(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, receivers: Receivers
) -> None:
    async with hooked_bot(tmp_path, redis_url, prefix, slack, receivers) as (bot, _config):
        commands = [
            (f"run feature set {FLAG} 50 --actors --staging", "#development"),
            (f"run feature set {FLAG} true --staging", "#development"),
            (f"run feature set {FLAG} true --ignore-feature-flag-consistency-check", "#production"),
            (f"run feature kill {FLAG} --reason 'error spike'", "#production"),
            ("run freeze on --staging --reason 'incident 4521'", "#development"),
            ("run freeze off --staging", "#development"),
        ]
        for text, channel in commands:
            answer = await bot.command(text, channel=channel)
            assert answer.get("response_type") == "in_channel", answer
        await until(lambda: len(receivers.bodies("/signed")) >= 7, 10, "seven events signed and received")
        signed = sorted(receivers.bodies("/signed"), key=lambda b: b["time_ms"])  # lanes run side by side
        for body in signed:
            jsonschema.validate(body, SCHEMA)
        kinds = [(b["type"], b["environment"]) for b in signed]
        assert kinds == [
            ("change", "gstg"),
            ("change", "gstg"),
            ("change", "gprd"),
            ("kill", "gstg"),
            ("kill", "gprd"),
            ("freeze.on", "gstg"),
            ("freeze.off", "gstg"),
        ], kinds
        assert signed[0]["before"] == "off" and signed[0]["after"] == "50% of actors"
        assert signed[4]["reason"] == "error spike" and signed[4]["by"]["user_id"] == "U0SRE"
        assert len({b["id"] for b in signed}) == 7
        await until(lambda: len(receivers.bodies("/flaky")) >= 7, 20, "the flaky receiver has all seven")
        flaky = receivers.bodies("/flaky")
        assert sorted(b["id"] for b in flaky) == sorted(b["id"] for b in signed)  # each once
        in_order = [b["id"] for b in signed if b["flag"] == FLAG]
        assert [b["id"] for b in flaky if b["flag"] == FLAG] == in_order  # in order per flag
        assert all(receivers.attempts[b["id"]] == 4 for b in flaky)  # three failures, then taken
        await until(lambda: len(receivers.bodies("/api/annotations")) >= 2, 10, "the production events annotated")
        annotations = receivers.bodies("/api/annotations")
        assert [a["tags"][:3] for a in annotations] == [["chatops", "change", "gprd"], ["chatops", "kill", "gprd"]]
        assert annotations[0]["text"] == f"gprd: {FLAG} off → on by u0sre", annotations[0]
        assert annotations[1]["text"] == f"killed: gprd: {FLAG} on → off by u0sre (error spike)", annotations[1]
        assert receivers.problems == []


async def test_a_receiver_that_never_answers_is_dead_after_its_attempts_and_retried_by_command(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, receivers: Receivers
) -> None:
    async with hooked_bot(tmp_path, redis_url, prefix, slack, receivers) as (bot, config):
        await bot.command(f"run feature set {FLAG} true --staging", channel="#development")
        key = f"{prefix}chatops:webhook:never:"

        async def dead() -> int:
            return int(await bot.redis.llen(key + "dead"))

        for _ in range(100):
            if await dead() == 1:
                break
            await asyncio.sleep(0.1)
        assert await dead() == 1 and await bot.redis.zcard(key + "pending") == 0
        (letter,) = [json.loads(t) for t in await bot.redis.lrange(key + "dead", 0, -1)]
        assert letter["attempts"] == 3 and letter["error"] == "no answer within 0.3 s", letter
        jsonschema.validate(letter["event"], SCHEMA)
        said = await status(config, "status")
        assert said.returncode == 0, said.stderr
        lines = said.stdout.splitlines()
        assert "signed: 1 delivered, 0 pending, 0 dead" in lines, lines
        (never,) = [s for s in lines if s.startswith("never: ")]
        assert never.startswith("never: 0 delivered, 0 pending, 1 dead; last error 20") and never.endswith(
            "UTC: no answer within 0.3 s"
        ), never
        retried = await status(config, "retry", "never")
        assert retried.returncode == 0 and retried.stdout.strip() == "never: 1 dead letter(s) queued again"
        for _ in range(100):  # tried again three times, and dead again
            if await dead() == 1 and await bot.redis.zcard(key + "pending") == 0:
                break
            await asyncio.sleep(0.1)
        assert await dead() == 1 and receivers.never_asked == 6  # three attempts, then three more after the retry
        page = await activity_page(bot)
        assert "<h2>Webhooks and subscriptions</h2>" in page and "never: 0 delivered, 0 pending, 1 dead; last" in page
        unknown = await status(config, "retry", "nobody")
        assert (
            unknown.returncode == 2
            and "no receiver is named 'nobody'; configured: signed, flaky, never, grafana, subscriptions"
            in (unknown.stderr)
        )


async def test_kill_9_between_the_change_and_its_delivery_loses_nothing_and_doubles_nothing(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver is down while the changes are made, so every event waits in the outbox when the bot
    is killed with SIGKILL; the next process (after the lease runs out) delivers each exactly once."""
    receiver = Receivers()  # not listening yet: connections are refused
    hook = {
        "name": "dedupe",
        "url": f"{receiver.url}/dedupe",
        "max_attempts": 100,
        "backoff_seconds": 0.05,
        "max_backoff_seconds": 0.2,
    }
    config = write_config(tmp_path, redis_url, prefix, webhooks=[hook])
    processes: list[subprocess.Popen[str]] = []
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            port = free_port()
            first = serve_process(config, port, slack.url, token="xoxb-webhooks-kill")
            processes.append(first)
            bot = BotUnderTest(f"http://127.0.0.1:{port}", slack, prefix, client, session)
            await wait_healthy(session, bot.url)
            for value in ("10", "20", "30", "40", "50"):
                answer = await bot.command(f"run feature set {FLAG} {value} --actors --staging", channel="#development")
                assert answer.get("response_type") == "in_channel", answer
            pending = f"{prefix}chatops:webhook:dedupe:pending"
            for _ in range(100):
                if await client.zcard(pending) == 5:
                    break
                await asyncio.sleep(0.05)
            assert await client.zcard(pending) == 5  # queued, and failing: the receiver is down
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            await receiver.start()
            second = serve_process(config, free_port(), slack.url, token="xoxb-webhooks-kill")
            processes.append(second)
            for _ in range(300):
                if len(receiver.seen_keys) == 5 and await client.zcard(pending) == 0:
                    break
                await asyncio.sleep(0.05)
        assert len(receiver.seen_keys) == 5, receiver.seen_keys
        assert set(receiver.seen_keys.values()) == {1}, receiver.seen_keys  # each delivered once
        afters = [b["after"] for b in receiver.bodies("/dedupe")]
        assert afters == [f"{p}% of actors" for p in (10, 20, 30, 40, 50)]  # in order: one flag
    finally:
        stop_processes(processes)
        await receiver.stop()
        await client.aclose()


def test_the_readme_s_event_example_follows_the_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    news = readme[readme.index("## News: subscriptions and outgoing webhooks") :]
    example = news[news.index("```json\n") + 8 : news.index("```", news.index("```json\n") + 8)]
    jsonschema.validate(json.loads(example), SCHEMA)
