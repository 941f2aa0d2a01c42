"""feature get|set|list|delete end to end through the real HTTP endpoint, signed as Slack signs."""

from __future__ import annotations

import time

from tests.bot.conftest import FLAG, BotUnderTest, signed_headers
from tests.helpers import keyspace


async def test_set_on_staging_from_any_channel(bot: BotUnderTest) -> None:
    kind, text = await bot.text(f"run feature set {FLAG} 50 --actors --staging", channel="#development")
    assert kind == "in_channel"
    assert f"*Set to 50% of actors*: `{FLAG}` on gstg by <@U0SRE>" in text
    assert await bot.redis.hgetall(f"{bot.prefix}gstg:{FLAG}") == {"percentage_of_actors": "50"}
    await bot.slack.wait_for(lambda: bot.slack.post_texts("#e2e-run-staging"))
    assert bot.slack.post_texts("#e2e-run-staging") == [f"Feature flag {FLAG} has been set to 50% of actors on gstg"]
    assert len(bot.slack.post_texts("#feature-flag-log")) == 1
    assert bot.slack.post_texts("#g_database_frameworks") == []  # not production


async def test_bad_signature_and_stale_timestamp_are_401_and_run_nothing(bot: BotUnderTest) -> None:
    before = await keyspace(bot.redis, bot.prefix)
    body, _ = bot.form(f"run feature set {FLAG} true --staging", "U0SRE", "#production")
    bad = signed_headers(body, secret="not-the-secret")
    stale = signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    for headers in (bad, stale, {"Content-Type": "application/x-www-form-urlencoded"}):
        async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=headers) as response:
            assert response.status == 401
    assert await keyspace(bot.redis, bot.prefix) == before
    assert bot.slack.count("response_url") == 0 and bot.slack.count("chat.postMessage") == 0


async def test_health_endpoints(bot: BotUnderTest) -> None:
    async with bot.session.get(f"{bot.url}/healthz") as response:
        assert response.status == 200
    async with bot.session.get(f"{bot.url}/readyz") as response:
        assert response.status == 200 and "ready" in await response.text()


async def test_setting_a_flag_as_it_already_is_writes_nothing(bot: BotUnderTest) -> None:
    kind, _ = await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    assert kind == "in_channel"
    await bot.slack.wait_for(
        lambda: bot.slack.post_texts("#feature-flag-log") and bot.slack.post_texts("#e2e-run-staging")
    )
    before = await keyspace(bot.redis, bot.prefix)  # the flag, its version, audit and journal, the bot's own keys
    posts = bot.slack.count("chat.postMessage")
    kind, text = await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    assert kind == "ephemeral"  # for the person alone, and not an error
    assert f"`{FLAG}` is already on in gstg: nothing to change, so nothing was written." in text
    assert await keyspace(bot.redis, bot.prefix) == before
    assert bot.slack.count("chat.postMessage") == posts  # no cross-post
