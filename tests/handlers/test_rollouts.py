"""Staged rollouts: each step an ordinary change written by the timer driver, paused by a manual
change, a lost access right or a failing production check, aborted by a firing alert."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from flags import FlagState
from handlers.core.caller import Caller
from handlers.core.reply import CrossPost
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from handlers.rollouts.message import buttons
from handlers.rollouts.store import Rollout
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


async def _driven(bot: Chatops, seconds: float) -> list[CrossPost]:
    """Everything one driver ticking for ``seconds`` posted: the rollout's events and message
    updates, and each change's own cross-posts."""
    chat = ShellBackend("alice", frozenset({"sre"}), channels=dict(bot.channels))
    await bot.tick(bot.drivers(chat), seconds)
    return list(chat.posted)


def _labels(post: CrossPost) -> list[str]:
    return [a.label for a in post.actions]


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
    assert "Step 1/3: 10% of actors — due " in text and "Step 3/3: on — due " in text
    assert [a.label for a in card.actions] == ["Pause R1", "Next step now: 10% of actors", "Abort R1 & roll back"]
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
        "Step 1/3 on gstg: 10% of actors",
        "Step 2/3 on gstg: 50% of actors",
        "Step 3/3 on gstg: on — the rollout is done",
    ]
    status = await bot.run(f"{ROLLOUT} status {FLAG}", channel=D)
    assert f"Rollout R1 of `{FLAG}` on gstg: done" in status.text and status.reply.actions == ()
    assert not status.reply.public  # only to the person: the channel has the rollout's message


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
    assert ": paused" in status.text and "Step 1/2: 10% of actors — when resumed" in status.text  # not skipped


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
    assert paused.ok and to_text(paused.reply) == "Paused R1." and not paused.reply.public  # no second copy
    (event, card) = [p for p in paused.posts if p.purpose == "rollout"]
    assert to_text(event) == "Paused by alice" and event.thread == card.replaces != ""
    assert ": paused" in to_text(card) and [a.label for a in card.actions] == ["Resume R1", "Abort R1 & roll back"]
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
    assert aborted.ok and to_text(aborted.reply) == "Aborted R2." and not aborted.reply.public
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
    assert ": aborted" in status.text and ": Aborted: alert HighErrorRate {" in status.text


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


async def test_the_message_has_only_the_buttons_that_apply(chatops: MakeChatops) -> None:
    config = (await chatops()).app.config
    alice = Caller("U0ALICE", "alice", "C0DEV", "development")
    running = Rollout(
        "R3", FLAG, ("staging",), (10, 50), 3600, alice, 0, done=1, before={"staging": (FlagState(), False)}
    )
    assert [a.label for a in buttons(running, config)] == [
        "Pause R3",
        "Next step now: 50% of actors",
        "Abort R3 & roll back",
    ]
    (_, next_step, abort) = buttons(running, config)
    assert next_step.confirm is not None and next_step.confirm.text == (
        f"Set {FLAG} on gstg to 50% of actors now (step 2/2), without waiting for its time."
    )
    assert abort.style == "danger" and abort.confirm is not None
    assert abort.confirm.text == f"Stop R3 and restore {FLAG} as it was before the rollout: off on gstg."
    assert [a.label for a in buttons(replace(running, status="paused"), config)] == [
        "Resume R3",
        "Abort R3 & roll back",
    ]
    approved = replace(running, approved_by="bob")  # its pace was approved: no Next step
    assert [a.label for a in buttons(approved, config)] == ["Pause R3", "Abort R3 & roll back"]
    assert buttons(replace(running, status="done", done=2), config) == ()
    assert buttons(replace(running, status="aborted"), config) == ()


