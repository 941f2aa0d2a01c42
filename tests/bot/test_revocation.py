"""Who may change production follows Slack closely: group events, a short cache, failures said as such."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.bot.conftest import CHANNELS, FLAG, SRE, BotUnderTest, signed_headers, start_bot, write_config
from tests.bot.slack_stub import HangingSlackStub, SlackStub

SLACK = {
    "production_channel": "#production",
    "log_channel": "#feature-flag-log",
    "security_channel": "#chatops-security",
}
ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"]},
    {"environments": ["staging"], "usergroups": ["qa"]},
    {"environments": ["*"], "anyone": True},
]


async def running(
    tmp_path: Path, redis_url: str, prefix: str, stub: SlackStub, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    runner, url = await start_bot(write_config(tmp_path, redis_url, prefix, **overrides), stub, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    async with aiohttp.ClientSession() as session:
        yield BotUnderTest(url, stub, prefix, client, session)
    await runner.cleanup()
    await client.aclose()


@pytest.fixture
async def short_bot(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> AsyncIterator[BotUnderTest]:
    slack.usergroups["qa"] = ("S0QA", ["U0QA"])
    settings = {**SLACK, "production_group_cache_seconds": 1}
    async for bot in running(tmp_path, redis_url, prefix, slack, slack=settings, access=ACCESS):
        yield bot


@pytest.fixture
async def hanging() -> AsyncIterator[HangingSlackStub]:
    stub = HangingSlackStub(channels=dict(CHANNELS), usergroups={"sre": SRE})
    await stub.start()
    yield stub
    await stub.stop()


@pytest.fixture
async def stalled_bot(
    tmp_path: Path, redis_url: str, prefix: str, hanging: HangingSlackStub
) -> AsyncIterator[BotUnderTest]:
    async for bot in running(tmp_path, redis_url, prefix, hanging):
        yield bot


def reads(slack: SlackStub, group_id: str) -> int:
    return sum(1 for c in slack.calls if c.method == "usergroups.users.list" and c.params.get("usergroup") == group_id)


def remove(slack: SlackStub, handle: str, user: str) -> None:
    group_id, members = slack.usergroups[handle]
    slack.usergroups[handle] = (group_id, [m for m in members if m != user])


async def event(bot: BotUnderTest, inner: dict[str, Any]) -> int:
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0TEST",
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": {**inner, "event_ts": f"{time.time():.6f}"},
            "authorizations": [{"team_id": "T0TEST", "user_id": "U0BOT", "is_bot": True}],
        }
    )
    headers = {**signed_headers(body), "Content-Type": "application/json"}
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=headers) as response:
        return response.status


@pytest.mark.parametrize(
    "inner",
    [
        {"type": "subteam_members_changed", "subteam_id": "S0SRE", "team_id": "T0TEST", "removed_users": ["U0ONCALL"]},
        {
            "type": "subteam_updated",
            "subteam": {"id": "S0SRE", "team_id": "T0TEST", "handle": "sre", "users": ["U0SRE"]},
        },
    ],
)
async def test_a_group_change_event_revokes_at_once(bot: BotUnderTest, inner: dict[str, Any]) -> None:
    await bot.redis.hset(f"{bot.prefix}gprd:{FLAG}", "boolean", "true")  # on: so that false changes it
    kind, _ = await bot.text(f"run feature set {FLAG} false --production", user="U0ONCALL")
    assert kind == "in_channel"
    remove(bot.slack, "sre", "U0ONCALL")
    assert await event(bot, inner) == 200
    kind, text = await bot.text(f"run feature set {FLAG} false --production", user="U0ONCALL")
    assert kind == "ephemeral" and "This action is not allowed: changing gprd needs @sre" in text
    assert reads(bot.slack, "S0SRE") == 2  # re-read right after the event, not a minute later
    assert await bot.redis.xlen(f"{bot.prefix}gprd:chatops:audit:{FLAG}") == 1


async def test_production_groups_are_re_read_sooner_than_others(short_bot: BotUnderTest) -> None:
    await short_bot.redis.hset(f"{short_bot.prefix}gprd:{FLAG}", "boolean", "true")  # on: so that false changes it
    assert (await short_bot.text(f"run feature set {FLAG} false --production", user="U0ONCALL"))[0] == "in_channel"
    assert (await short_bot.text(f"run feature set {FLAG} true --staging", user="U0QA", channel="#development"))[0] == (
        "in_channel"
    )
    remove(short_bot.slack, "sre", "U0ONCALL")
    await asyncio.sleep(1.2)  # production_group_cache_seconds: 1
    kind, text = await short_bot.text(f"run feature set {FLAG} false --production", user="U0ONCALL")
    assert kind == "ephemeral" and "changing gprd needs @sre" in text
    assert (await short_bot.text(f"run feature set {FLAG} false --staging", user="U0QA", channel="#development"))[
        0
    ] == ("in_channel")
    assert (reads(short_bot.slack, "S0SRE"), reads(short_bot.slack, "S0QA")) == (2, 1)  # @qa: still the 60 s cache


async def test_a_failed_membership_check_says_so(bot: BotUnderTest) -> None:
    for _ in range(4):  # the first answer and its three retries
        bot.slack.fail_next("usergroups.users.list", 429, retry_after=0, body={"ok": False, "error": "ratelimited"})
    kind, text = await bot.text(f"run feature set {FLAG} false --production", user="U0ONCALL", timeout=15)
    assert kind == "ephemeral"
    assert "This action is not allowed: could not check membership of @sre: Slack answered ratelimited." in text
    assert "needs @sre" not in text
    assert await bot.redis.exists(f"{bot.prefix}gprd:chatops:audit:{FLAG}") == 0


@pytest.mark.slow
async def test_a_silent_slack_is_waited_for_ten_seconds_not_five_minutes(stalled_bot: BotUnderTest) -> None:
    stalled_bot.slack.hanging.add("conversations.list")  # type: ignore[attr-defined]
    started = time.monotonic()
    kind, text = await stalled_bot.text(f"run feature set {FLAG} false --production", timeout=15)
    assert time.monotonic() - started < 12.5
    assert kind == "ephemeral"
    assert "could not resolve #production: Slack did not answer" in text
    assert "this is #production" not in text
    assert stalled_bot.slack.count("conversations.list") == 1  # a timeout is not retried
    assert await stalled_bot.redis.exists(f"{stalled_bot.prefix}gprd:chatops:audit:{FLAG}") == 0
