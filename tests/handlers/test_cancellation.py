"""A change that is cancelled (a shutdown cutting it short) stops there and leaves its journal
entry, even when the cancellation arrives while it stops a helper task, or is lost on the way.

Python 3.11's ``asyncio.wait_for``, with which redis-py sends every command of a client with a
socket timeout, returns normally when a cancellation arrives just as the send completes; under
load that happened in the middle of a change, which then went on writing (and waited out the
write deadline on a paused Redis) instead of stopping. ``_lose_a_cancellation`` does exactly that.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flags import ChangeResult, SetBoolean, Write
from handlers.changes import ChangeRequest, engine
from handlers.core.caller import Caller
from handlers.core.context import Context
from handlers.core.journal import ChangeJournal, JournalEntry
from handlers.core.notices import notice_if_slow
from handlers.core.text_chat import ShellBackend
from tests.configs import example_environments
from tests.handlers.conftest import FLAG, MakeChatops
from tests.redis_process import RedisProcess

ALICE = Caller("U0ALICE", "alice", "C0DEV", "development")


async def _lose_a_cancellation() -> None:
    """The current task is cancelled just as what ``asyncio.wait_for`` waits for completes: on
    Python 3.11 the cancellation is lost (it only stays counted in ``Task.cancelling()``)."""
    task = asyncio.current_task()
    assert task is not None
    sent = asyncio.ensure_future(asyncio.sleep(0))
    sent.add_done_callback(lambda _: task.cancel())  # a shutdown, just as the send completes
    await asyncio.wait_for(sent, 10)


async def _cancelled_as_it_leaves(block: Any) -> asyncio.Task[Any]:
    """Run ``block(left)``, which sets ``left`` as the last thing in its ``async with``, and cancel
    it right then: while it stops the helper task of the context manager it leaves."""
    left = asyncio.Event()
    task = asyncio.create_task(block(left))
    await left.wait()
    task.cancel()
    await asyncio.wait({task})
    return task


async def test_a_cancellation_while_the_still_trying_notice_is_stopped_is_not_lost() -> None:
    async def write(left: asyncio.Event) -> str:
        async with notice_if_slow(None, 3600, "Still trying…"):
            await asyncio.sleep(0)  # the notice waits its time
            left.set()
        return "went on"

    task = await _cancelled_as_it_leaves(write)
    assert task.cancelled()


async def test_a_change_cancelled_as_it_stops_renewing_its_entry_leaves_the_entry(chatops: MakeChatops) -> None:
    bot = await chatops()
    journal = ChangeJournal(bot.redis, bot.prefix, lease_s=30)
    holding = await journal.open(JournalEntry.new(FLAG, "/chatops run feature set", ALICE, (), reduces_only=True))

    async def change(left: asyncio.Event) -> str:
        async with holding.renewed():
            await asyncio.sleep(0)  # the renewal waits its time
            left.set()
        return "went on"

    task = await _cancelled_as_it_leaves(change)
    assert task.cancelled()
    assert await bot.redis.hlen(journal.key) == 1  # left for recovery, not closed


async def test_the_renewal_of_an_entry_stops_when_its_cancellation_was_lost(
    chatops: MakeChatops, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await chatops()
    journal = ChangeJournal(bot.redis, bot.prefix, lease_s=0.03)
    holding = await journal.open(JournalEntry.new(FLAG, "/chatops run feature set", ALICE, (), reduces_only=True))
    renewals = []
    call = journal._call

    async def renew_and_lose_a_cancellation(*args: str | int) -> Any:
        renewals.append(args[0])
        held = await call(*args)
        await _lose_a_cancellation()
        return held

    monkeypatch.setattr(journal, "_call", renew_and_lose_a_cancellation)
    renewal = asyncio.create_task(holding._keep_renewed())
    try:
        await asyncio.wait({renewal}, timeout=5)
        assert renewal.done() and renewals == ["renew"]  # it stopped instead of renewing on and on
    finally:
        renewal.cancel()


async def test_a_change_whose_cancellation_was_lost_stops_before_the_next_write(
    chatops: MakeChatops, tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisProcess(tmp_path).start()
    try:
        bot = await chatops(environments=example_environments(prefix, ops=server.url))
        app = bot.app
        dev = app.stores["dev"]  # dev and gstg are written together, ops after them
        apply_group = dev.apply_group

        async def write_and_lose_a_cancellation(writes: list[Write]) -> list[ChangeResult]:
            results = await apply_group(writes)
            await _lose_a_cancellation()
            return results

        monkeypatch.setattr(dev, "apply_group", write_and_lose_a_cancellation)
        targets = tuple(e for e in app.config.environments if e.option in ("dev", "staging", "ops"))
        command = f"/chatops run feature set {FLAG} true --dev --staging --ops"
        request = ChangeRequest(FLAG, targets, SetBoolean(True), ALICE, command)
        change = asyncio.create_task(
            engine.apply_change(request, Context(app, ALICE, ShellBackend("alice", frozenset())))
        )
        await asyncio.wait({change}, timeout=10)
        assert change.cancelled()
        assert (await app.stores["staging"].get(FLAG)).exists  # written before it was cancelled
        assert not (await app.stores["ops"].get(FLAG)).exists  # not after
        assert await bot.redis.hlen(f"{bot.prefix}chatops:journal") == 1  # left for recovery
    finally:
        server.stop()
