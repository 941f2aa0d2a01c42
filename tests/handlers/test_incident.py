"""Incident mode: `feature kill` switches a flag off everywhere at once, past every rule, for
incident responders too, and stops what would switch it back on."""

from __future__ import annotations

import random
import re

from flags.exposure import covers
from handlers.core.alerts import Alert, alerts_arrived
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.configs import example_environments
from tests.flags.flipper_oracle import FlipperOracle
from tests.handlers.conftest import FLAG, Chatops, MakeChatops
from tests.handlers.test_rollouts import _drive

SET = "/chatops run feature set"
KILL = "/chatops run feature kill"
INCIDENT = {"responders": ["oncall"], "channels": ["#incident-*"]}


async def _state(bot: Chatops, option: str) -> tuple[dict[str, str], bool]:
    record = await bot.app.stores[option].get(FLAG)
    return record.state.to_hash(), record.exists


async def test_kill_switches_the_flag_off_everywhere_past_every_rule(chatops: MakeChatops, redis_url: str) -> None:
    bot = await chatops(safety=True, redis_flags=True)  # Ruby's Flipper reads the flags off Redis
    everywhere = "--dev --pre --staging --staging-ref --ops --production --ignore-production-check"
    assert (await bot.run(f"{SET} {FLAG} true {everywhere}")).ok
    bot.fire("HighErrorRate", "errors", severity="s1")  # the production check would refuse a raise now
    answer = await bot.run(f'{KILL} {FLAG} --reason "errors on checkout"')
    assert answer.ok and answer.reply.public, answer.text
    for option in ("dev", "pre", "staging", "staging-ref", "ops", "production"):
        assert await _state(bot, option) == ({}, True), option  # false, as Flipper has it
    headline = f"Killed: `{FLAG}` on dev, pre, gstg, gstg-ref, ops, gprd by @alice\n  Reason: errors on checkout\n"
    assert answer.text.startswith(f"[#production] (in channel)\n{headline}"), answer.text
    (latest,) = await bot.app.stores["production"].history(FLAG, limit=1)
    assert latest.command == f'/chatops run feature kill {FLAG} --reason "errors on checkout"'  # as typed
    assert answer.posted_to("#feature-flag-log")  # cross-posted like any change
    flipper = FlipperOracle(redis_url)
    try:  # Ruby's Flipper reads it off everywhere, for any actor
        for option in ("dev", "pre", "staging", "staging-ref", "ops", "production"):
            store = bot.app.stores[option]
            pairs: list[tuple[str, str | None]] = [(FLAG, None), (FLAG, "User:1"), (FLAG, "User:2")]
            assert flipper.evaluate(store.prefix, pairs) == [False, False, False], option
    finally:
        flipper.close()


async def test_kill_never_waits_for_an_environment_that_is_down(chatops: MakeChatops, prefix: str) -> None:
    bot = await chatops(environments=example_environments(prefix, ops="redis://127.0.0.1:1/0"))
    assert (await bot.run(f"{SET} {FLAG} true --dev --staging --production --ignore-production-check")).ok
    answer = await bot.run(f"{KILL} {FLAG}")
    assert not answer.ok  # loudly: not everything is off
    assert ":rotating_light: NOT switched off on ops: " in answer.text
    for option in ("dev", "staging", "production"):
        assert await _state(bot, option) == ({}, True), option


async def test_a_responder_may_kill_from_an_incident_channel_not_from_anywhere(chatops: MakeChatops) -> None:
    bot = await chatops(incident=INCIDENT)
    assert (await bot.run(f"{SET} {FLAG} true --staging --production")).ok
    refused = await bot.run(f"{KILL} {FLAG} --production", user="carol", groups=("oncall",), channel="#general")
    assert not refused.ok and "Commands that change gprd may only run in #production" in refused.text
    assert refused.posted_to("#chatops-security")  # reported
    assert await _state(bot, "production") == ({"boolean": "true"}, True)
    killed = await bot.run(f"{KILL} {FLAG} --production", user="carol", groups=("oncall",), channel="#incident-42")
    assert killed.ok, killed.text
    assert await _state(bot, "production") == ({}, True)
    outsider = await bot.run(
        f"{SET} {FLAG} true --production", user="carol", groups=("oncall",), channel="#incident-42"
    )
    assert not outsider.ok  # a responder may kill, not raise


