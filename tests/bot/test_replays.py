"""Replayed Slack requests, Slack's retries and repeated GitLab deliveries do nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from bot.replays import ReplayGuard
from bot.runtime import Runtime
from bot.server import RUNTIME
from tests.bot.conftest import FLAG, BotUnderTest, signed_headers, start_bot, write_config
from tests.bot.deployments.conftest import WEBHOOK_TOKEN, deployment_event, deployments_section
from tests.bot.slack_stub import SlackStub
from tests.git_repo import GitRepo

SHA = "c" * 40
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there: "Redis is down"


@dataclass
class Bot(BotUnderTest):
    runtime: Runtime | None = None

    def break_redis(self) -> ReplayGuard | None:
        """Point the replay guard at a Redis that is down; returns the working one."""
        assert self.runtime is not None
        working, self.runtime.replays = self.runtime.replays, ReplayGuard(aioredis.from_url(DEAD_REDIS), self.prefix)
        return working


async def started(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, **overrides: Any
) -> AsyncIterator[Bot]:
    """The bot with its own keys under this test's prefix, so what it remembers can be read."""
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, **overrides)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    async with aiohttp.ClientSession() as session:
        yield Bot(url, slack, prefix, client, session, runner.app[RUNTIME])
    await runner.cleanup()
    await client.aclose()


@pytest.fixture
async def own_bot(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> AsyncIterator[Bot]:
    async for bot in started(tmp_path, redis_url, prefix, slack):
        yield bot


@pytest.fixture
async def hook_bot(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bot]:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    repo = GitRepo(tmp_path / "app")
    repo.commit("Initial")
    async for bot in started(tmp_path, redis_url, prefix, slack, deployments=deployments_section(str(repo.path))):
        yield bot


async def post(bot: BotUnderTest, body: str, headers: dict[str, str]) -> tuple[int, str]:
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=headers) as response:
        return response.status, await response.text()


async def settle(bot: BotUnderTest) -> None:
    """Long enough for a second answer or write to show up, were one coming."""
    await asyncio.sleep(0.5)


async def test_a_replayed_set_is_applied_once(own_bot: Bot) -> None:
    body, response_id = own_bot.form(f"run feature set {FLAG} 25 --actors --staging", "U0SRE", "#development")
    headers = signed_headers(body)
    with capture_logs() as logs:
        answers = [await post(own_bot, body, headers) for _ in range(4)]
        await own_bot.slack.wait_for(lambda: own_bot.slack.responses.get(response_id))
        await settle(own_bot)
    assert [status for status, _ in answers] == [200] * 4
    assert len(own_bot.slack.responses[response_id]) == 1  # one answer, not four
    assert await own_bot.redis.xlen(f"{own_bot.prefix}gstg:chatops:audit:{FLAG}") == 1  # one write
    assert len(own_bot.slack.post_texts("#feature-flag-log")) == 1
    assert [e["reason"] for e in logs if e["event"] == "bot.replay"] == ["signature seen before"] * 3
    [seen] = await own_bot.redis.keys(f"{own_bot.prefix}chatops:seen:slack:*")
    assert 600 < await own_bot.redis.ttl(seen) <= 660  # the signature's whole window, then forgotten


async def test_slack_retries_are_answered_and_do_nothing(own_bot: Bot) -> None:
    body, response_id = own_bot.form(f"run feature set {FLAG} true --staging", "U0SRE", "#development")
    headers = {**signed_headers(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    with capture_logs() as logs:
        assert (await post(own_bot, body, headers))[0] == 200
        await settle(own_bot)
    assert own_bot.slack.responses.get(response_id) is None
    assert await own_bot.redis.hgetall(f"{own_bot.prefix}gstg:{FLAG}") == {}
    assert next(e for e in logs if e["event"] == "bot.replay")["reason"] == "slack retry"


async def test_a_replayed_button_click_is_answered_once(own_bot: Bot) -> None:
    message = await own_bot.command(f"run feature set {FLAG} true --staging", channel="#development")
    [value] = [e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": "U0SRE", "username": "u0sre", "team_id": "T0TEST"},
        "api_app_id": "A0APP",
        "channel": {"id": "C0DEV", "name": "development"},
        "response_url": f"{own_bot.slack.url}/respond/click",
        "actions": [{"action_id": "rollback", "block_id": "b1", "value": value, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed_headers(body)
    assert [(await post(own_bot, body, headers))[0] for _ in range(3)] == [200] * 3
    await own_bot.slack.wait_for(lambda: own_bot.slack.responses.get("click"))
    await settle(own_bot)
    assert len(own_bot.slack.responses["click"]) == 1
    assert await own_bot.redis.xlen(f"{own_bot.prefix}gstg:chatops:audit:{FLAG}") == 2  # the set, one roll back


async def test_with_its_redis_down_the_bot_still_answers_slack(own_bot: Bot) -> None:
    own_bot.break_redis()
    with capture_logs() as logs:
        text = await own_bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    assert text[0] == "in_channel"  # let through: the change path checks its own Redis
    assert await own_bot.redis.hgetall(f"{own_bot.prefix}gstg:{FLAG}") == {"boolean": "true"}
    assert [e["log_level"] for e in logs if e["event"] == "bot.replay_check_failed"] == ["warning"]


async def webhook(bot: Bot, headers: dict[str, str], env: str = "gstg") -> tuple[int, dict[str, object]]:
    event = deployment_event(env, SHA, "success", "2026-11-26 06:00:00 +0100")
    headers = {"Content-Type": "application/json", "X-Gitlab-Token": WEBHOOK_TOKEN, **headers}
    async with bot.session.post(f"{bot.url}/webhooks/gitlab", json=event, headers=headers) as response:
        return response.status, await response.json()


async def history(bot: Bot, env: str = "gstg") -> int:
    return int(await bot.redis.zcard(f"{bot.prefix}chatops:deploy:{env}:history"))


async def test_a_repeated_gitlab_delivery_is_recorded_once(hook_bot: Bot) -> None:
    first = await webhook(hook_bot, {"Idempotency-Key": "4f1c-delivery-1"})
    assert first[0] == 200 and first[1]["message"] == "recorded"
    for _ in range(2):
        assert await webhook(hook_bot, {"Idempotency-Key": "4f1c-delivery-1"}) == (
            200,
            {"message": "already recorded"},
        )
    assert await history(hook_bot) == 1
    assert (await webhook(hook_bot, {"X-Gitlab-Event-UUID": "uuid-2"}, "gprd"))[1]["message"] == "recorded"
    assert (await webhook(hook_bot, {"X-Gitlab-Event-UUID": "uuid-2"}, "gprd"))[1]["message"] == "already recorded"
    assert await history(hook_bot, "gprd") == 1
    assert len(await hook_bot.redis.keys(f"{hook_bot.prefix}chatops:seen:gitlab:*")) == 2


async def test_the_webhook_fails_closed_when_it_cannot_check(hook_bot: Bot) -> None:
    working = hook_bot.break_redis()
    status, body = await webhook(hook_bot, {"Idempotency-Key": "4f1c-delivery-3"})
    assert status == 503 and str(body["message"]).startswith("could not check for a repeated delivery")
    assert await history(hook_bot) == 0
    assert hook_bot.runtime is not None
    hook_bot.runtime.replays = working  # Redis is back: GitLab's retry is recorded
    assert (await webhook(hook_bot, {"Idempotency-Key": "4f1c-delivery-3"}))[0] == 200
    assert await history(hook_bot) == 1
