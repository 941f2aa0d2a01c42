"""Scheduled (``--at``/``--in``) and time-boxed (``--for``) changes, driven by the timer driver
exactly as a serving process drives them: real Redis, two drivers competing for the lease."""

from __future__ import annotations

import asyncio

import pytest

from handlers.core.driver import Driver
from handlers.core.lease import Lease
from handlers.core.reply import CrossPost
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from handlers.core.timers import Fenced
from handlers.schedules.fire import fire
from handlers.schedules.store import SCHEDULE_STORE, ScheduleStore
from tests.handlers.conftest import FLAG, Chatops, MakeChatops

SET = "/chatops run feature set"
D = "#development"


def _drivers(bot: Chatops, count: int = 2, lease_s: float = 6.0) -> tuple[list[Driver], ShellBackend]:
    posts = ShellBackend("driver", frozenset({"sre"}), channels={"#production": "C0PROD"})
    return bot.drivers(posts, count, lease_s), posts


def _scheduled(backend: ShellBackend) -> list[CrossPost]:
    """What the driver posted about schedules (besides the changes' own cross-posts)."""
    return [p for p in backend.posted if p.purpose == "scheduled change"]


async def _state(bot: Chatops, option: str) -> dict[str, str]:
    return (await bot.app.stores[option].get(FLAG)).state.to_hash()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--at tomorrow", '`--at tomorrow` is not a time: use `--at "2026-12-01 09:00 UTC"` or `--at 14:30` (UTC)'),
        ('--at "2020-01-01 09:00 UTC"', "`--at 2020-01-01 09:00 UTC` is in the past (it is now "),
        ('--at "2099-01-01 09:00"', "`--at 2099-01-01 09:00` is more than 30 days ahead."),
        ("--at 25:00", "`--at 25:00` is not a time"),
        ("--in 2x", "`--in 2x` is not a duration: use e.g. `30m`, `2h`, `1d` or `1h30m`."),
        ("--in 0s", "`--in 0s` is too short: at least 1 s."),
        ("--in 31d", "`--in 31d` is too long: at most 30 days."),
        ("--for 1h --for", "`--for` needs a value"),
        ("--at 14:30 --in 2h", "Use either `--at TIME` or `--in DURATION`, not both."),
        ("--for forever", "`--for forever` is not a duration"),
    ],
)
async def test_bad_timing_is_refused_and_changes_nothing(chatops: MakeChatops, options: str, message: str) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    answer = await bot.run(f"{SET} {FLAG} true --staging {options}", channel=D)
    assert not answer.ok and message in answer.text, answer.text
    assert await bot.keyspace() == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("schedule", "`feature schedule` takes `list` or `cancel ID`"),
        ("schedule cancel", "`feature schedule cancel` needs a schedule id, e.g. `S3`"),
        ("schedule cancel 3", "`3` is not a schedule id: they look like `S3`"),
        ("schedule cancel S3 S4", "Unexpected `S4`. `feature schedule cancel` takes one schedule id"),
        ("schedule cancel S999", "There is no schedule S999: it ran, was cancelled, or never existed"),
        ("schedule list now", "Unexpected `now`. `feature schedule list` takes nothing more."),
        ("schedule list --staging", "Unknown option `--staging` for `feature schedule`"),
    ],
)
async def test_bad_schedule_commands_are_refused_and_change_nothing(
    chatops: MakeChatops, line: str, message: str
) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature {line}", channel=D)
    assert not answer.ok and message in answer.text, answer.text
    assert await bot.keyspace() == before


async def test_a_scheduled_change_runs_once_at_its_time_as_its_author(chatops: MakeChatops) -> None:
    bot = await chatops()
    answer = await bot.run(f"{SET} {FLAG} true --staging --in 1s", channel=D)
    assert answer.ok and answer.reply.public, answer.text
    assert "S1: `/chatops run feature set" in answer.text and "as @alice, with the channel rules" in answer.text
    assert [a.label for a in answer.reply.actions] == ["Cancel S1"]
    assert await _state(bot, "staging") == {}  # not yet
    listed = await bot.run("/chatops run feature schedule list", channel=D)
    assert "S1 · " in listed.text and "· by @alice" in listed.text
    drivers, posts = _drivers(bot)
    await bot.tick(drivers, 2.0)
    assert await _state(bot, "staging") == {"boolean": "true"}
    history = await bot.app.stores["staging"].history(FLAG)
    assert len(history) == 1 and history[0].command.endswith("--in 1s (schedule S1)") and history[0].who == "alice"
    (post,) = _scheduled(posts)
    assert post.channel == "C0DEV"  # where it was scheduled
    text = to_text(post)
    assert text.startswith("Scheduled change S1 by @alice: `/chatops run feature set")
    assert "gstg: `off` → `on`\n" in text and "[Undo on gstg: on → off]" in text
    assert "No scheduled or time-boxed changes." in (await bot.run("/chatops run feature schedule list")).text


