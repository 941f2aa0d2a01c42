"""Every change is told: whatever writes a flag — a command, a Roll back click, a rollout step or
abort, a kill, a schedule, a time box running out, an approval, a recovery after a crash — the
change is posted to the log channel (and to the team and QA channels by the same rules as a typed
change), once, with its Roll back buttons (for the environments that may be changed from there:
a production change's button is in the production channel, where it may be pressed)."""

from __future__ import annotations

from flags import SetBoolean
from handlers.core.reply import CrossPost
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Chatops, MakeChatops
from tests.handlers.test_approvals import ACCESS, BOB, _request
from tests.handlers.test_change_journal import _dead_writer, _recover

LOG, TEAM, QA = "#feature-flag-log", "#g_database_frameworks", "#e2e-run-staging"
D = "#development"
SET = "/chatops run feature set"
ROLLOUT = "/chatops run feature rollout"


async def _driven(bot: Chatops, seconds: float) -> list[CrossPost]:
    """What one driver ticking for ``seconds`` posted."""
    chat = ShellBackend("alice", frozenset({"sre"}), channels=dict(bot.channels))
    await bot.tick(bot.drivers(chat), seconds)
    return list(chat.posted)


def _to(posts: list[CrossPost], channel: str) -> list[str]:
    """Each post to ``channel``, as the shell prints it (its buttons included)."""
    return [to_text(p) for p in posts if p.channel == channel]


def _roll_back_buttons(posts: list[CrossPost], channel: str) -> list[str]:
    """The environments (options) the Roll back buttons of the posts to ``channel`` restore."""
    return [
        a.value.split("|")[0] for p in posts if p.channel == channel for a in p.actions if a.action_id == "rollback"
    ]


