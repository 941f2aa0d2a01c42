"""Subscriptions over signed HTTP with the Slack stand-in: a channel and a person (by direct message)
hear of the changes they asked for, filtered by flag, group, name and environment, with Undo only
where that channel may change the environment; a Slack outage delays the news; refusals change nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.bot.conftest import FLAG, BotUnderTest, start_bot, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.helpers import keyspace

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def bot_with(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    config = write_config(tmp_path, redis_url, prefix, **overrides)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            yield BotUnderTest(url, slack, prefix, client, session)
    finally:
        await runner.cleanup()
        await client.aclose()


def told(slack: SlackStub, channel: str) -> list[dict[str, Any]]:
    return [p for p in slack.posts(channel) if "Subscription N" in message_text(p)]


def buttons(post: dict[str, Any]) -> list[str]:
    return [
        e["text"]["text"]
        for b in post.get("blocks", [])
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("action_id")
    ]


async def test_a_channel_and_a_person_hear_what_they_asked_for(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    async with bot_with(tmp_path, redis_url, prefix, slack) as bot:
        _, said = await bot.text(f"run subscribe --flag {FLAG} --production", channel="#random")
        assert said.startswith(f"Subscribed N1: flag {FLAG}; production; changes, rollouts → #random."), said
        _, said = await bot.text("run subscribe --dm --staging --events changes", channel="#development")
        assert "N2: every flag; staging; changes → @u0sre" in said, said
        _, said = await bot.text('run subscribe --group "group::database frameworks"', channel="#development")
        assert "N3: group group::database frameworks; every environment" in said, said
        _, said = await bot.text("run subscribe --match no_such_name_anywhere", channel="#development")
        assert "Nothing matches it yet" in said, said
        await bot.command(f"run feature set {FLAG} true --ignore-feature-flag-consistency-check")
        await bot.command(f"run feature set {FLAG} 25 --actors --staging", channel="#development")
        await slack.wait_for(lambda: told(slack, "#random") and told(slack, "U0SRE"), timeout=10)
        await slack.wait_for(lambda: len(told(slack, "#development")) == 2, timeout=10)
        (channel,) = told(slack, "#random")  # production only: not the staging change
        text = message_text(channel)
        assert text.startswith(f"*Set to on*: `{FLAG}` on gprd by <@U0SRE> in #production"), text
        assert "gprd: `off` → `on`" in text and "Subscription N1: `/chatops run unsubscribe N1` to stop." in text
        assert buttons(channel) == []  # #random may not change production: no Undo there
        (direct,) = told(slack, "U0SRE")  # staging only
        assert "on gstg by <@U0SRE> in #development" in message_text(direct)
        assert buttons(direct) == ["Undo on gstg: 25% of actors → off"]  # staging may be changed anywhere
        grouped = [message_text(p) for p in told(slack, "#development")]
        assert all("Subscription N3" in t for t in grouped), grouped  # N4 matched nothing
        _, said = await bot.text("run subscriptions", channel="#development")
        assert "N3: group" in said and "N4: names matching" in said and "N1" not in said, said
        _, said = await bot.text("run unsubscribe N1", channel="#random")
        assert said.startswith(f"Stopped N1: flag {FLAG}"), said


async def test_a_slack_outage_delays_the_news_and_loses_none(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    async with bot_with(tmp_path, redis_url, prefix, slack) as bot:
        await bot.text("run subscribe --staging", channel="#random")
        slack.missing_channels.add("C0RAND")  # Slack refuses every post there for now
        await bot.command(f"run feature set {FLAG} true --staging", channel="#development")
        pending = f"{prefix}chatops:webhook:subscriptions:attempts"
        for _ in range(100):
            if await bot.redis.hlen(pending):
                break
            await asyncio.sleep(0.05)
        assert await bot.redis.hlen(pending) == 1 and told(slack, "#random") == []
        slack.missing_channels.clear()
        await slack.wait_for(lambda: told(slack, "#random"), timeout=15)
        assert len(told(slack, "#random")) == 1


@pytest.mark.parametrize("case", ["duplicate", "no access", "bot not in the channel"])
async def test_refusals_say_why_and_change_nothing(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, case: str
) -> None:
    async with bot_with(tmp_path, redis_url, prefix, slack, subscriptions={"usergroups": ["sre"]}) as bot:
        await bot.text(f"run subscribe --flag {FLAG}", channel="#random")
        before = await keyspace(bot.redis, prefix)
        user = "U0DEV" if case == "no access" else "U0SRE"
        if case == "bot not in the channel":
            slack.not_member.add("C0DEV")
        channel = "#random" if case == "duplicate" else "#development"
        _, said = await bot.text(f"run subscribe --flag {FLAG}", channel=channel, user=user)
        expected = {
            "duplicate": f"Already subscribed: N1: flag {FLAG}; every environment; changes, rollouts → #random.",
            "no access": "Only @sre may subscribe or unsubscribe a channel; you may subscribe yourself with `--dm`.",
            "bot not in the channel": "I cannot post in #development: the bot is not a member of this channel. "
            "Invite me first (`/invite @chatops` in the channel)",
        }[case]
        assert said.startswith(expected), said
        assert await keyspace(bot.redis, prefix) == before
        if case == "no access":
            await slack.wait_for(lambda: slack.posts("#chatops-security"), timeout=5)
            (report,) = slack.post_texts("#chatops-security")
            assert "subscribing #development needs @sre" in report, report
