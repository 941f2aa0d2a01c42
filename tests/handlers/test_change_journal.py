"""The change journal and recovery: a change whose writer died midway is finished or undone by
whoever looks next, exactly once, and the person and the log channel are told.

A "dead writer" here opens its journal entry with a very short lease, writes some of its
environments exactly as the engine does (the entry's change ids and versions) and then stops:
what a process killed at that moment leaves in Redis. The kill -9 of a real server is in
tests/bot/test_crash_recovery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from flags import AuditInfo, Change, RestoreState, SetBoolean, SetPercentageOfActors, Write, apply_together
from flags.exposure import simulate
from flags.values import Percentage
from handlers.changes import ChangeRequest, engine
from handlers.changes.recovery import recover_interrupted
from handlers.changes.request import Target
from handlers.core.caller import Caller
from handlers.core.context import Context
from handlers.core.journal import ChangeJournal, JournalEntry
from handlers.core.reply import Reply
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.configs import example_environments
from tests.handlers.conftest import FLAG, Chatops, MakeChatops
from tests.handlers.test_change_engine import _MeanwhileRule
from tests.redis_process import RedisProcess

SET = "/chatops run feature set"
D = "#development"
ALICE = Caller("U0ALICE", "alice", "C0DEV", "development")
LOG = "#feature-flag-log"


async def _dead_writer(
    bot: Chatops, change: Change, options: list[str], written: list[str], *, lease_s: float = 0.05
) -> JournalEntry:
    """Leave what a writer killed after writing ``written`` (of ``options``) leaves behind; with a
    long ``lease_s``, what a writer still at work (or just stalled) looks like."""
    app = bot.app
    targets = []
    for option in options:
        environment = app.config.environment(option)
        assert environment is not None
        record = await app.stores[option].get(FLAG)
        after, after_exists = simulate(record.state, record.exists, change)
        targets.append(Target(environment, record, after, after_exists))
    command = f"{SET} {FLAG} {change.describe()}"
    request = ChangeRequest(FLAG, tuple(t.environment for t in targets), change, ALICE, command)
    entry = engine.journal_entry(request, targets)
    dying = ChangeJournal(bot.redis, bot.prefix, lease_s=lease_s)
    await dying.open(entry)
    for target in entry.targets:
        if target.option in written:
            store = app.stores[target.option]
            audit = AuditInfo(who="alice", who_id="U0ALICE", command=command)
            await apply_together([Write(store, FLAG, change, audit, target.expected_version, target.change_id)])
    if lease_s < 1:
        await asyncio.sleep(lease_s * 2)  # its lease runs out: nobody renews it
    return entry


async def _recover(bot: Chatops, journal: ChangeJournal | None = None) -> tuple[int, ShellBackend]:
    backend = ShellBackend("recovery", frozenset())
    journal = journal or bot.app.journal
    assert journal is not None
    return await recover_interrupted(bot.app, backend, journal), backend


def _texts(backend: ShellBackend) -> dict[str, str]:
    """What each channel was told (the person's user ID is their direct message)."""
    return {p.channel: to_text(Reply(True, "", p.sections)) for p in backend.posted}


async def _state(bot: Chatops, option: str) -> tuple[dict[str, Any], bool]:
    record = await bot.app.stores[option].get(FLAG)
    return record.state.to_hash(), record.exists


async def test_a_change_leaves_no_journal_entry_once_answered(chatops: MakeChatops) -> None:
    bot = await chatops()
    answer = await bot.run(f"{SET} {FLAG} true --dev --staging", channel=D)
    assert answer.ok
    assert await bot.redis.hlen(f"{bot.prefix}chatops:journal") == 0
    assert await bot.redis.get(f"{bot.prefix}chatops:journal:token") == "1"  # it was journalled


async def test_a_raising_change_cut_off_midway_is_undone_where_it_was_written(chatops: MakeChatops) -> None:
    bot = await chatops()
    entry = await _dead_writer(bot, SetBoolean(True), ["dev", "staging", "production"], written=["dev", "staging"])
    assert await _state(bot, "dev") == ({"boolean": "true"}, True)
    settled, told = await _recover(bot)
    assert settled == 1
    for option in ("dev", "staging", "production"):
        assert await _state(bot, option) == ({}, False), option
    texts = _texts(told)
    assert set(texts) == {"U0ALICE", LOG}  # the person (a direct message) and the log channel
    text = texts["U0ALICE"]
    assert f"The bot stopped (a crash or a restart) while writing `{entry.command}` (started " in text
    assert "It had been written to dev, gstg." in text
    assert "so it was undone there: " in text and "Run the command again if you still want it." in text
    assert "Not written: gprd." in text and "  dev: `off`" in text
    history = await bot.app.stores["staging"].history(FLAG)
    assert history[0].command.startswith("undone after the bot stopped midway: ")
    assert await bot.redis.hlen(f"{bot.prefix}chatops:journal") == 0
    again, backend = await _recover(bot)
    assert again == 0 and backend.posted == []  # settled once


async def test_a_change_that_only_reduces_exposure_is_finished(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --dev --staging --production --ignore-production-check")).ok
    await _dead_writer(bot, SetBoolean(False), ["dev", "staging", "production"], written=["dev"])
    settled, told = await _recover(bot)
    assert settled == 1
    for option in ("dev", "staging", "production"):
        assert await _state(bot, option) == ({}, True), option  # false everywhere, as asked
    text = _texts(told)["U0ALICE"]
    assert "It had been written to dev." in text
    assert f"It only reduces exposure, so it was finished on gstg, gprd: {FLAG} is now as you asked there." in text
    gprd = await bot.app.stores["production"].history(FLAG)
    assert gprd[0].command.startswith("finished after the bot stopped midway: ")


async def test_an_environment_changed_since_is_left_alone(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"{SET} {FLAG} true --dev --staging --production --ignore-production-check")).ok
    await _dead_writer(bot, SetPercentageOfActors(Percentage("10")), ["dev", "production"], written=["dev"])
    assert (await bot.run(f"{SET} {FLAG} false --production", user="bob")).ok  # bob, meanwhile
    settled, told = await _recover(bot)
    assert settled == 1
    assert await _state(bot, "production") == ({}, True)  # bob's change stands
    assert await _state(bot, "dev") == ({"boolean": "true", "percentage_of_actors": "10"}, True)  # as written
    text = _texts(told)["U0ALICE"]
    assert "Changed by someone else since, so left as it is: gprd" in text


async def test_a_change_written_everywhere_but_not_answered_is_reported(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _dead_writer(bot, SetBoolean(True), ["dev", "staging"], written=["dev", "staging"])
    settled, told = await _recover(bot)
    assert settled == 1 and await _state(bot, "staging") == ({"boolean": "true"}, True)  # nothing undone
    assert "It had been written to dev, gstg." in _texts(told)["U0ALICE"]


async def test_a_writer_still_holding_its_entry_is_left_alone(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _dead_writer(bot, SetBoolean(True), ["dev", "staging"], written=["dev"], lease_s=30)
    settled, told = await _recover(bot)
    assert settled == 0 and told.posted == []
    assert await _state(bot, "dev") == ({"boolean": "true"}, True)  # not undone under its writer's feet
    assert await bot.redis.hlen(f"{bot.prefix}chatops:journal") == 1


async def test_two_recoverers_settle_each_change_once(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _dead_writer(bot, SetBoolean(True), ["dev", "staging", "production"], written=["dev"])
    other = ChangeJournal(bot.redis, bot.prefix)
    (first, one), (second, two) = await asyncio.gather(_recover(bot), _recover(bot, other))
    assert first + second == 1
    assert len(one.posted) + len(two.posted) == 2  # one direct message, one log post
    history = await bot.app.stores["dev"].history(FLAG)
    assert len(history) == 2 and history[0].command.startswith("undone after")  # one write, one undo


async def test_a_recovery_that_dies_is_recovered_without_writing_twice(chatops: MakeChatops) -> None:
    bot = await chatops()
    entry = await _dead_writer(bot, SetBoolean(True), ["dev", "staging"], written=["dev", "staging"])
    # A first recoverer claims it, undoes dev, and dies before it can undo gstg or tell anyone.
    short = ChangeJournal(bot.redis, bot.prefix, lease_s=0.05)
    (claimed,) = await short.claim_expired()
    assert claimed.entry.id == entry.id
    dev = next(t for t in entry.targets if t.option == "dev")
    store = bot.app.stores["dev"]
    result = await store.last_change(FLAG, dev.change_id)
    assert result is not None
    undo = RestoreState(dev.before, dev.before_exists)
    await apply_together([Write(store, FLAG, undo, AuditInfo(who="alice"), result.version, dev.change_id + "-undo")])
    await asyncio.sleep(0.1)
    settled, told = await _recover(bot)
    assert settled == 1
    assert await _state(bot, "dev") == ({}, False) and await _state(bot, "staging") == ({}, False)
    assert len(await store.history(FLAG)) == 2  # the write and one undo
    assert "It had been written to dev, gstg." in _texts(told)["U0ALICE"]


async def test_a_change_is_not_started_when_the_journal_cannot_be_written(
    chatops: MakeChatops, redis_url: str, prefix: str
) -> None:
    # flags are reachable; the bot's own Redis is not
    environments = example_environments(
        prefix, **{o: redis_url for o in ("dev", "pre", "staging", "staging-ref", "ops", "production")}
    )
    bot = await chatops(environments=environments, redis_url="redis://127.0.0.1:1/0")
    for option in ("dev", "staging"):  # on, by another writer: the bot cannot write without its journal
        await bot.app.stores[option].apply(FLAG, SetBoolean(True), AuditInfo(who="flipper-console"))
    before = await bot.keyspace()
    answer = await bot.run(f"{SET} {FLAG} false --dev --staging", channel=D)  # lowers: no freeze check
    assert not answer.ok
    assert "Could not record the change in the bot's own Redis (" in answer.text
    assert "a change the bot could neither finish nor undo after a crash is not started." in answer.text
    assert "Nothing was changed in any environment." in answer.text
    assert await bot.keyspace() == before


@pytest.mark.parametrize("same", [False, True], ids=["other change", "same change"])
async def test_environments_on_one_redis_are_written_together_or_not_at_all(chatops: MakeChatops, same: bool) -> None:
    bot = await chatops()
    app = bot.app
    targets = tuple(e for e in app.config.environments if e.option in ("dev", "staging", "production"))
    request = ChangeRequest(FLAG, targets, SetBoolean(True), ALICE, f"{SET} {FLAG} true --dev --staging --production")
    context = Context(app, ALICE, ShellBackend("alice", frozenset()))
    reply = await engine.apply_change(request, context, rules=(_MeanwhileRule(SetBoolean(same)),))
    text = to_text(reply)
    if same:  # gstg is already so: dev and gprd are written together
        assert reply.ok and "gstg: already so" in text
        assert await _state(bot, "dev") == ({"boolean": "true"}, True)
        assert await _state(bot, "production") == ({"boolean": "true"}, True)
    else:
        assert not reply.ok
        assert (
            "Stopped at gstg: the flag changed there while the checks ran, so nothing was written on dev, gstg, "
            "gprd (they share one Redis and are written together)." in text
        )
        assert await _state(bot, "dev") == ({}, False) and await _state(bot, "production") == ({}, False)


async def test_a_change_cut_short_in_process_is_left_for_recovery(
    chatops: MakeChatops, tmp_path: Path, prefix: str
) -> None:
    """A shutdown that cancels a change midway (not a crash) leaves its entry too."""
    server = RedisProcess(tmp_path).start()
    paused = redis.Redis.from_url(server.url)
    try:
        bot = await chatops(environments=example_environments(prefix, ops=server.url))
        app = dataclasses.replace(bot.app, journal=ChangeJournal(bot.redis, bot.prefix, lease_s=0.2))
        targets = tuple(e for e in app.config.environments if e.option in ("dev", "staging", "ops"))
        request = ChangeRequest(FLAG, targets, SetBoolean(True), ALICE, f"{SET} {FLAG} true --dev --staging --ops")
        paused.execute_command("CLIENT", "PAUSE", "60000", "WRITE")  # until UNPAUSE below
        change = asyncio.create_task(
            engine.apply_change(request, Context(app, ALICE, ShellBackend("alice", frozenset())))
        )
        # dev and gstg are written; ops holds the write (its client is blocked by the pause). Wait for
        # that however slow the machine is, then a little: cut short at the send of a Redis command,
        # the cancellation would only take effect at the write deadline (see test_cancellation.py).
        deadline = time.monotonic() + 30
        while int(paused.info("clients")["blocked_clients"]) < 1:
            assert time.monotonic() < deadline, "the write did not reach ops within 30 s"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        assert (await _state(bot, "staging"))[1]  # dev and gstg first
        change.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await change
        paused.execute_command("CLIENT", "UNPAUSE")
        assert await bot.redis.hlen(f"{bot.prefix}chatops:journal") == 1
        await asyncio.sleep(0.5)  # nobody renews it
        settled, told = await _recover(bot)
        assert settled == 1
        for option in ("dev", "staging", "ops"):
            assert await _state(bot, option) == ({}, False), option
        assert "It had been written to dev, gstg." in _texts(told)["U0ALICE"]
    finally:
        paused.close()
        server.stop()
