"""Fixtures for driving the bot as Slack does: a Slack stub, a config, the real HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.runtime import Runtime
from bot.server import create_web_app
from handlers.config import Secrets, load_config
from tests.alertmanager_process import Alertmanager
from tests.bot.slack_stub import SlackStub, message_text
from tests.configs import FLAG, ROOT, serve_command, write_config
from tests.redis_process import free_port

__all__ = [
    "CHANNELS",
    "FLAG",
    "ROOT",
    "SIGNING_SECRET",
    "SRE",
    "BotUnderTest",
    "signed_headers",
    "start_bot",
    "write_config",
]

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
CHANNELS = {
    "production": "C0PROD",
    "feature-flag-log": "C0LOG",
    "chatops-security": "C0SEC",
    "g_database_frameworks": "C0TEAM",
    "e2e-run-staging": "C0QA",
    "random": "C0RAND",
    "development": "C0DEV",
}
SRE = ("S0SRE", ["U0SRE", "U0ONCALL"])


def serve_process(
    config: Path, port: int, slack_url: str, *args: str, token: str, **environment: str
) -> subprocess.Popen[str]:
    """``chatops serve`` as a child process against the Slack stub at ``slack_url`` (its stdout
    and stderr piped as text); ``environment`` adds variables, e.g. CHATOPS_MAX_CONNECTIONS="70"."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{slack_url}/api/",
        **environment,
    }
    return subprocess.Popen(
        serve_command(config, port, *args),
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_processes(processes: Iterable[subprocess.Popen[str]]) -> None:
    """SIGTERM each process still running (SIGKILL if it does not exit within 15 s); collect its output."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        process.communicate(timeout=10)


async def start_servers(
    config: Path, slack_url: str, session: aiohttp.ClientSession, count: int = 2
) -> dict[int, tuple[subprocess.Popen[str], str]]:
    """``count`` ``chatops serve`` processes on one configuration, healthy: pid → (process, URL)."""
    servers = {}
    for _ in range(count):
        port = free_port()
        process = serve_process(config, port, slack_url, token="xoxb-servers-test")
        servers[process.pid] = (process, f"http://127.0.0.1:{port}")
    for _, url in servers.values():
        await wait_healthy(session, url)
    return servers


async def lease_holder(client: aioredis.Redis, prefix: str) -> int:
    """The pid of the process holding the timer driver's lease (waiting up to 10 s for one)."""
    for _ in range(100):
        held = await client.get(f"{prefix}chatops:driver")
        if held:
            return int(str(held).split(" ", 1)[1].split(":")[1])
        await asyncio.sleep(0.1)
    raise AssertionError("no process took the driver lease")


ALERTMANAGER_TOKEN = "alertmanager-webhook-token-for-tests"


@contextlib.asynccontextmanager
async def alerting_bot(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    monkeypatch: pytest.MonkeyPatch,
    overrides: Callable[[str], dict[str, Any]] = lambda alertmanager_url: {},
) -> AsyncIterator[tuple[Alertmanager, BotUnderTest]]:
    """The bot (in-process HTTP server) and a real Alertmanager whose webhook receiver calls it;
    ``overrides(alertmanager_url)`` adds configuration keys."""
    monkeypatch.setenv("ALERTMANAGER_WEBHOOK_TOKEN", ALERTMANAGER_TOKEN)
    port = free_port()
    webhook = f"http://127.0.0.1:{port}/webhooks/alertmanager"
    alertmanager = Alertmanager(tmp_path, webhook=webhook, bearer=ALERTMANAGER_TOKEN)
    config = write_config(tmp_path, redis_url, prefix, **overrides(alertmanager.url))
    runner, url = await start_bot(config, slack, tmp_path / ".chatops", port)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            yield alertmanager, BotUnderTest(url, slack, prefix, client, session)
    finally:
        alertmanager.stop()
        await runner.cleanup()
        await client.aclose()


def signed_headers(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def wait_healthy(session: aiohttp.ClientSession, url: str) -> None:
    """Wait until a server's /healthz answers 200 (at most 20 s)."""
    for _ in range(400):
        try:
            async with session.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy")


@dataclass
class Answer:
    status: int
    response_id: str


_ids = itertools.count(1)


@dataclass
class BotUnderTest:
    url: str
    slack: SlackStub
    prefix: str
    redis: aioredis.Redis
    session: aiohttp.ClientSession

    def form(self, text: str, user: str, channel: str, user_name: str | None = None) -> tuple[str, str]:
        response_id = f"r{next(_ids)}"
        channel_id = CHANNELS.get(channel.lstrip("#"), channel)
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": "T0TEST",
                "team_domain": "test",
                "channel_id": channel_id,
                "channel_name": channel.lstrip("#"),
                "user_id": user,
                "user_name": user_name or user.lower(),
                "command": "/chatops",
                "text": text,
                "api_app_id": "A0APP",
                "response_url": f"{self.slack.url}/respond/{response_id}",
                "trigger_id": "1.2.3",
            }
        )
        return body, response_id

    async def send(
        self,
        text: str,
        *,
        user: str = "U0SRE",
        channel: str = "#production",
        headers: dict[str, str] | None = None,
        user_name: str | None = None,
    ) -> Answer:
        body, response_id = self.form(text, user, channel, user_name)
        async with self.session.post(
            f"{self.url}/slack/events", data=body, headers=headers or signed_headers(body)
        ) as response:
            await response.read()
            return Answer(response.status, response_id)

    async def command(
        self,
        text: str,
        *,
        user: str = "U0SRE",
        channel: str = "#production",
        timeout: float = 5.0,
        user_name: str | None = None,
    ) -> dict[str, Any]:
        """Send a signed slash command; wait for and return its (first) response_url message."""
        answer = await self.send(text, user=user, channel=channel, user_name=user_name)
        assert answer.status == 200, answer
        await self.slack.wait_for(lambda: self.slack.responses.get(answer.response_id), timeout)
        return self.slack.responses[answer.response_id][0]

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U0SRE",
        channel: str = "#production",
        user_name: str | None = None,
        response_id: str | None = None,
    ) -> Answer:
        """Click a button as Slack sends it (a signed block_actions payload): its HTTP status, and
        the response id its answer goes to."""
        response_id = response_id or f"click{next(_ids)}"
        channel_id = CHANNELS.get(channel.lstrip("#"), channel)
        payload = {
            "type": "block_actions",
            "team": {"id": "T0TEST", "domain": "test"},
            "user": {"id": user, "username": user_name or user.lower(), "team_id": "T0TEST"},
            "api_app_id": "A0APP",
            "container": {"type": "message", "message_ts": "1.0", "channel_id": channel_id},
            "channel": {"id": channel_id, "name": channel.lstrip("#")},
            "response_url": f"{self.slack.url}/respond/{response_id}",
            "trigger_id": "1.2.3",
            "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button"}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        async with self.session.post(f"{self.url}/slack/events", data=body, headers=signed_headers(body)) as response:
            await response.read()
            return Answer(response.status, response_id)

    async def button(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U0SRE",
        channel: str = "#production",
        timeout: float = 5.0,
        user_name: str | None = None,
    ) -> dict[str, Any]:
        """Click a button; wait for and return the (first) response_url message of its answer."""
        answer = await self.click(action_id, value, user=user, channel=channel, user_name=user_name)
        assert answer.status == 200, (answer.status, action_id, value)
        await self.slack.wait_for(lambda: self.slack.responses.get(answer.response_id), timeout)
        return self.slack.responses[answer.response_id][0]

    async def text(self, text: str, **kwargs: Any) -> tuple[str, str]:
        """(response_type, text) of the answer to a command."""
        message = await self.command(text, **kwargs)
        return message.get("response_type", ""), message_text(message)


@pytest.fixture
async def slack() -> AsyncIterator[SlackStub]:
    stub = SlackStub(channels=dict(CHANNELS), usergroups={"sre": SRE})
    await stub.start()
    yield stub
    await stub.stop()
    assert stub.problems == [], "messages broke the button rules: " + "; ".join(stub.problems)


async def start_bot(
    config_path: Path, slack: SlackStub, embedded_dir: Path, port: int = 0
) -> tuple[web.AppRunner, str]:
    secrets = replace(
        Secrets.from_environment(),
        bot_token="xoxb-test-token",
        signing_secret=SIGNING_SECRET,
        api_url=f"{slack.url}/api/",
    )
    runtime = Runtime.start(load_config(config_path), embedded_dir, secrets)
    runner = web.AppRunner(await create_web_app(runtime, secrets), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def bot(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> AsyncIterator[BotUnderTest]:
    config = write_config(tmp_path, redis_url, prefix)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    async with aiohttp.ClientSession() as session:
        yield BotUnderTest(url, slack, prefix, client, session)
    await runner.cleanup()
    await client.aclose()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:6]
