"""Staged rollouts: each step an ordinary change written by the timer driver, paused by a manual
change, a lost access right or a failing production check, aborted by a firing alert."""

from __future__ import annotations

import pytest

from handlers.core.reply import CrossPost
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Chatops, MakeChatops

D = "#development"
ROLLOUT = "/chatops run feature rollout"


async def _drive(
    bot: Chatops, seconds: float, *, user: str = "alice", groups: frozenset[str] = frozenset({"sre"})
) -> list[CrossPost]:
    """One driver ticking for ``seconds``; its chat is ``user`` in ``groups`` (whose rules the steps meet)."""
    chat = ShellBackend(user, groups, channels=dict(bot.channels))
    await bot.tick(bot.drivers(chat), seconds)
    return [p for p in chat.posted if p.purpose == "rollout" and not p.replaces]  # the events, in the thread


async def _state(bot: Chatops, option: str) -> dict[str, str]:
    return (await bot.app.stores[option].get(FLAG)).state.to_hash()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--every 1s", "`feature rollout` needs `--steps`, rising percentages"),
        ("--steps 10,50", "`feature rollout` needs `--every DURATION`"),
        ("--steps 10,5 --every 1s", "`--steps 10,5`: steps must rise (5 comes after 10)."),
        ("--steps 10,150 --every 1s", "`--steps 10,150`: 150 is not a percentage above 0 and at most 100."),
        ("--steps ten --every 1s", "`--steps ten`: `ten` is not a percentage."),
        ("--steps 10 --every soon", "`--every soon` is not a duration"),
        ("--steps 10 --every 1s --random", "`--random` (percentage of time) is deprecated"),
        ("--steps 10 --every 1s --actors --random", "Use either `--actors` (the default) or `--random`, not both."),
        ("--steps 10 --every 1s --production", "`--every 1s` is too short for production: at least 60 s"),
        ("--steps 10 --every 1s --guard=", "`--guard` has an empty name"),
        ('--steps 10 --every 1s --guard=alertname="X"', "`--guard`: `alertname=X` is not an Alertmanager matcher"),
        ("--steps 10 --every 1s --guard='a=~\"(\"'", '`--guard`: `a=~"("`: the regex does not compile'),
    ],
)
async def test_bad_rollouts_are_refused_and_change_nothing(chatops: MakeChatops, options: str, message: str) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    answer = await bot.run(
        f"{ROLLOUT} {FLAG} --staging {options}".replace(
            "--staging --steps 10 --every 1s --production", "--steps 10 --every 1s --production"
        )
    )
    assert not answer.ok and message in answer.text, answer.text
    assert await bot.keyspace() == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "`feature rollout` needs a flag name"),
        ("status", "`feature rollout status` needs the flag name"),
        (f"abort {FLAG}", f"There is no rollout of {FLAG}: start one with"),
        (f"list {FLAG}", "`feature rollout list` takes nothing more."),
    ],
)
async def test_bad_actions_are_refused_and_change_nothing(chatops: MakeChatops, line: str, message: str) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    answer = await bot.run(f"{ROLLOUT} {line}", channel=D)
    assert not answer.ok and message in answer.text, answer.text
    assert await bot.keyspace() == before