async def test_a_schedule_does_not_run_over_a_newer_change(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --staging --in 1s", channel=D)).ok
    assert (await bot.run(f"{SET} {FLAG} 10 --actors --staging", user="bob", channel=D)).ok
    drivers, posts = _drivers(bot, 1)
    await bot.tick(drivers, 2.0)
    assert await _state(bot, "staging") == {"percentage_of_actors": "10"}  # bob's change stands
    text = to_text(_scheduled(posts)[0])
    assert "Did not run, so that it does not undo a newer change:" in text
    assert f"{FLAG} changed on gstg since it was scheduled (version 0 then, 1 now): " in text and " by @bob at " in text


async def test_a_time_boxed_change_is_restored_when_it_expires(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} 25 --actors --staging --dev", channel=D)).ok
    answer = await bot.run(f"{SET} {FLAG} true --staging --dev --for 1s", channel=D)
    assert answer.ok and await _state(bot, "staging") == {"boolean": "true"}
    assert "! Time-boxed: the previous state comes back at " in answer.text and "(in 1 s), as S1" in answer.text
    assert [a.label for a in answer.reply.actions] == [
        "Undo on dev: on → 25% of actors",
        "Undo on gstg: on → 25% of actors",
        "Cancel S1",
    ]
    drivers, posts = _drivers(bot)
    await bot.tick(drivers, 2.0)
    for option in ("dev", "staging"):
        assert await _state(bot, option) == {"percentage_of_actors": "25"}, option
        (latest, *_) = await bot.app.stores[option].history(FLAG)
        assert latest.command.startswith("Roll back button on change ") and latest.command.endswith(" (schedule S1)")
    (post,) = _scheduled(posts)
    assert to_text(post).startswith(f"Time box S1 of `{FLAG}` by @alice expired after 1 s")


async def test_a_cancelled_schedule_never_runs(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --production --in 1s")).ok
    refused = await bot.run("/chatops run feature schedule cancel S1", user="mallory", groups=(), channel=D)
    assert (
        not refused.ok
        and "Only its author (alice), or someone who may change gprd here, may cancel S1." in refused.text
    )
    assert "Reason: gprd may only be changed in #production, and S1 was scheduled by alice." in refused.text
    cancelled = await bot.run(":schedule_cancel S1", user="alice", channel=D)  # the Cancel button
    assert cancelled.ok and "Cancelled S1: `/chatops run feature set" in cancelled.text
    drivers, posts = _drivers(bot)
    await bot.tick(drivers, 1.5)
    assert await _state(bot, "production") == {} and posts.posted == []


async def test_only_the_lease_holder_takes_schedules(chatops: MakeChatops) -> None:
    bot = await chatops()
    store = bot.app.timers
    assert store is not None
    first, second = (Lease(store.client, store.lease_key, 0.2) for _ in range(2))
    old = await first.acquire()
    assert old is not None and await second.acquire() is None  # one holder at a time
    await asyncio.sleep(0.3)  # the first stalls past its lease
    new = await second.acquire()
    assert new is not None and new > old
    with pytest.raises(Fenced):
        await store.take_due(old, 60)  # a replaced driver cannot take anything
    assert await store.take_due(new, 60) == []


async def test_a_schedule_taken_again_after_its_driver_died_is_not_run_twice(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --staging --in 1s", channel=D)).ok
    bot.clock.advance(1.1)
    store = bot.app.ports.get(SCHEDULE_STORE)
    assert isinstance(store, ScheduleStore)
    (schedule,) = [s for s in await store.pending()]
    posts = ShellBackend("driver", frozenset())
    await fire(schedule, bot.app, posts)  # a driver ran it, then died before marking it done
    drivers, again = _drivers(bot, 1)
    await bot.tick(drivers, 1.0)
    assert len(await bot.app.stores["staging"].history(FLAG)) == 1
    assert "It had already run; not run again." in to_text(_scheduled(again)[0])
