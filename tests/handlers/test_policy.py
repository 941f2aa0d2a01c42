"""Channel rules and access rules through the pipeline, and help agreeing with both."""

from __future__ import annotations

import pytest

from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Answer, Chatops, MakeChatops

P, D = "#production", "#development"
SECURITY = "#chatops-security"


def security_report(answer: Answer) -> str:
    [report] = answer.posted_to(SECURITY)
    return to_text(report)


@pytest.fixture
async def bot(chatops: MakeChatops) -> Chatops:
    """The example configuration with the flag on in staging (so production may follow)."""
    harness = await chatops()
    assert (await harness.run(f"/chatops run feature set {FLAG} true --staging", channel=D)).ok
    return harness


async def test_a_production_change_outside_production_is_refused_and_reported(bot: Chatops) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} true --production", channel=D)
    assert not answer.ok and not answer.reply.public
    assert "Commands that change gprd may only run in #production; this is #development." in answer.text
    assert "Nothing was changed in any environment. Run it in #production." in answer.text
    assert await bot.keyspace() == before
    assert [p.channel for p in answer.posts] == [SECURITY]
    report = security_report(answer)
    assert "Refused: @alice in #development ran" in report
    assert f"`/chatops run feature set {FLAG} true --production`" in report
    assert "Reason: gprd may only be changed in #production." in report


async def test_a_default_environment_change_counts_as_production(bot: Chatops) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature delete {FLAG}", channel="#random")
    assert not answer.ok and "Commands that change gprd may only run in #production" in answer.text
    assert await bot.keyspace() == before


async def test_someone_outside_the_production_groups_is_refused_and_reported(bot: Chatops) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} true --staging --production", user="bob", groups=("dev",))
    assert not answer.ok and not answer.reply.public
    assert "This action is not allowed: changing gprd needs @sre or @database-frameworks." in answer.text
    assert await bot.keyspace() == before  # staging, which bob may change, is untouched too
    report = security_report(answer)
    assert "Refused: @bob in #production ran" in report and "Reason: changing gprd needs" in report


@pytest.mark.parametrize("group", ["sre", "database-frameworks"])
async def test_a_member_of_a_production_group_may_change_production(bot: Chatops, group: str) -> None:
    answer = await bot.run(f"/chatops run feature set {FLAG} true --production", user="carol", groups=(group,))
    assert answer.ok and answer.reply.public, answer.text
    assert await bot.gates("production") == {"boolean": "true"}
    assert (await bot.flag("production")).exists
    assert answer.posted_to("#feature-flag-log") and not answer.posted_to(SECURITY)


@pytest.mark.parametrize("channel", [D, "#random", "privategroup"])
@pytest.mark.parametrize(
    "read", ["get {flag} --production --staging", "list --production", "history {flag} --production"]
)
async def test_reading_flags_works_anywhere_for_anyone(bot: Chatops, channel: str, read: str) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature {read.format(flag=FLAG)}", user="dave", groups=(), channel=channel)
    assert answer.ok, answer.text
    assert not answer.posted_to(SECURITY)
    assert "gprd" in answer.text
    assert await bot.keyspace() == before


async def test_one_refused_environment_refuses_the_whole_command(bot: Chatops) -> None:
    before = await bot.keyspace()
    staging = await bot.gates("staging")
    answer = await bot.run(f"/chatops run feature set {FLAG} false --staging --production", channel=D)
    assert not answer.ok and "Nothing was changed in any environment" in answer.text
    assert await bot.gates("staging") == staging == {"boolean": "true"}
    assert await bot.gates("production") == {}
    assert await bot.keyspace() == before


