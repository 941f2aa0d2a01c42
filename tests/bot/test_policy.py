"""Channel rules by ID or #name (resolved through the Web API, cached), user groups (cached),
and the last line of defence: a crash still gets an answer."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from handlers.config import load_config
from handlers.flag_commands.commands import GetCommand
from tests.bot.conftest import FLAG, BotUnderTest, start_bot, write_config
from tests.bot.slack_stub import SlackStub, message_text


async def test_channel_names_are_resolved_to_ids_and_cached(bot: BotUnderTest) -> None:
    # A private channel's slash command carries a name Slack chose ("privategroup"), not "production":
    # only the channel ID can prove this is #production.
    body, response_id = bot.form(f"run feature set {FLAG} true --staging --production", "U0SRE", "C0PROD")
    body = body.replace("channel_name=C0PROD", "channel_name=privategroup")
    from tests.bot.conftest import signed_headers

    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=signed_headers(body)) as response:
        assert response.status == 200
    await bot.slack.wait_for(lambda: bot.slack.responses.get(response_id))
    assert bot.slack.responses[response_id][0]["response_type"] == "in_channel"
    assert bot.slack.count("conversations.list") == 1
    await bot.text(f"run feature set {FLAG} false --production", channel="C0PROD")
    assert bot.slack.count("conversations.list") == 1  # cached


async def test_user_group_membership_is_read_from_slack_and_cached(bot: BotUnderTest) -> None:
    await bot.text(f"run feature set {FLAG} true --staging --production", user="U0ONCALL", channel="#production")
    await bot.text(f"run feature set {FLAG} false --production", user="U0ONCALL", channel="#production")
    assert bot.slack.count("usergroups.list") == 1
    assert bot.slack.count("usergroups.users.list") == 1
    assert await bot.redis.hgetall(f"{bot.prefix}gprd:{FLAG}") == {}


async def test_channels_given_as_ids_in_the_configuration(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    data_path = write_config(tmp_path, redis_url, prefix, slack={"production_channel": "C0PROD"})
    config = load_config(data_path)
    assert config.channels_for(config.default_environment) == ("#production",)  # the environment's own list
    import yaml

    data = yaml.safe_load(data_path.read_text())
    data["environments"][-1]["channels"] = ["C0PROD"]
    data_path.write_text(yaml.safe_dump(data))
    runner, url = await start_bot(data_path, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
        ok = await bot.command(f"run feature set {FLAG} true --staging --production", channel="#production")
        assert ok["response_type"] == "in_channel"
        refused = await bot.command(f"run feature set {FLAG} false --production", channel="#random")
        assert "may only run in C0PROD" in message_text(refused)
    await runner.cleanup()


async def test_a_corrupt_key_is_reported_not_crashed_on(bot: BotUnderTest) -> None:
    # Fault injection: a flag hash that is not a hash makes Redis answer WRONGTYPE inside `get`'s pipeline.
    await bot.redis.set(f"{bot.prefix}gstg:{FLAG}", "not a hash")
    kind, text = await bot.text(f"run feature get {FLAG} --staging", channel="#development")
    assert kind == "ephemeral"
    assert f"the Redis key '{bot.prefix}gstg:{FLAG}' on gstg holds a string, where the flag layout keeps a hash" in text


async def test_a_bug_in_a_handler_becomes_an_answer_not_a_timeout(bot: BotUnderTest, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def broken(self: object, plan: object, context: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(GetCommand, "handle", broken)
    kind, text = await bot.text(f"run feature get {FLAG} --staging", channel="#development")
    assert kind == "ephemeral"
    assert "Something went wrong on our side (error " in text
