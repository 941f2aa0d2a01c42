"""The `feature` lines of the rollout issue, verbatim, end to end through HTTP.

After each step: the Redis state of every environment and every message in every channel.
"""

from __future__ import annotations

from tests.bot.conftest import FLAG, BotUnderTest

NON_PRODUCTION = ("dev", "pre", "gstg", "gstg-ref")
ALL = (*NON_PRODUCTION, "ops", "gprd")


async def states(bot: BotUnderTest) -> dict[str, tuple[bool, dict[str, str]]]:
    result = {}
    for env in ALL:
        member = await bot.redis.sismember(f"{bot.prefix}{env}:flipper_features", FLAG)
        result[env] = (bool(member), await bot.redis.hgetall(f"{bot.prefix}{env}:{FLAG}"))
    return result


def channel_counts(bot: BotUnderTest) -> dict[str, int]:
    return {
        c: len(bot.slack.post_texts(c))
        for c in (
            "#production",
            "#feature-flag-log",
            "#g_database_frameworks",
            "#e2e-run-staging",
            "#chatops-security",
        )
    }


async def step(bot: BotUnderTest, line: str, *, user: str, channel: str, posts: int) -> str:
    before = bot.slack.count("chat.postMessage")
    kind, text = await bot.text(line.removeprefix("/chatops "), user=user, channel=channel)
    await bot.slack.wait_for(lambda: bot.slack.count("chat.postMessage") >= before + posts)
    assert kind == "in_channel", text
    return text


async def test_the_rollout_issue_sequence(bot: BotUnderTest) -> None:
    # 1. 50% of actors on the non-production environments, by a developer in their channel.
    text = await step(
        bot,
        f"/chatops run feature set {FLAG} 50 --actors --dev --pre --staging --staging-ref",
        user="U0DEV",
        channel="#development",
        posts=2,
    )
    assert f"*Set to 50% of actors*: `{FLAG}` on dev, pre, gstg, gstg-ref by <@U0DEV>" in text
    expected = dict.fromkeys(NON_PRODUCTION, (True, {"percentage_of_actors": "50"}))
    assert await states(bot) == {**expected, "ops": (False, {}), "gprd": (False, {})}
    assert channel_counts(bot) == {
        "#production": 0,
        "#feature-flag-log": 1,
        "#g_database_frameworks": 0,
        "#e2e-run-staging": 1,
        "#chatops-security": 0,
    }
    assert bot.slack.post_texts("#e2e-run-staging")[-1] == (
        f"Feature flag {FLAG} has been set to 50% of actors on gstg"
    )

    # 2. fully on in non-production.
    await step(
        bot,
        f"/chatops run feature set {FLAG} true --dev --pre --staging --staging-ref",
        user="U0DEV",
        channel="#development",
        posts=2,
    )
    expected = dict.fromkeys(NON_PRODUCTION, (True, {"boolean": "true"}))
    assert await states(bot) == {**expected, "ops": (False, {}), "gprd": (False, {})}
    assert bot.slack.post_texts("#e2e-run-staging")[-1] == f"Feature flag {FLAG} has been set to true on gstg"

    # 3. production (the default environment), only in #production, by an SRE.
    text = await step(bot, f"/chatops run feature set {FLAG} true", user="U0SRE", channel="#production", posts=2)
    assert f"*Enabled*: `{FLAG}` on gprd by <@U0SRE>" in text
    assert (await states(bot))["gprd"] == (True, {"boolean": "true"})
    team = bot.slack.post_texts("#g_database_frameworks")
    assert len(team) == 1 and f"*Enabled*: `{FLAG}` on gprd by <@U0SRE> in <#C0PROD>" in team[0]
    assert "https://gitlab.com/gitlab-org/gitlab/-/issues/431866" in team[0]  # the rollout issue

    # 4. rollback in production by whoever is on call.
    text = await step(bot, f"/chatops run feature set {FLAG} false", user="U0ONCALL", channel="#production", posts=2)
    assert f"*Disabled*: `{FLAG}` on gprd by <@U0ONCALL>" in text
    assert (await states(bot))["gprd"] == (True, {})  # the hash is gone, the name stays
    assert len(bot.slack.post_texts("#g_database_frameworks")) == 2

    # 5. off in non-production: no QA announcement for false.
    qa_before = len(bot.slack.post_texts("#e2e-run-staging"))
    await step(
        bot,
        f"/chatops run feature set {FLAG} false --dev --pre --staging --staging-ref",
        user="U0DEV",
        channel="#development",
        posts=1,
    )
    expected = dict.fromkeys(NON_PRODUCTION, (True, {}))
    assert await states(bot) == {**expected, "ops": (False, {}), "gprd": (True, {})}
    assert len(bot.slack.post_texts("#e2e-run-staging")) == qa_before

    # 6. cleanup: delete everywhere, production included, so in #production.
    text = await step(
        bot,
        f"/chatops run feature delete {FLAG} --dev --pre --staging --staging-ref --production",
        user="U0SRE",
        channel="#production",
        posts=2,
    )
    assert f"*Deleted*: `{FLAG}` on dev, pre, gstg, gstg-ref, gprd" in text
    assert await states(bot) == dict.fromkeys(ALL, (False, {}))
    assert channel_counts(bot) == {
        "#production": 0,
        "#feature-flag-log": 6,
        "#g_database_frameworks": 3,
        "#e2e-run-staging": 2,
        "#chatops-security": 0,
    }
    # Every change is in the audit of its environment.
    history = await bot.redis.xlen(f"{bot.prefix}gprd:chatops:audit:{FLAG}")
    assert history == 3