async def test_its_events_are_listed_in_plain_words_and_each_click_answers_one_line(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50,100 --every 1m --staging", channel=D)).ok
    await _drive(bot, 0.5)
    answers = [await bot.run(f":rollout_{action} R1", channel=D) for action in ("pause", "resume", "next")]
    assert [to_text(a.reply) for a in answers] == ["Paused R1.", "Resumed R1.", "Step 2/3 of R1 is due now."]
    assert not any(a.reply.public or a.reply.actions for a in answers)
    (card,) = [p for p in answers[-1].posts if p.replaces]
    listed = [text for text in to_text(card).splitlines() if " UTC: " in text]
    assert re.fullmatch(r"  \d\d:\d\d:\d\d UTC: Started by alice\.", listed[0])  # to the second: steps 1 min apart
    assert [text.split(" UTC: ", 1)[1] for text in listed] == [
        "Started by alice.",
        "Step 1/3 written: 10% of actors on gstg.",
        "Paused by alice.",
        "Resumed by alice.",
        "Step 2/3 brought forward by alice.",
    ]


async def test_status_answers_only_the_person_without_a_second_set_of_buttons(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1h --staging", channel=D)).ok
    status = await bot.run(f"{ROLLOUT} status {FLAG}", user="bob", channel=D)
    assert status.ok and not status.reply.public and status.reply.actions == () and status.posts == []
    assert f"Rollout R1 of `{FLAG}` on gstg: running" in status.text


async def test_a_kill_pauses_the_rollout_and_its_message_and_thread_say_so(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1h --staging", channel=D)).ok
    await _drive(bot, 0.5)
    killed = await bot.run(f'/chatops run feature kill {FLAG} --staging --reason "errors"', user="bob", channel=D)
    assert killed.ok and f"Rollout R1 of {FLAG} is paused." in killed.text
    (event, card) = [p for p in killed.posts if p.purpose == "rollout"]
    assert event.thread and event.thread == card.replaces
    assert to_text(event) == f"Rollout R1 of `{FLAG}` paused: the flag was killed by bob"
    assert f"Rollout R1 of `{FLAG}` on gstg: paused" in to_text(card)
    assert _labels(card) == ["Resume R1", "Abort R1 & roll back"]  # no Pause or Next step left
    (logged,) = killed.posted_to("#feature-flag-log")
    assert f"Killed: `{FLAG}` on gstg by @bob" in to_text(logged)
    assert [a.value.split("|")[0] for a in logged.actions] == ["staging"]
    assert await _state(bot, "staging") == {}
    await _drive(bot, 2.0)
    assert await _state(bot, "staging") == {}  # no step turns it back on


async def test_a_manual_change_pauses_the_rollout_and_its_message_says_so(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1s --staging", channel=D)).ok
    await _drive(bot, 0.5)
    assert (await bot.run(f"/chatops run feature set {FLAG} 20 --actors --staging", user="bob", channel=D)).ok
    posts = [p for p in await _driven(bot, 1.5) if p.purpose == "rollout"]
    (event, card) = posts[-2:]
    assert event.thread == card.replaces and "was changed by hand on gstg" in to_text(event)
    assert ": paused" in to_text(card) and _labels(card) == ["Resume R1", "Abort R1 & roll back"]
    assert await _state(bot, "staging") == {"percentage_of_actors": "20"}


async def test_a_freeze_pauses_the_rollout_and_its_message_says_why_once(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1h --staging", channel=D)).ok
    assert (await bot.run('/chatops run freeze on --staging --reason "incident 4521"', channel=D)).ok
    posts = [p for p in await _driven(bot, 0.5) if p.purpose == "rollout"]
    (event, card) = posts[-2:]
    text = to_text(event)
    assert text.startswith("Rollout R1 paused: step 1/2 was not written: This change raises exposure during a change")
    assert text.count("incident 4521") == 1  # the reason once, not again under it
    assert ": paused" in to_text(card) and _labels(card) == ["Resume R1", "Abort R1 & roll back"]
    assert await _state(bot, "staging") == {}


async def test_resumed_after_a_manual_change_or_a_kill_it_goes_on_from_the_flag_as_it_is(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50,100 --every 1s --staging", channel=D)).ok
    await _drive(bot, 0.5)
    assert (await bot.run(f"/chatops run feature set {FLAG} 5 --actors --staging", user="bob", channel=D)).ok
    await _drive(bot, 1.5)
    assert "paused" in (await bot.run(f"{ROLLOUT} list", channel=D)).text
    assert (await bot.run(f"{ROLLOUT} resume {FLAG}", channel=D)).ok  # the person resuming has seen bob's change
    await _drive(bot, 0.5)
    assert await _state(bot, "staging") == {"percentage_of_actors": "50"}  # step 2, over bob's 5%
    assert (await bot.run(f"/chatops run feature kill {FLAG} --staging", channel=D)).ok  # pauses it
    assert (await bot.run(f"{ROLLOUT} resume {FLAG}", channel=D)).ok
    await _drive(bot, 0.5)
    assert await _state(bot, "staging") == {"boolean": "true"}  # step 3: resumed means going on
    assert "done" in (await bot.run(f"{ROLLOUT} list", channel=D)).text
