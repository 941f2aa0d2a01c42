"""Changes that change nothing write nothing: no version, audit or journal entry, cross-post or
button; the answer says "already …" to the person alone. Where only some environments would
change, only those are written (and ruled on), and the answer names the others."""

from __future__ import annotations

from flags import AuditInfo, Percentage, SetBoolean, SetPercentageOfActors
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Answer, Chatops, MakeChatops
from tests.handlers.test_rollouts import _drive
from tests.helpers import memory_keyspace

D = "#development"
SET = "/chatops run feature set"
KILL = "/chatops run feature kill"
ROLLOUT = "/chatops run feature rollout"
ALREADY = "nothing to change, so nothing was written."
EVERYWHERE = ("dev", "pre", "staging", "staging-ref", "ops", "production")


def _undo_buttons(answer: Answer) -> list[str]:
    """Where each Undo button of the answer would roll back (by environment option)."""
    buttons = [*answer.reply.actions, *(s.button for s in answer.reply.sections if s.button is not None)]
    return [b.value.split("|")[0] for b in buttons]


def _said_nothing_was_written(answer: Answer, already: str) -> None:
    assert answer.ok and not answer.reply.public, answer.text  # not an error; for the person alone
    assert answer.posts == [] and _undo_buttons(answer) == []  # no cross-post, no Undo button
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
    assert f"Set to 25% of actors: `{FLAG}` on gstg-ref by @alice" in answer.text
    assert "gstg-ref: `off` → `25% of actors`" in answer.text and "gstg: `" not in answer.text
    assert "Already 25% of actors in dev, gstg: not written there." in answer.text
    assert _undo_buttons(answer) == ["staging-ref"]
    (log,) = answer.posted_to("#feature-flag-log")
    assert to_text(log).splitlines()[0] == f"Set to 25% of actors: `{FLAG}` on gstg-ref by @alice in #development"
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
    assert f"Killed: `{FLAG}` on gstg by @alice" in killed.text
    assert "Already off in dev, pre, gstg-ref, ops, gprd: not written there." in killed.text
    assert _undo_buttons(killed) == ["staging"]
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


async def test_a_rollout_that_would_change_nothing_is_not_started(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --staging --dev", channel=D)).ok
    before = await bot.keyspace()
    refused = await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50,100 --every 1h --staging --dev", channel=D)
    assert not refused.ok and refused.posts == [], refused.text  # no rollout message
    assert (
        f"`{FLAG}` is already on in dev, gstg: no step of this rollout would change it, so it was not started."
        in refused.text
    )
    assert await bot.keyspace() == before
    started = await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50,100 --every 1h --staging --pre", channel=D)
    assert started.ok, started.text  # pre moves


async def test_a_rollout_step_that_would_change_nothing_writes_nothing_and_the_rollout_goes_on(
    chatops: MakeChatops,
) -> None:
    bot = await chatops()
    await _by_another_writer(bot, "staging", SetPercentageOfActors(Percentage("30")))
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 30,50,100 --every 1s --staging", channel=D)).ok
    flags = await _flags(bot)
    posts = await _drive(bot, 0.5)  # step 1: 30% over 30%
    assert await _flags(bot) == flags  # no version, no audit entry
    assert [to_text(p).splitlines()[0] for p in posts] == [
        "Step 1/3 on gstg: 30% of actors — nothing written: already 30% of actors in gstg"
    ]
    posts = await _drive(bot, 2.5)
    assert await bot.gates("staging") == {"boolean": "true"}
    assert [to_text(p).splitlines()[0] for p in posts] == [
        "Step 2/3 on gstg: 50% of actors",
        "Step 3/3 on gstg: on — the rollout is done",
    ]
    history = await bot.app.stores["staging"].history(FLAG, limit=10)
    assert [e.command.rsplit("(", 1)[1] for e in history[:2]] == ["rollout R1 step 3/3)", "rollout R1 step 2/3)"]
    assert len(history) == 3  # the other writer's, and steps 2 and 3


async def test_a_rollout_step_leaves_an_environment_already_on_alone(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --dev", channel=D)).ok
    dev = await bot.app.stores["dev"].history(FLAG)
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,100 --every 1s --dev --staging", channel=D)).ok
    posts = await _drive(bot, 1.5)
    assert await bot.app.stores["dev"].history(FLAG) == dev  # never "set to 10%" over on → on
    assert await bot.gates("staging") == {"boolean": "true"}
    first = to_text(posts[0])
    assert "Already on in dev: not written there." in first and "dev: `on` → `on`" not in first


async def test_aborting_a_rollout_that_wrote_nothing_writes_nothing(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1h --staging", channel=D)).ok
    flags = await _flags(bot)
    aborted = await bot.run(":rollout_abort R1", channel=D)
    assert aborted.ok and ": aborted" in aborted.text, aborted.text
    assert "Aborted by alice: nothing to restore (the flag is as before)" in aborted.text
    assert "restored to" not in aborted.text and aborted.posted_to("#feature-flag-log") == []
    assert await _flags(bot) == flags  # no "restore" of off → off