async def test_a_rollout_writes_each_step_as_an_ordinary_change(chatops: MakeChatops) -> None:
    bot = await chatops()
    answer = await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50,100 --every 1s --staging", channel=D)
    assert answer.ok and not answer.reply.public, answer.text
    assert "Started R1 on gstg: its plan and progress are in the message posted in this channel" in answer.text
    (card,) = [p for p in answer.posts if p.purpose == "rollout"]  # the rollout's message, in the channel
    text = to_text(card)
    assert card.channel == "C0DEV" and text.startswith(f"Rollout R1 of `{FLAG}` on gstg: started")
    assert "Step 1/3: 10% of actors — due " in text and "Step 3/3: 100% (true) — due " in text
    assert [a.label for a in card.actions] == ["Pause", "Resume", "Next step now", "Abort & roll back"]
    posts = await _drive(bot, 3.5)
    assert await _state(bot, "staging") == {"boolean": "true"}
    history = await bot.app.stores["staging"].history(FLAG, limit=10)
    assert [e.command.rsplit("(", 1)[1] for e in reversed(history)] == [
        "rollout R1 step 1/3)",
        "rollout R1 step 2/3)",
        "rollout R1 step 3/3)",
    ]
    assert all(e.who == "alice" for e in history)
    titles = [to_text(p).splitlines()[0] for p in posts]
    assert titles == [
        "Step 1/3: 10% of actors on gstg",
        "Step 2/3: 50% of actors on gstg",
        "Step 3/3: 100% (true) on gstg — done",
    ]
    status = await bot.run(f"{ROLLOUT} status {FLAG}", channel=D)
    assert f"Rollout R1 of `{FLAG}` on gstg: done" in status.text and status.reply.actions == ()


