"""A button click refused inside its handler, as Slack sends it (a signed block_actions payload):
the person is told why and what to do, nothing changes, and the security channel hears it once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from tests.bot.conftest import FLAG, BotUnderTest, start_bot, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.helpers import keyspace

ACCESS = [{"environments": ["production"], "usergroups": ["sre"]}, {"environments": ["*"], "anyone": True}]
SECURITY = "#chatops-security"


async def test_a_refused_cancel_click_reaches_the_security_channel(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    config = write_config(tmp_path, redis_url, prefix, access=ACCESS)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            bot = BotUnderTest(url, slack, prefix, client, session)
            _, text = await bot.text(
                f"run feature set {FLAG} true --production --in 1h --ignore-feature-flag-consistency-check"
            )
            assert "S1" in text, text
            before = await keyspace(client, prefix)
            assert (await bot.click("schedule_cancel", "S1", user="U0NOBODY", response_id="outsider")).status == 200
            await slack.wait_for(lambda: slack.responses.get("outsider"), timeout=10)
            answer = message_text(slack.responses["outsider"][0])
            assert "Only its author (u0sre), or someone who may change gprd here, may cancel S1." in answer
            assert "changing gprd needs @sre. Nothing was changed in any environment. Ask someone who may" in answer
            await slack.wait_for(lambda: slack.post_texts(SECURITY))
            await asyncio.sleep(0.3)  # a second report would have come by now
            [report] = slack.post_texts(SECURITY)
            assert "Refused: <@U0NOBODY> in #production ran" in report, report
            assert "`/chatops [Cancel button S1]`" in report, report
            assert "Reason: changing gprd needs @sre, and S1 was scheduled by u0sre." in report, report
            assert await keyspace(client, prefix) == before
    finally:
        await runner.cleanup()
        await client.aclose()