async def test_a_rollout_step_and_its_abort_are_told(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1h --staging", channel=D)).ok
    stepped = await _driven(bot, 0.5)
    (logged,) = _to(stepped, LOG)
    assert "(rollout R1 step 1/2)" in logged and "on gstg by @alice" in logged
    assert _roll_back_buttons(stepped, LOG) == ["staging"]
    assert len(_to(stepped, QA)) == 1
    aborted = await bot.run(f"{ROLLOUT} abort {FLAG}", user="bob", channel=D)
    assert aborted.ok and to_text(aborted.reply) == "Aborted R1."
    (logged,) = _to(aborted.posts, LOG)  # the restore: the log's last word on gstg is off again
    assert logged.startswith(f"Restored by rollout abort: `{FLAG}` on gstg by @bob")
    assert "rollout R1 aborted: by bob" in logged and "Reason:" not in logged  # who: in the headline
    assert _roll_back_buttons(aborted.posts, LOG) == ["staging"]
    assert await bot.gates("staging") == {}


async def test_a_rollout_aborted_by_an_alert_is_told(chatops: MakeChatops) -> None:
    bot = await chatops(safety={"rollout_min_every_seconds": 1, "rollout_guard_poll_seconds": 1})
    consistency = "--ignore-feature-flag-consistency-check"
    assert (await bot.run(f"{ROLLOUT} {FLAG} --steps 10,50 --every 1h --production {consistency}")).ok
    await _driven(bot, 0.5)
    assert await bot.gates("production") == {"percentage_of_actors": "10"}
    bot.fire("HighErrorRate", "errors", severity="s1")
    posts = await _driven(bot, 1.5)
    assert await bot.gates("production") == {}
    (logged,) = _to(posts, LOG)
    assert logged.startswith(f"Restored by rollout abort: `{FLAG}` on gprd by @alice")
    assert "Reason: alert HighErrorRate {" in logged and "rollout R1 aborted: alert HighErrorRate" in logged
    (team,) = _to(posts, TEAM)  # production changed: the flag's team hears it too
    assert "rollout R1 aborted: alert HighErrorRate" in team
    assert _roll_back_buttons(posts, LOG) == _roll_back_buttons(posts, TEAM) == []  # gprd: only in #production


async def test_a_kill_is_told_with_its_roll_back_buttons(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --dev --staging", channel=D)).ok
    killed = await bot.run(f"/chatops run feature kill {FLAG} --dev --staging --reason errors", channel=D)
    assert killed.ok
    (logged,) = _to(killed.posts, LOG)
    assert f"feature kill {FLAG} --dev --staging --reason errors" in logged and "on dev, gstg by @alice" in logged
    assert _roll_back_buttons(killed.posts, LOG) == ["dev", "staging"]


async def test_a_roll_back_click_is_told(chatops: MakeChatops) -> None:
    bot = await chatops()
    changed = await bot.run(f"{SET} {FLAG} true --staging", channel=D)
    (button,) = changed.reply.actions
    rolled_back = await bot.run(f":rollback {button.value}", user="bob", channel=D)
    assert rolled_back.ok
    (logged,) = _to(rolled_back.posts, LOG)
    assert "Roll back button on change" in logged and "on gstg by @bob" in logged
    assert _roll_back_buttons(rolled_back.posts, LOG) == ["staging"]


async def test_a_scheduled_change_and_a_time_box_running_out_are_told(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} 25 --actors --staging --in 1s", channel=D)).ok
    scheduled = await _driven(bot, 1.5)
    (logged,) = _to(scheduled, LOG)
    assert "(schedule S1)" in logged and "on gstg by @alice" in logged
    assert _roll_back_buttons(scheduled, LOG) == ["staging"]
    boxed = await bot.run(f"{SET} {FLAG} true --staging --for 1s", channel=D)
    assert boxed.ok and len(_to(boxed.posts, LOG)) == 1
    expired = await _driven(bot, 1.5)
    assert await bot.gates("staging") == {"percentage_of_actors": "25"}
    (logged,) = _to(expired, LOG)
    assert "Roll back button on change" in logged and "(schedule S2)" in logged and "on gstg by @alice" in logged
    assert _roll_back_buttons(expired, LOG) == ["staging"]


async def test_an_approved_change_is_told_once(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    request = await _request(bot)
    approved = await bot.run(f":approve {request}", **BOB)  # type: ignore[arg-type]
    assert approved.ok
    (logged,) = _to(approved.posts, LOG)  # not twice: the approval's run posted it, its click adds nothing
    assert f"(approved by bob, request {request})" in logged and "on gprd by @alice" in logged
    assert len(_to(approved.posts, TEAM)) == 1
    assert _roll_back_buttons(approved.posts, LOG) == []  # gprd is rolled back from #production
    assert [a.value.split("|")[0] for a in approved.reply.actions] == ["production"]  # the answer, there


async def test_a_recovery_after_a_crash_is_told_like_any_change(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --dev --staging --production --ignore-production-check")).ok
    await _dead_writer(bot, SetBoolean(False), ["dev", "production"], written=["dev"])  # died before gprd
    settled, told = await _recover(bot)
    assert settled == 1 and await bot.gates("production") == {}  # finished: it only reduces exposure
    posts = list(told.posted)
    (person,) = [to_text(p) for p in posts if p.channel == "U0ALICE"]
    assert "It only reduces exposure, so it was finished on gprd" in person
    (logged,) = _to(posts, LOG)  # the whole change, which nobody was told of: dev by the writer, gprd now
    assert logged.startswith(f"Finished after the bot stopped midway: `{FLAG}` on dev, gprd by @alice")
    assert "dev, gprd: `on` → `off`" in logged and "`finished after the bot stopped midway: " in logged
    assert len(_to(posts, TEAM)) == 1  # production changed
    assert _roll_back_buttons(posts, LOG) == ["dev"]  # and gprd's from #production


async def test_a_recovery_that_wrote_nothing_still_tells_the_log_what_it_found(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _dead_writer(bot, SetBoolean(True), ["dev", "staging"], written=[])  # died before any write
    settled, told = await _recover(bot)
    assert settled == 1 and await bot.gates("staging") == {}
    (logged,) = _to(list(told.posted), LOG)
    assert (
        logged.startswith(f"Interrupted change of `{FLAG}` by @alice: undone") and "Not written: dev, gstg." in logged
    )
    assert _roll_back_buttons(list(told.posted), LOG) == []  # nothing was written: nothing to roll back
