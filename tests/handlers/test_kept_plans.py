"""Work kept for later runs a typed plan, not command text: approval requests and schedules keep
their plan as versioned JSON, and the bot's own work invokes commands as typed plans through the
same policy as typed text. Records written before plans were kept (approvals, schedules and a
rollout, captured from that version in ``legacy_records.json``) still run: their text is planned
again when they are read (a rollout's record keeps its fields, as it did)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flags import AuditInfo, SetBoolean
from handlers.changes.set_plan import SetPlan
from handlers.core import pipeline
from handlers.core.caller import Caller
from handlers.core.stored import PLAN_SCHEMA
from handlers.core.text_chat import ShellBackend
from handlers.rollouts.store import ROLLOUT_STORE
from handlers.schedules.store import SCHEDULE_STORE
from tests.handlers.conftest import FLAG, Chatops, MakeChatops
from tests.handlers.test_approvals import ACCESS, BOB, RAISE

LEGACY: dict[str, dict[str, Any]] = json.loads((Path(__file__).parent / "legacy_records.json").read_text())


async def _put_legacy_approval(bot: Chatops, request_id: str) -> None:
    """The request as that version wrote it (fresh times), its requester alice known to be in @sre."""
    assert (await bot.run("/chatops help")).ok
    record = dict(LEGACY["approvals"][request_id], created_at=time.time(), expires_at=time.time() + 1800, card="")
    await bot.redis.hset(f"{bot.prefix}chatops:approvals", request_id, json.dumps(record))


async def test_an_approval_request_from_before_plans_were_kept_still_applies(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    await _put_legacy_approval(bot, "A1")
    approved = await bot.run(":approve A1", **BOB)
    assert approved.ok, approved.text
    assert await bot.gates("production") == {"boolean": "true"}
    (entry,) = await bot.app.stores["production"].history(FLAG, limit=1)
    assert (
        entry.who == "alice"
        and entry.command == f"/chatops {LEGACY['approvals']['A1']['text']} (approved by bob, request A1)"
    )


async def test_an_approval_request_from_before_states_were_kept_compares_its_version(chatops: MakeChatops) -> None:
    """A record with only the versions it was reviewed at: a write since (even one that leaves the
    gates as they were) stops it, as it did when it was made."""
    bot = await chatops(access=ACCESS)
    await _put_legacy_approval(bot, "A1")
    await bot.app.stores["production"].apply(FLAG, SetBoolean(False), AuditInfo(who="carol"))  # version 1, still off
    before = await bot.keyspace()
    refused = await bot.run(":approve A1", **BOB)
    assert not refused.ok and f"{FLAG} changed since review (gprd: off now): ask again." in refused.text
    assert await bot.keyspace() == before


async def test_a_rollout_and_a_scheduled_change_approved_from_before_are_made(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    await _put_legacy_approval(bot, "A3")
    assert (await bot.run(":approve A3", **BOB)).ok
    (rollout,) = await bot.app.ports.need(ROLLOUT_STORE).all()
    assert (rollout.flag, rollout.steps, rollout.every_s, rollout.approved_by) == (
        FLAG,
        (10.0, 50.0, 100.0),
        3600.0,
        "bob",
    )
    await _put_legacy_approval(bot, "A2")  # `--in 30m`: counted from the approval
    assert (await bot.run(":approve A2", **BOB)).ok
    (schedule,) = await bot.app.ports.need(SCHEDULE_STORE).pending()
    assert abs(schedule.due - (time.time() + 1800)) < 60 and schedule.approved_by == "bob"
    assert schedule.plan is not None and schedule.plan.subcommand == "set"


async def test_a_schedule_from_before_plans_were_kept_runs_at_its_time(chatops: MakeChatops) -> None:
    bot = await chatops()
    record = dict(LEGACY["schedules"]["S1"], due=time.time() - 1)
    await bot.redis.hset(f"{bot.prefix}chatops:schedules", "S1", json.dumps(record))
    await bot.redis.zadd(f"{bot.prefix}chatops:timers", {"S1": record["due"]})
    chat = ShellBackend("driver", frozenset())
    await bot.tick(bot.drivers(chat), 1.0)
    assert await bot.gates("staging") == {"percentage_of_actors": "25"}
    assert await bot.app.ports.need(SCHEDULE_STORE).pending() == []


async def test_an_approval_runs_its_kept_plan_not_its_text(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    answer = await bot.run(RAISE)
    (card,) = answer.posted_to("#production")
    request = card.actions[0].value
    key = f"{bot.prefix}chatops:approvals"
    record = json.loads(await bot.redis.hget(key, request))
    assert record["plan"]["schema"] == PLAN_SCHEMA and (record["plan"]["command"], record["plan"]["subcommand"]) == (
        "feature",
        "set",
    )
    assert record["plan"]["plan"]["change"] == {"kind": "boolean", "value": True}
    record["text"] = "run feature set some_other_flag false --dev"  # what the grammar would read differently
    await bot.redis.hset(key, request, json.dumps(record))
    assert (await bot.run(f":approve {request}", **BOB)).ok
    assert await bot.gates("production") == {"boolean": "true"}
    assert not (await bot.flag("dev", "some_other_flag")).exists


async def test_a_kept_plan_this_bot_cannot_read_changes_nothing(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    answer = await bot.run(RAISE)
    request = answer.posted_to("#production")[0].actions[0].value
    key = f"{bot.prefix}chatops:approvals"
    record = json.loads(await bot.redis.hget(key, request))
    record["plan"]["plan"]["targets"] = ["nowhere"]
    await bot.redis.hset(key, request, json.dumps(record))
    approved = await bot.run(f":approve {request}", **BOB)
    assert not approved.ok and "--nowhere is no longer a configured environment" in approved.text
    assert not (await bot.flag("production")).exists


async def test_a_typed_invocation_meets_the_same_policy_as_typed_text(chatops: MakeChatops) -> None:
    bot = await chatops()
    production = bot.app.config.environment("production")
    assert production is not None
    plan = SetPlan(FLAG, (production,), SetBoolean(True), f"run feature set {FLAG} true --production")
    caller = Caller("alice", "alice", bot.channels["#random"], "random")
    chat = ShellBackend("alice", frozenset({"sre"}), channels=dict(bot.channels))
    before = await bot.keyspace()
    reply = await pipeline.invoke(pipeline.Invoke("feature", "set", plan, caller), bot.app, chat)
    assert not reply.ok and "Commands that change gprd may only run in #production" in reply.summary
    assert [p.channel for p in reply.cross_posts] == ["#chatops-security"]
    assert await bot.keyspace() == before


async def test_a_rollout_from_before_takes_its_next_step(chatops: MakeChatops) -> None:
    bot = await chatops()
    record = dict(LEGACY["rollouts"]["R1"], due=time.time() - 1, message="")
    await bot.redis.hset(f"{bot.prefix}chatops:schedules", "R1", json.dumps(record))
    await bot.redis.zadd(f"{bot.prefix}chatops:timers", {"R1": record["due"]})
    chat = ShellBackend("alice", frozenset({"sre"}), channels=dict(bot.channels))
    await bot.tick(bot.drivers(chat), 1.0)
    assert await bot.gates("staging") == {"percentage_of_actors": "10"}
    (entry,) = await bot.app.stores["staging"].history(FLAG, limit=1)
    assert entry.command == f"/chatops run feature set {FLAG} 10 --actors --staging (rollout R1 step 1/2)"
    (rollout,) = await bot.app.ports.need(ROLLOUT_STORE).all()
    assert (rollout.done, rollout.status) == (1, "running")
