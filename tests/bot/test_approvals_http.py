"""Approvals through signed block_actions payloads, as Slack sends the card's button clicks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from tests.bot.conftest import FLAG, BotUnderTest, start_bot, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.helpers import keyspace

ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["sre"]}},
    {"environments": ["*"], "anyone": True},
]


async def _answer(bot: BotUnderTest, response_id: str) -> str:
    await bot.slack.wait_for(lambda: bot.slack.responses.get(response_id), timeout=10)
    return message_text(bot.slack.responses[response_id][0])


async def test_approval_clicks_over_http(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> None:
    config = write_config(tmp_path, redis_url, prefix, access=ACCESS)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            bot = BotUnderTest(url, slack, prefix, client, session)
            _, text = await bot.text(
                f"run feature set {FLAG} true --production --ignore-feature-flag-consistency-check"
            )
            assert "Approval requested from @sre (expires in 30 min): *A1*." in text, text
            cards = [p for p in slack.posts("#production") if message_text(p).startswith("Approval A1:")]
            buttons: list[dict[str, Any]] = [
                e for b in cards[0]["blocks"] if b.get("type") == "actions" for e in b["elements"]
            ]
            assert [b["action_id"] for b in buttons] == ["approve", "decline", "approval_cancel"]
            assert all(f"{FLAG}" in b["confirm"]["text"]["text"] for b in buttons)  # each asks first
            before = await keyspace(client, prefix)
            assert (await bot.click("approve", "A1", user="U0SRE", response_id="self")).status == 200
            assert "Nobody approves their own request" in await _answer(bot, "self")
            assert await keyspace(client, prefix) == before
            assert (await bot.click("approve", "A1", user="U0ONCALL", response_id="ok")).status == 200
            assert f"*Enabled*: `{FLAG}` on gprd" in await _answer(bot, "ok")
            assert await client.hgetall(f"{prefix}gprd:{FLAG}") == {"boolean": "true"}
            entries = await client.xrange(f"{prefix}gprd:chatops:audit:{FLAG}")
            assert len(entries) == 1 and entries[0][1]["command"].endswith("(approved by u0oncall, request A1)")
            assert entries[0][1]["who"] == "u0sre" and entries[0][1]["approved_by"] == "u0oncall"
            assert (
                await bot.click("approve", "A1", user="U0ONCALL", response_id="twice")
            ).status == 200  # a double click
            assert "was already approved by u0oncall" in await _answer(bot, "twice")
            assert await client.xlen(f"{prefix}gprd:chatops:audit:{FLAG}") == 1  # applied once
            _, text = await bot.text(f"run feature set {FLAG} false --production")  # lowering needs no approval
            assert f"*Disabled*: `{FLAG}` on gprd" in text, text
            _, text = await bot.text(
                f"run feature set {FLAG} true --production --ignore-feature-flag-consistency-check"
            )
            assert "*A2*" in text, text
            before = await keyspace(client, prefix)
            for user, value, response_id, message in (
                ("U0NOBODY", "A2", "outsider", "Only members of @sre may approve or decline A2."),
                ("U0ONCALL", "A99", "forged", "There is no approval request A99."),
            ):
                assert (await bot.click("approve", value, user=user, response_id=response_id)).status == 200
                assert message in await _answer(bot, response_id)
                assert await keyspace(client, prefix) == before
            assert (await bot.click("decline", "A2", user="U0ONCALL", response_id="declined")).status == 200
            assert "declined" in await _answer(bot, "declined")
            after = await keyspace(client, prefix)
            assert (await bot.click("approve", "A2", user="U0ONCALL", response_id="late")).status == 200
            assert "was already declined by u0oncall" in await _answer(bot, "late")
            assert await keyspace(client, prefix) == after  # a declined request never applies
    finally:
        await runner.cleanup()
        await client.aclose()
