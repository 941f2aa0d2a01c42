"""Changes that change nothing write nothing: no version, audit or journal entry, cross-post or
button; the answer says "already …" to the person alone. Where only some environments would
change, only those are written (and ruled on), and the answer names the others."""

from __future__ import annotations

from flags import AuditInfo, SetBoolean, SetPercentageOfActors
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Answer, Chatops, MakeChatops
from tests.helpers import memory_keyspace

D = "#development"
SET = "/chatops run feature set"
KILL = "/chatops run feature kill"
ALREADY = "nothing to change, so nothing was written."
EVERYWHERE = ("dev", "pre", "staging", "staging-ref", "ops", "production")


def _said_nothing_was_written(answer: Answer, already: str) -> None:
    assert answer.ok and not answer.reply.public, answer.text  # not an error; for the person alone
    assert answer.posts == [] and answer.reply.actions == ()  # no cross-post, no Roll back button
    assert f"`{FLAG}` is already {already}: {ALREADY}" in answer.text, answer.text


async def _flags(bot: Chatops) -> dict[str, object]:
    """Every flag's gates, version and audit entries (without the bot's own records)."""
    return await memory_keyspace(bot.app.stores.values())


async def _by_another_writer(bot: Chatops, option: str, change: SetBoolean | SetPercentageOfActors) -> None:
    await bot.app.stores[option].apply(FLAG, change, AuditInfo(who="flipper-console"))


async def test_setting_a_flag_as_it_already_is_writes_nothing(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --staging --production")).ok
    before = await bot.keyspace()  # flags, audit, and the bot's own Redis (the journal among it)
    for line in (
        f"{SET} {FLAG} true --staging --production",
        f"{SET} {FLAG} 30 --actors --staging --production",  # on is on, whatever percentage under it
        f"{SET} {FLAG} true --user=alice --staging --production",
    ):
        _said_nothing_was_written(await bot.run(line), "on in gstg, gprd")
        assert await bot.keyspace() == before, line
    assert await bot.gates("staging") == {"boolean": "true"}
    _said_nothing_was_written(await bot.run(f"{SET} {FLAG} 0 --actors --dev", channel=D), "off in dev")
    assert not (await bot.flag("dev")).exists  # not even listed: an unlisted flag reads off by its definition
    assert await bot.keyspace() == before
    assert (await bot.run(f"{SET} {FLAG} true --user=bob --pre", channel=D)).ok
    before = await bot.keyspace()
    answer = await bot.run(f"{SET} {FLAG} true --user=bob --pre --staging")
    _said_nothing_was_written(answer, "actors: User:bob in pre and on in gstg")
    assert await bot.keyspace() == before


async def test_a_change_writes_only_the_environments_it_changes(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} 25 --actors --dev --staging", channel=D)).ok
    staging = await bot.app.stores["staging"].history(FLAG)
    answer = await bot.run(f"{SET} {FLAG} 25 --actors --dev --staging --staging-ref", channel=D)
    assert answer.ok and answer.reply.public
    assert f"Feature flag `{FLAG}` set to 25% of actors on gstg-ref by @alice" in answer.text
    assert "gstg-ref: `off` → `25% of actors`" in answer.text and "gstg: `" not in answer.text
    assert "Already 25% of actors in dev, gstg: not written there." in answer.text
    assert [a.label for a in answer.reply.actions] == ["Roll back gstg-ref"]
    (log,) = answer.posted_to("#feature-flag-log")
    assert (
        to_text(log).splitlines()[0]
        == f"Feature flag `{FLAG}` set to 25% of actors on gstg-ref by @alice in #development"
    )
    assert await bot.app.stores["staging"].history(FLAG) == staging
    assert [(await bot.flag(o)).version for o in ("dev", "staging", "staging-ref")] == [1, 1, 1]


async def test_no_safety_rule_or_approval_stands_in_the_way_of_what_changes_nothing(chatops: MakeChatops) -> None:
    access = [
        {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["approvers"]}},
        {"environments": ["*"], "anyone": True},
    ]
    bot = await chatops(access=access)
    await _by_another_writer(bot, "staging", SetBoolean(True))
    await _by_another_writer(bot, "production", SetBoolean(True))
    assert (await bot.run('/chatops run freeze on --staging --production --reason "incident 7"')).ok
    before = await bot.keyspace()  # the freeze among it
    answer = await bot.run(f"{SET} {FLAG} true --staging --production")  # no freeze, no approval card
    _said_nothing_was_written(answer, "on in gstg, gprd")
    assert await bot.keyspace() == before
    # gstg is frozen but already on: what the command changes elsewhere is written
    answer = await bot.run(f"{SET} {FLAG} true --staging --staging-ref", channel=D)
    assert answer.ok and "Already on in gstg: not written there." in answer.text, answer.text
    assert await bot.gates("staging-ref") == {"boolean": "true"}


async def test_kill_of_a_flag_already_off_says_so_and_writes_nothing(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} false --staging --production")).ok  # listed, off
    before = await bot.keyspace()
    answer = await bot.run(f'{KILL} {FLAG} --reason "errors"')
    _said_nothing_was_written(answer, "off in dev, pre, gstg, gstg-ref, ops, gprd")
    assert await bot.keyspace() == before
    assert (await bot.run(f"{SET} {FLAG} 10 --actors --staging", channel=D)).ok
    flags = await _flags(bot)
    killed = await bot.run(f"{KILL} {FLAG}")
    assert killed.ok and killed.reply.public
    assert f"Feature flag `{FLAG}` set to false on gstg by @alice" in killed.text
    assert "Already off in dev, pre, gstg-ref, ops, gprd: not written there." in killed.text
    assert [a.label for a in killed.reply.actions] == ["Roll back gstg"]
    after = await _flags(bot)
    changed = [k for k in after if after[k] != flags.get(k)]
    assert changed and all(k.startswith(f"{bot.prefix}gstg:") for k in changed), changed


async def test_roll_back_to_the_state_the_flag_is_in_says_so(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} 10 --actors --staging", channel=D)).ok
    raised = await bot.run(f"{SET} {FLAG} 50 --actors --staging", channel=D)
    assert (await bot.run(f"{SET} {FLAG} 10 --actors --staging", user="bob", channel=D)).ok  # by hand
    before = await bot.keyspace()
    answer = await bot.run(f":rollback {raised.reply.actions[0].value}", channel=D)
    _said_nothing_was_written(answer, "10% of actors in gstg")  # not "changed since": it is as asked
    assert await bot.keyspace() == before