async def test_without_access_rules_anyone_may_change_production(chatops: MakeChatops) -> None:
    bot = await chatops(access=None)
    groups: tuple[str, ...] = ()
    assert (await bot.run(f"/chatops run feature set {FLAG} true --staging", groups=groups)).ok
    answer = await bot.run(f"/chatops run feature set {FLAG} true --production", user="eve", groups=groups)
    assert answer.ok, answer.text
    assert await bot.gates("production") == {"boolean": "true"}
    still = await bot.run(f"/chatops run feature set {FLAG} false --production", user="eve", groups=groups, channel=D)
    assert "may only run in #production" in still.text  # the channel rule still holds
    assert await bot.gates("production") == {"boolean": "true"}


async def test_a_channel_named_production_with_another_id_is_refused(bot: Chatops) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} true --production", channel=P, channel_id="C0FAKE")
    assert not answer.ok
    assert "may only run in #production (channel ID C0PROD)" in answer.text
    assert "this is #production by name but channel ID C0FAKE, a different channel" in answer.text
    assert await bot.keyspace() == before
    assert "Reason: gprd may only be changed in #production." in security_report(answer)


async def test_a_private_channel_is_recognised_by_its_id(bot: Chatops) -> None:
    answer = await bot.run(
        f"/chatops run feature set {FLAG} true --production", channel="privategroup", channel_id="C0PROD"
    )
    assert answer.ok, answer.text
    assert await bot.gates("production") == {"boolean": "true"}


async def test_help_names_the_rules_of_this_channel(bot: Chatops) -> None:
    answer = await bot.run("/chatops help", channel=D)
    assert answer.ok and not answer.reply.public
    assert "Rules in #development" in answer.text
    assert help_line(answer, "gprd") == (
        "gprd (--production, default): cannot be changed here (only in #production), "
        "by @sre, @database-frameworks (you may)"
    )
    assert help_line(answer, "dev") == "dev (--dev): can be changed here, by anyone"
    assert "Reading flags (get, list, history) works in any channel." in answer.text


def help_line(answer: Answer, environment: str) -> str:
    [found] = [row.strip() for row in answer.text.splitlines() if row.strip().startswith(f"{environment} (--")]
    return found


@pytest.mark.parametrize(
    ("channel", "channel_id", "groups"),
    [
        pytest.param(P, None, ("sre",), id="production, sre"),
        pytest.param(P, None, (), id="production, no group"),
        pytest.param(P, None, ("database-frameworks", "x"), id="production, dbf"),
        pytest.param(D, None, ("sre",), id="development, sre"),
        pytest.param("#random", None, (), id="random, no group"),
        pytest.param(P, "C0FAKE", ("sre",), id="production by name only"),
        pytest.param("privategroup", "C0PROD", ("sre",), id="private channel, production id"),
        pytest.param("privategroup", "G0OTHER", ("sre",), id="private channel, other id"),
    ],
)
async def test_help_says_what_the_policy_decides(
    bot: Chatops, channel: str, channel_id: str | None, groups: tuple[str, ...]
) -> None:
    help_answer = await bot.run("/chatops help", user="frank", groups=groups, channel=channel, channel_id=channel_id)
    gprd = help_line(help_answer, "gprd")
    assert gprd.startswith("gprd (--production, default): ")
    assert help_line(help_answer, "gstg") == "gstg (--staging): can be changed here, by anyone"
    change = f"/chatops run feature set {FLAG} true --production"
    answer = await bot.run(change, user="frank", groups=groups, channel=channel, channel_id=channel_id)
    channel_refused = "may only run in" in answer.text
    access_refused = "This action is not allowed" in answer.text
    assert answer.ok == (not channel_refused and not access_refused), answer.text
    assert ("can be changed here" in gprd and "cannot" not in gprd) == (not channel_refused), (gprd, answer.text)
    if not channel_refused:  # the access rule decided
        assert ("(you may)" in gprd) == answer.ok, (gprd, answer.text)
    member = bool(set(groups) & {"sre", "database-frameworks"})
    assert gprd.endswith("by @sre, @database-frameworks (you may)" if member else "(you may not)")
    assert (await bot.gates("production") == {"boolean": "true"}) == answer.ok
