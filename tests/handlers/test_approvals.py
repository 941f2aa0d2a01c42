"""Two-person approval, through the card's buttons as Slack sends them (and as the shell presses
them): every wrong click is refused with a clear answer and changes nothing; a valid approval
applies exactly once, as its requester, with both names recorded."""

from __future__ import annotations

import time
from dataclasses import replace

from flags import AuditInfo, Percentage, SetPercentageOfActors
from handlers.approvals.store import APPROVAL_STORE, KEPT_S
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Chatops, MakeChatops
from tests.handlers.test_rollouts import _drive

SET = "/chatops run feature set"
ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["approvers"]}},
    {"environments": ["*"], "anyone": True},
]
RAISE = f"{SET} {FLAG} true --production --ignore-feature-flag-consistency-check"
BOB = {"user": "bob", "groups": ("sre", "approvers")}


async def _flag_keys(bot: Chatops) -> dict[str, object]:
    """The keyspace without the approval records (what a refused click must leave as it was)."""
    return {k: v for k, v in (await bot.keyspace()).items() if "chatops:approvals" not in k}


async def _request(bot: Chatops) -> str:
    answer = await bot.run(RAISE)
    assert answer.ok and "Approval requested from @approvers (expires in " in answer.text, answer.text
    (card,) = answer.posted_to("#production")
    assert [a.label for a in card.actions] == ["Approve & apply", "Decline", "Cancel (requester)"]
    return card.actions[0].value


