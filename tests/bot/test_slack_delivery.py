"""Cross-posts and replies under Slack trouble: failures reported, retries honoured, limits kept."""

from __future__ import annotations

import pytest

from tests.bot.conftest import FLAG, BotUnderTest
from tests.bot.slack_stub import message_text


async def test_a_failed_cross_post_never_undoes_the_change_and_is_reported(bot: BotUnderTest) -> None:
    bot.slack.missing_channels.add("g_database_frameworks")
    kind, text = await bot.text(f"run feature set {FLAG} true --staging --production", channel="#production")
    assert kind == "in_channel"
    assert await bot.redis.hgetall(f"{bot.prefix}gprd:{FLAG}") == {"boolean": "true"}
    assert (
        "Could not post to #g_database_frameworks (team channel): channel_not_found. The change itself stands." in text
    )
    assert len(bot.slack.post_texts("#feature-flag-log")) == 1  # the other cross-post went out


@pytest.mark.slow
async def test_rate_limits_and_server_errors_are_retried(bot: BotUnderTest) -> None:
    bot.slack.fail_next("chat.postMessage", 429, retry_after=1)
    bot.slack.fail_next("chat.postMessage", 500)
    bot.slack.fail_next("chat.postMessage", 503)
    answer = await bot.send(f"run feature set {FLAG} true --dev", channel="#development")
    await bot.slack.wait_for(lambda: bot.slack.post_texts("#feature-flag-log"), 30)
    [message] = bot.slack.responses[answer.response_id]  # the answer; no follow-up: it was delivered
    assert message["response_type"] == "in_channel" and "Could not post" not in message_text(message)
    attempts = [c for c in bot.slack.calls if c.method == "chat.postMessage"]
    assert len(attempts) == 4  # 429, 500, 503, then delivered


@pytest.mark.slow
async def test_retries_give_up_and_say_so(bot: BotUnderTest) -> None:
    for _ in range(10):
        bot.slack.fail_next("chat.postMessage", 500)
    answer = await bot.send(f"run feature set {FLAG} true --dev", channel="#development")
    failed = "Could not post to #feature-flag-log (log channel)"

    def told() -> bool:
        return any(failed in message_text(m) for m in bot.slack.responses.get(answer.response_id, []))

    await bot.slack.wait_for(told, 30)  # in the answer, or as a follow-up when Slack was slow to fail
    assert bot.slack.responses[answer.response_id][0]["response_type"] == "in_channel"
    assert await bot.redis.hgetall(f"{bot.prefix}dev:{FLAG}") == {"boolean": "true"}


async def test_long_lists_are_split_within_slacks_limits(bot: BotUnderTest) -> None:
    pipe = bot.redis.pipeline()
    for i in range(1200):
        name = f"a_rather_long_flag_name_for_testing_the_split_{i:04d}"
        pipe.sadd(f"{bot.prefix}gstg:flipper_features", name)
        pipe.hset(f"{bot.prefix}gstg:{name}", mapping={f"actors/User:someone{j}": "1" for j in range(8)})
    await pipe.execute()
    answer = await bot.send("run feature list --staging", channel="#development")
    await bot.slack.wait_for(lambda: bot.slack.responses.get(answer.response_id))
    await bot.slack.wait_for(lambda: len(bot.slack.responses[answer.response_id]) >= 2)
    messages = bot.slack.responses[answer.response_id]
    for message in messages:
        assert len(message["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if b["type"] == "section")
    shown = "\n".join(message_text(m) for m in messages)
    assert shown.count("a_rather_long_flag_name_for_testing_the_split_") == 1200
    assert "a_rather_long_flag_name_for_testing_the_split_1199" in shown


async def test_user_text_is_escaped_everywhere(bot: BotUnderTest) -> None:
    kind, text = await bot.text("run feature list --match=<!channel>&<@U0SRE> --staging", channel="#development")
    assert kind == "in_channel"
    assert "&lt;!channel&gt;&amp;&lt;@U0SRE&gt;" in text
    assert "<!channel>" not in text and "<@U0SRE>" not in text
    await bot.text(f"run feature set {FLAG} true --dev --user=a&b", channel="#development")
    await bot.slack.wait_for(lambda: bot.slack.post_texts("#feature-flag-log"))
    log = bot.slack.post_texts("#feature-flag-log")[0]
    assert "--user=a&amp;b" in log and "<!" not in log


async def test_get_shows_each_environment_and_the_definition(bot: BotUnderTest) -> None:
    await bot.text(f"run feature set {FLAG} 25 --actors --staging", channel="#development")
    kind, text = await bot.text(f"run feature get {FLAG} --staging --production", channel="#development")
    assert kind == "in_channel"
    assert "*gstg*: `25% of actors` (last set to 25% of actors by <@U0SRE>" in text
    assert "*gprd*: `off`" in text
    assert "<https://gitlab.com/gitlab-org/gitlab/-/issues/431866|" in text


async def test_history_lists_changes_newest_first(bot: BotUnderTest) -> None:
    for value in ("10", "20", "30"):
        await bot.text(f"run feature set {FLAG} {value} --actors --staging", channel="#development")
    kind, text = await bot.text(f"run feature history {FLAG} --staging --limit 2", channel="#development")
    assert kind == "in_channel"
    assert text.index("v3 set to 30% of actors") < text.index("v2 set to 20% of actors")
    assert "v1" not in text
    assert "in #development" in text


@pytest.mark.slow
async def test_the_answer_itself_is_retried_through_429_and_5xx(bot: BotUnderTest) -> None:
    bot.slack.fail_next("response_url", 429, retry_after=1)
    bot.slack.fail_next("response_url", 502)
    kind, text = await bot.text(f"run feature set {FLAG} true --dev", channel="#development", timeout=30)
    assert kind == "in_channel" and f"*Enabled*: `{FLAG}` on dev" in text
    assert bot.slack.count("response_url (failed)") == 2 and bot.slack.count("response_url") == 1