async def test_a_manual_change_pauses_the_rollout(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1s --staging", channel=D)).ok
    await _drive(bot, 0.5)
    assert await _state(bot, "staging") == {"percentage_of_actors": "10"}
    listed = await bot.run(f"{ROLLOUT} list", channel=D)
    assert f"R1 · {FLAG} · running · 1/2 steps · next: 50% at 20" in listed.text, listed.text
    assert (await bot.run(f"/chatops run feature set {FLAG} false --staging", user="bob", channel=D)).ok
    posts = await _drive(bot, 1.5)
    listed = await bot.run(f"{ROLLOUT} list", channel=D)
    assert f"R1 · {FLAG} · paused · 1/2 steps · next: 50% when resumed" in listed.text, listed.text
    assert await _state(bot, "staging") == {}  # bob's change stands; no step over it
    text = to_text(posts[-1])
    assert text.startswith(f"Rollout R1 of `{FLAG}` paused: {FLAG} was changed by hand on gstg (")
    assert "by bob): the manual change wins" in text


async def test_losing_access_pauses_the_rollout(chatops: MakeChatops) -> None:
    bot = await chatops(safety={"rollout_min_every_seconds": 1})
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1s --production --guard='alertname=\"none\"'")).ok
    posts = await _drive(bot, 1.0, groups=frozenset())  # alice is no longer in @sre
    assert await _state(bot, "production") == {}
    text = to_text(posts[-1])
    assert text.startswith("Rollout R1 paused: step 1/2 was not written: This action is not allowed")


async def test_a_failing_production_check_pauses_and_does_not_skip(chatops: MakeChatops) -> None:
    bot = await chatops(safety={"rollout_min_every_seconds": 1})
    started = await bot.run(
        f"{ROLLOUT} {FLAG} --steps 10,50 --every 1s --production --guard='alertname=\"none\"' --ignore-feature-flag-consistency-check"
    )
    assert started.ok, started.text
    bot.fire("HighErrorRate", "errors", severity="s1")
    posts = await _drive(bot, 1.5)
    assert await _state(bot, "production") == {}
    assert "step 1/2 was not written" in to_text(posts[-1]) and "HighErrorRate" in to_text(posts[-1])
    status = await bot.run(f"{ROLLOUT} status {FLAG}")
    assert ": paused" in status.text and "Step 1/2: 10% of actors — due" in status.text  # not skipped


async def test_a_firing_alert_aborts_and_restores_the_state_before(chatops: MakeChatops) -> None:
    bot = await chatops(safety={"rollout_min_every_seconds": 1})
    assert (
        await bot.run(f"/chatops run feature set {FLAG} 5 --actors --staging --production --ignore-production-check")
    ).ok
    consistency = "--ignore-feature-flag-consistency-check"
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50,100 --every 2s --production {consistency}")).ok
    await _drive(bot, 0.5)
    assert await _state(bot, "production") == {"percentage_of_actors": "10"}
    bot.fire("HighErrorRate", "errors", severity="s1")
    posts = await _drive(bot, 2.5)
    assert await _state(bot, "production") == {"percentage_of_actors": "5"}  # as before the rollout
    text = to_text(posts[-1])
    assert text.startswith(f"Rollout R1 of `{FLAG}` aborted: alert HighErrorRate {{") and "aborted" in text
    history = await bot.app.stores["production"].history(FLAG, limit=1)
    assert history[0].command.startswith("rollout R1 aborted: alert HighErrorRate")


async def test_pause_resume_next_and_abort_by_people_and_buttons(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50,100 --every 1h --staging", channel=D)).ok
    await _drive(bot, 0.5)
    assert await _state(bot, "staging") == {"percentage_of_actors": "10"}
    paused = await bot.run(":rollout_pause R1", channel=D)
    assert paused.ok and ": paused" in paused.text and "Paused: by alice" in paused.text
    assert (await bot.run(f"{ROLLOUT} next {FLAG}", channel=D)).text.count("is paused: resume it first") == 1
    assert (await bot.run(f"{ROLLOUT} resume {FLAG}", channel=D)).ok
    await _drive(bot, 0.5)  # resumed: the next step is due now
    assert await _state(bot, "staging") == {"percentage_of_actors": "50"}
    assert (await bot.run(f"{ROLLOUT} next {FLAG}", channel=D)).ok
    await _drive(bot, 0.5)
    assert await _state(bot, "staging") == {"boolean": "true"}
    consistency = "--ignore-feature-flag-consistency-check"
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10 --every 1h --production {consistency}")).ok
    refused = await bot.run(f"{ROLLOUT} abort {FLAG}", user="mallory", groups=(), channel="#random")
    assert not refused.ok and "Only who started R2 (alice), or someone who may change gprd here" in refused.text
    assert "Reason: gprd may only be changed in #production, and R2 was started by alice." in refused.text
    aborted = await bot.run(":rollout_abort R2")
    assert aborted.ok and ": aborted" in aborted.text
    assert await _state(bot, "production") == {}
    listed = await bot.run(f"{ROLLOUT} list", channel=D)
    assert "R2 · " in listed.text and "R1 · " in listed.text


async def test_the_guard_is_polled_between_steps(chatops: MakeChatops) -> None:
    bot = await chatops(safety={"rollout_min_every_seconds": 1, "rollout_guard_poll_seconds": 1})
    consistency = "--ignore-feature-flag-consistency-check"
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1h --production {consistency}")).ok
    await _drive(bot, 0.5)
    assert await _state(bot, "production") == {"percentage_of_actors": "10"}
    bot.fire("HighErrorRate", "errors", severity="s1")
    await _drive(bot, 1.5)  # long before the next step is due
    assert await _state(bot, "production") == {}
    status = await bot.run(f"{ROLLOUT} status {FLAG}")
    assert ": aborted" in status.text and "Aborted: alert HighErrorRate {" in status.text


async def test_after_downtime_a_missed_step_runs_once_then_the_plan_goes_on(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,20,30,40 --every 1s --staging", channel=D)).ok
    await _drive(bot, 0.3)  # step 1, then every process stops
    assert await _state(bot, "staging") == {"percentage_of_actors": "10"}
    bot.clock.advance(2.5)  # steps 2 and 3 fall due while nobody drives
    await _drive(bot, 0.6)  # a process starts again
    assert await _state(bot, "staging") == {"percentage_of_actors": "20"}  # one step, not two at once
    await _drive(bot, 1.2)
    assert await _state(bot, "staging") == {"percentage_of_actors": "30"}  # then one per interval
    history = await bot.app.stores["staging"].history(FLAG, limit=10)
    assert [e.command.rsplit("step ", 1)[1] for e in reversed(history)] == ["1/4)", "2/4)", "3/4)"]