async def test_kill_pauses_the_rollout_and_cancels_the_schedules_of_the_flag(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (
        await bot.run(f"/chatops run feature rollout {FLAG} --steps 10,50 --every 1h --staging", channel="#development")
    ).ok
    assert (await bot.run(f"{SET} {FLAG} true --staging --in 1h", channel="#development")).ok
    answer = await bot.run(f"{KILL} {FLAG} --staging", channel="#development")
    assert answer.ok
    assert "! Rollout R1 of" in answer.text and " is paused." in answer.text
    assert "! Schedule S1 (" in answer.text and ") is cancelled." in answer.text
    assert "No scheduled or time-boxed changes." in (await bot.run("/chatops run feature schedule list")).text


async def test_a_freeze_refuses_raising_changes_and_lets_reductions_through(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} 50 --actors --staging", channel="#development")).ok
    frozen = await bot.run('/chatops run freeze on --staging --reason "incident 4521" --for 4h', channel="#development")
    assert frozen.ok and "Frozen gstg by @alice: incident 4521 (until " in frozen.text, frozen.text
    before = await bot.keyspace()
    refused = await bot.run(f"{SET} {FLAG} 75 --actors --staging", channel="#development")
    assert (
        not refused.ok and "This change raises exposure during a change freeze: gstg is frozen since " in refused.text
    )
    assert "by alice: incident 4521, until " in refused.text
    assert await bot.keyspace() == before
    assert (await bot.run(f"{SET} {FLAG} 25 --actors --staging", channel="#development")).ok  # a reduction
    assert (await bot.run(f"{SET} {FLAG} true --dev", channel="#development")).ok  # dev is not frozen
    assert ":snowflake: gstg is frozen since " in (await bot.run("/chatops help", channel="#random")).text
    elsewhere = await bot.run(f"{SET} {FLAG} true --production", channel="#random")  # refused by the channel rule
    assert not elsewhere.ok and "! :snowflake: gstg is frozen since " in elsewhere.text  # and told of the freeze
    status = await bot.run("/chatops run freeze status", channel="#random")
    assert "Change freezes in force" in status.text and "gstg is frozen since" in status.text
    assert (await bot.run("/chatops run freeze off --staging", channel="#development")).ok
    assert (await bot.run(f"{SET} {FLAG} 75 --actors --staging", channel="#development")).ok
    assert "No change freeze is in force." in (await bot.run("/chatops run freeze status")).text


async def test_freeze_off_says_what_it_lifted_and_what_still_holds(chatops: MakeChatops) -> None:
    bot = await chatops()
    short = await bot.run('/chatops run freeze on --staging --reason "a quick look" --for 12s', channel="#development")
    until = re.search(r"until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", short.text)  # under an hour: to the second
    assert short.ok and until is not None, short.text
    status = await bot.run("/chatops run freeze status")
    assert re.search(r"gstg is frozen since \S+ \d\d:\d\d:\d\d UTC by alice: a quick look, until ", status.text)
    labels = {"alertname": "HighErrorRate", "env": "gstg", "blocks_feature_flags": "true"}
    alert = Alert("firing", labels, "fp-freeze")
    await alerts_arrived(bot.app, ShellBackend("chatops", frozenset()), [alert])
    lifted = await bot.run("/chatops run freeze off --staging", channel="#development")
    assert lifted.ok and "Freeze lifted on gstg by @alice: changes that raise exposure work there again." in lifted.text
    assert "It was: gstg is frozen since " in lifted.text and "a quick look" in lifted.text
    assert "Still frozen by an alert: gstg is frozen since " in lifted.text and "staging" not in lifted.text
    again = await bot.run("/chatops run freeze off --staging", channel="#development")
    assert again.ok and "No freeze made by a person is in force on gstg: nothing was lifted." in again.text
    assert again.posts == []  # nothing happened: nothing to tell the log channel


async def test_an_expired_freeze_is_removed(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run('/chatops run freeze on --staging --reason "brief" --for 2s', channel="#development")).ok
    key = f"{bot.prefix}chatops:freezes"
    assert await bot.redis.hlen(key) == 1
    bot.clock.advance(3)
    assert "No change freeze is in force." in (await bot.run("/chatops run freeze status")).text
    assert await bot.redis.hlen(key) == 0


async def test_a_rollout_on_a_frozen_environment_is_refused_at_start(chatops: MakeChatops) -> None:
    bot = await chatops()
    rollout = f"/chatops run feature rollout {FLAG} --steps 10,50 --every 1h --staging"
    assert (await bot.run('/chatops run freeze on --staging --reason "incident"', channel="#development")).ok
    before = await bot.keyspace()
    refused = await bot.run(rollout, channel="#development")
    assert not refused.ok and refused.posts == []  # no rollout message: nothing was started
    assert "This rollout would raise exposure during a change freeze: gstg is frozen since " in refused.text
    assert "by alice: incident. Nothing was started: start it once the freeze is lifted" in refused.text
    assert await bot.keyspace() == before
    assert "No rollouts." in (await bot.run("/chatops run feature rollout list")).text


async def test_a_freeze_after_its_start_pauses_a_rollout_step(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (
        await bot.run(f"/chatops run feature rollout {FLAG} --steps 10,50 --every 1h --staging", channel="#development")
    ).ok
    assert (await bot.run('/chatops run freeze on --staging --reason "incident"', channel="#development")).ok
    posts = await _drive(bot, 0.5)
    assert await _state(bot, "staging") == ({}, False)
    text = to_text(posts[-1])
    assert text.startswith(
        "Rollout R1 paused: step 1/2 was not written: This change raises exposure during a change freeze"
    )


async def test_bad_freeze_commands_are_refused_and_change_nothing(chatops: MakeChatops) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    for text, message in [
        ("freeze on --staging", "`freeze on` needs `--reason TEXT`"),
        ("freeze on --staging --reason x --for ever", "`--for ever` is not a duration"),
        ("freeze on now --reason x", "Unexpected `now`: name environments as options"),
        ("freeze thaw", "Unknown subcommand `thaw` for `freeze`"),
    ]:
        answer = await bot.run(f"/chatops run {text}", channel="#development")
        assert not answer.ok and message in answer.text, (text, answer.text)
    assert await bot.keyspace() == before


async def test_feature_changes_lists_recent_changes_newest_first_with_roll_back(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} 10 --actors --staging", channel="#development")).ok
    assert (await bot.run(f"{SET} {FLAG} 50 --actors --staging", user="bob", channel="#development")).ok
    answer = await bot.run("/chatops run feature changes --since 1h --staging", channel="#random")
    assert answer.ok, answer.text
    text = answer.text
    assert "gstg: flag changes in the last 60 min" in text
    newest = text.index(f"`{FLAG}` 10% of actors → 50% of actors by @bob ")
    older = text.index(f"`{FLAG}` off → 10% of actors by @alice ")
    assert newest < older
    assert [a.label for a in answer.reply.actions] == [
        "Undo on gstg: 50% of actors → 10% of actors",
        "Undo on gstg: 10% of actors → off",
    ]
    rolled = await bot.run(f":rollback {answer.reply.actions[0].value}", channel="#development")
    assert rolled.ok and await _state(bot, "staging") == ({"percentage_of_actors": "10"}, True)
    quiet = await bot.run("/chatops run feature changes --since 1h --match nothing_like_it --staging")
    assert "gstg: flag changes in the last 60 min\n  none" in quiet.text
    bad = await bot.run("/chatops run feature changes --since yesterday")
    assert not bad.ok and "`--since yesterday` is not a duration" in bad.text


async def test_during_a_freeze_no_command_raises_exposure(chatops: MakeChatops) -> None:
    """2,000 commands of every kind during a freeze of every environment: none raises exposure."""
    bot = await chatops()
    options = ["dev", "pre", "staging", "staging-ref", "ops", "production"]
    flags = [FLAG, "other_flag_one", "other_flag_two"]
    assert (await bot.run(f"{SET} {FLAG} 30 --actors --dev --staging --production --ignore-production-check")).ok
    assert (await bot.run('/chatops run freeze on --reason "fuzz"')).ok
    before = {(f, o): (await bot.app.stores[o].get(f)).state for f in flags for o in options}
    entries = [e.entry_id for e in await bot.app.stores["staging"].history(FLAG, limit=5)]
    rng = random.Random(20261126)
    values = [
        "true",
        "false",
        "0",
        "100",
        "5 --actors",
        "30 --actors",
        "90 --actors",
        "10 --random --ignore-random-deprecation-check",
    ]
    for _ in range(2000):
        flag, option = rng.choice(flags), rng.choice(options)
        kind = rng.random()
        if kind < 0.55:
            scope = rng.choice(["", " --user=alice", " --feature-group=beta", " --project=gitlab-org/gitaly"])
            value = rng.choice(values if not scope else ["true", "false"])
            text = f"{SET} {flag} {value}{scope} --{option} --ignore-production-check --ignore-feature-flag-consistency-check"
        elif kind < 0.65:
            text = f"/chatops run feature delete {flag} --{option}"
        elif kind < 0.75:
            text = f"{KILL} {flag} --{option}"
        elif kind < 0.85 and entries:
            text = f":rollback staging|{FLAG}|{rng.choice(entries)}"
        elif kind < 0.95:
            text = f"/chatops run feature rollout {flag} --steps 10,50 --every 1h --{option}"
        else:
            text = f"{SET} {flag} true --{option} --in 1s"
        await bot.run(text, channel="#production")
    for (flag, option), state in before.items():
        after = (await bot.app.stores[option].get(flag)).state
        assert covers(state, after), (flag, option, state, after)  # nothing anywhere is more exposed


async def test_a_repeated_alert_updates_its_message_and_a_quiet_one_can_stay_unposted(chatops: MakeChatops) -> None:
    bot = await chatops(incident={"post_without_changes": False})
    chat = ShellBackend("chatops", frozenset())
    quiet = Alert("firing", {"alertname": "Quiet", "env": "gprd"}, "fp-quiet")
    assert (await alerts_arrived(bot.app, chat, [quiet]))["posted"] == [] and chat.posted == []
    assert (await bot.run(f"{SET} {FLAG} 10 --actors --staging", channel="#development")).ok
    loud = Alert("firing", {"alertname": "Loud", "env": "gstg"}, "fp-loud")
    await alerts_arrived(bot.app, chat, [loud])
    await alerts_arrived(bot.app, chat, [loud])  # Alertmanager repeats itself
    await alerts_arrived(bot.app, chat, [Alert("resolved", loud.labels, "fp-loud")])
    first, again, resolved = chat.posted
    assert first.channel == "#production" and not first.replaces
    assert again.replaces and again.replaces == resolved.replaces  # one message, updated
    assert to_text(resolved).startswith(":white_check_mark: Loud on gstg resolved at ")
    assert f"`{FLAG}` off → 10% of actors by @alice " in to_text(first)