async def test_a_change_that_needs_approval_is_not_written_until_approved_once(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    before = await bot.keyspace()
    request = await _request(bot)
    assert {k: v for k, v in (await bot.keyspace()).items() if "chatops:approvals" not in k} == before
    approved = await bot.run(f":approve {request}", **BOB)
    assert approved.ok and approved.reply.public, approved.text
    assert await bot.gates("production") == {"boolean": "true"}
    (entry,) = await bot.app.stores["production"].history(FLAG, limit=1)
    assert entry.who == "alice" and entry.command.endswith(f"(approved by bob, request {request})")
    assert f"(approved by bob, request {request})" in approved.text  # in the reply and every cross-post
    after = await _flag_keys(bot)
    again = await bot.run(f":approve {request}", **BOB)  # a double click
    assert not again.ok and f"Approval {request} was already approved by bob; it cannot apply." in again.text
    assert await _flag_keys(bot) == after
    assert (await bot.run(f"{SET} {FLAG} false --production")).ok  # reducing exposure needs no approval


async def test_an_approved_change_is_posted_once(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    request = await _request(bot)
    approved = await bot.run(f":approve {request}", **BOB)  # the approval runs alice's command inside the click
    assert approved.ok, approved.text
    assert len(approved.posted_to("#feature-flag-log")) == 1
    assert len(approved.posted_to("#g_database_frameworks")) == 1


async def test_wrong_approvals_are_refused_and_change_nothing(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    request = await _request(bot)
    before = await bot.keyspace()
    cases = [  # who clicks, what, what they are told, and whether it is reported as an access refusal
        ({}, f":approve {request}", "Nobody approves their own request: ask one of @approvers.", True),
        ({}, f":decline {request}", "Nobody declines their own request: cancel it instead.", True),
        (
            {"user": "dave", "groups": ()},
            f":approve {request}",
            f"Only members of @approvers may approve or decline {request}. Nothing was changed. Ask one of them.",
            True,
        ),
        (
            {"user": "carol", "groups": ("approvers",)},
            f":approve {request}",
            "This action is not allowed: changing gprd needs @sre",
            True,
        ),
        (
            {**BOB, "channel": "#random"},
            f":approve {request}",
            "Commands that change gprd may only run in #production",
            True,
        ),
        (BOB, ":approve A999", "There is no approval request A999.", False),
        (BOB, ":approve X1; drop", "This button does not name an approval request.", False),
        (BOB, f":approval_cancel {request}", f"Only its requester (alice) may cancel {request}; decline it", True),
    ]
    for who, click, message, reported in cases:
        answer = await bot.run(click, **who)  # type: ignore[arg-type]
        assert not answer.ok and message in answer.text, (click, who, answer.text)
        assert answer.text.count("Nothing was changed") == 1, answer.text
        assert len(answer.posted_to("#chatops-security")) == int(reported), (click, who)
        assert await bot.keyspace() == before, (click, who)


async def test_a_flag_changed_since_review_cannot_be_approved(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    request = await _request(bot)
    audit = AuditInfo(who="flipper-console", command="Feature.enable_percentage_of_actors(…, 5)")
    await bot.app.stores["production"].apply(FLAG, SetPercentageOfActors(Percentage("5")), audit)  # another writer
    before = await bot.keyspace()
    answer = await bot.run(f":approve {request}", **BOB)
    assert (
        not answer.ok and f"{FLAG} changed since review (version 0 when reviewed, 1 now on production)" in answer.text
    )
    assert await bot.keyspace() == before


async def test_declined_cancelled_and_expired_requests_never_apply(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS, safety={"approval_expiry_seconds": 1})
    declined = await _request(bot)
    assert (await bot.run(f":decline {declined}", **BOB)).ok
    refused = await bot.run(f":approve {declined}", **BOB)
    assert not refused.ok and f"Approval {declined} was already declined by bob; it cannot apply." in refused.text
    cancelled = await _request(bot)
    assert (await bot.run(f":approval_cancel {cancelled}")).ok  # its requester cancels it
    assert "already cancelled by alice" in (await bot.run(f":approve {cancelled}", **BOB)).text
    expiring = await _request(bot)
    bot.clock.advance(1.1)
    before = await bot.keyspace()
    late = await bot.run(f":approve {expiring}", **BOB)
    assert not late.ok and f"Approval {expiring} expired at " in late.text
    assert await bot.keyspace() == before
    assert await bot.gates("production") == {}


async def test_the_card_shows_the_checks_as_they_stand(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS, safety=True)
    answer = await bot.run(RAISE)
    (card,) = answer.posted_to("#production")
    text = to_text(card)
    assert "gprd: off → on" in text, text
    assert "Checks as they stand: consistency check: ignored" in text, text
    assert "production check: passed" in text, text
    assert "They all run again when it is applied." in text


async def test_approving_a_rollout_once_approves_each_of_its_steps(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS, safety={"rollout_min_every_seconds": 1})
    consistency = "--ignore-feature-flag-consistency-check"
    start = f"/chatops run feature rollout {FLAG} --steps 10,100 --every 1s --production {consistency}"
    before = await bot.keyspace()
    asked = await bot.run(start)
    assert asked.ok and "Approval requested from @approvers" in asked.text, asked.text
    (card,) = asked.posted_to("#production")
    assert "gprd: off → 10% → 100% of actors, every 1 s" in to_text(card), to_text(card)
    assert "Approving this rollout approves each of its 2 steps" in to_text(card)
    assert await _flag_keys(bot) == before  # nothing started
    assert (await bot.run("/chatops run feature rollout list")).text.count("R1") == 0
    approved = await bot.run(f":approve {card.actions[0].value}", **BOB)
    assert approved.ok and "Started R1" in approved.text, approved.text
    await _drive(bot, 2.5)
    assert await bot.gates("production") == {"boolean": "true"}
    entries = await bot.app.stores["production"].history(FLAG, limit=5)
    assert [e.command.rpartition(" (")[2] for e in entries] == [
        "rollout R1 step 2/2, approved by bob)",
        "rollout R1 step 1/2, approved by bob)",
    ]
    assert {e.who for e in entries} == {"alice"}
    assert await bot.redis.hlen(f"{bot.prefix}chatops:approvals") == 1  # asked once, not once per step


async def test_approving_a_schedule_approves_the_change_it_makes_then(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    asked = await bot.run(f"{RAISE} --in 1s")
    (card,) = asked.posted_to("#production")
    assert "approving it approves the change it makes then" in to_text(card), to_text(card)
    assert await bot.redis.hlen(f"{bot.prefix}chatops:schedules") == 0  # nothing scheduled yet
    approved = await bot.run(f":approve {card.actions[0].value}", **BOB)
    assert approved.ok and "S1: `/chatops run feature set" in approved.text, approved.text
    assert "Approved by bob: it runs then without asking again." in approved.text
    bot.clock.advance(1.1)
    await _drive(bot, 0.5)
    assert await bot.gates("production") == {"boolean": "true"}
    (entry,) = await bot.app.stores["production"].history(FLAG, limit=5)
    assert entry.who == "alice" and entry.command.endswith("(schedule S1, approved by bob)"), entry.command


async def test_a_rollout_made_before_approval_was_needed_pauses_instead_of_asking(chatops: MakeChatops) -> None:
    before = await chatops(access=[{"environments": ["*"], "anyone": True}])
    consistency = "--ignore-feature-flag-consistency-check"
    assert (
        await before.run(f"/chatops run feature rollout {FLAG} --steps 10,50 --every 1h --production {consistency}")
    ).ok
    bot = await chatops(access=ACCESS)  # the bot restarted with approval required on production
    posts = await _drive(bot, 0.5)
    assert await bot.gates("production") == {}
    assert "step 1/2 was not written: This change needs the approval of @approvers" in to_text(posts[-1])


async def test_a_roll_back_that_raises_exposure_asks_for_a_command_instead(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    assert (await bot.run(f"{SET} {FLAG} true --staging")).ok  # so that the consistency check passes
    request = await _request(bot)
    assert (await bot.run(f":approve {request}", **BOB)).ok  # true on gprd, approved
    lowered = await bot.run(f"{SET} {FLAG} false --production")  # lowering: no approval
    assert lowered.ok
    (button,) = [a for a in lowered.reply.actions if a.label == "Undo on gprd: off → on"]
    before = await bot.keyspace()
    raised = await bot.run(f":rollback {button.value}")  # back to true: a raise
    assert not raised.ok and "This roll back raises exposure, so it needs the approval of @approvers" in raised.text
    assert await bot.keyspace() == before


async def test_an_approved_rollout_keeps_the_pace_that_was_approved(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    consistency = "--ignore-feature-flag-consistency-check"
    rollout = "/chatops run feature rollout"
    asked = await bot.run(f"{rollout} {FLAG} --steps 10,50,100 --every 1h --production {consistency}")
    (card,) = asked.posted_to("#production")
    assert (await bot.run(f":approve {card.actions[0].value}", **BOB)).ok
    await _drive(bot, 0.5)
    assert await bot.gates("production") == {"percentage_of_actors": "10"}
    before = await bot.keyspace()
    faster = await bot.run(f"{rollout} next {FLAG}")
    assert not faster.ok and "`next` cannot go faster than what was approved" in faster.text, faster.text
    assert await bot.keyspace() == before
    assert (await bot.run(f"{rollout} pause {FLAG}")).ok
    assert (await bot.run(f"{rollout} resume {FLAG}")).ok  # not a way round it: the next step stays an hour away
    await _drive(bot, 0.5)
    assert await bot.gates("production") == {"percentage_of_actors": "10"}
    status = await bot.run(f"{rollout} status {FLAG}")
    assert "Step 2/3: 50% of actors — due " in status.text, status.text


async def test_requests_are_kept_a_week_after_they_expire(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    store = bot.app.ports.get(APPROVAL_STORE)
    assert store is not None
    old = await _request(bot)
    found = await store.get(old)
    assert found is not None
    await store.save(replace(found, expires_at=time.time() - KEPT_S - 60))  # as if asked eight days ago
    recent = await _request(bot)  # asking again forgets what can no longer be looked at
    assert await store.get(old) is None and await store.get(recent) is not None
    answer = await bot.run(f":approve {old}", **BOB)
    assert not answer.ok and f"There is no approval request {old}." in answer.text
