"""A button click refused inside its handler, as Slack sends it (a signed block_actions payload):
the person is told why and what to do, nothing changes, and the security channel hears it once."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis

from tests.bot.conftest import FLAG, BotUnderTest, signed_headers, start_bot, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.helpers import keyspace

ACCESS = [{"environments": ["production"], "usergroups": ["sre"]}, {"environments": ["*"], "anyone": True}]
SECURITY = "#chatops-security"


async def _click(bot: BotUnderTest, user: str, action_id: str, value: str, response_id: str) -> int:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0APP",
        "channel": {"id": "C0PROD", "name": "production"},
        "response_url": f"{bot.slack.url}/respond/{response_id}",
        "trigger_id": f"{time.time()}",
        "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=signed_headers(body)) as response:
        await response.read()
        return response.status


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
            assert await _click(bot, "U0NOBODY", "schedule_cancel", "S1", "outsider") == 200
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
