"""Bad data and hostile input: reserved names, keys of the wrong type, forged ids, hidden characters,
deleting what is not there, and Markdown that must stay literal in the change-log issue."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from handlers.changes.markdown import code_block, code_span
from handlers.core import pipeline
from handlers.core.caller import Caller
from handlers.core.chat import PostFailed
from handlers.core.reply import CrossPost
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from handlers.metrics import REDIS_ERRORS
from tests.handlers.conftest import FLAG, MakeChatops

D = "#development"


@pytest.mark.parametrize("command", ["set flipper_features true --dev", "get flipper_features --dev"])
async def test_the_name_of_flippers_own_set_is_refused(chatops: MakeChatops, command: str) -> None:
    bot = await chatops()
    assert (await bot.run(f"/chatops run feature set {FLAG} true --dev", channel=D)).ok
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature {command}", channel=D)
    assert not answer.ok and "`flipper_features` cannot be a flag name" in answer.text, answer.text
    assert await bot.keyspace() == before
    assert (await bot.run(f"/chatops run feature get {FLAG} --dev", channel=D)).ok  # dev still works


async def test_a_key_of_the_wrong_type_is_named_and_is_not_an_outage(chatops: MakeChatops) -> None:
    bot = await chatops(redis_flags=True)  # a key of Flipper's layout, written by someone else
    key = f"{bot.prefix}gstg:{FLAG}"
    await bot.redis.set(key, "not a hash")
    errors = REDIS_ERRORS.labels("gstg")._value.get()
    before = await bot.keyspace()
    for command in (f"get {FLAG} --staging", f"set {FLAG} true --staging", f"history {FLAG} --staging"):
        answer = await bot.run(f"/chatops run feature {command}", channel=D)
        if command.startswith("history"):
            assert answer.ok, answer.text  # the audit stream is fine
            continue
        assert not answer.ok, answer.text
        assert f"Redis key '{key}' on gstg holds a string, where the flag layout keeps a hash" in answer.text
        assert "could not reach Redis" not in answer.text
    assert await bot.keyspace() == before
    assert REDIS_ERRORS.labels("gstg")._value.get() == errors


async def test_a_forged_roll_back_id_beyond_redis_range_is_bad_input(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(f"/chatops run feature set {FLAG} true --staging", channel=D)).ok
    before = await bot.keyspace()
    answer = await bot.run(f":rollback staging|{FLAG}|99999999999999999999-0", channel=D)
    assert not answer.ok and "does not point at a change recorded for this flag" in answer.text, answer.text
    assert await bot.keyspace() == before


@pytest.mark.parametrize(
    ("user", "what"),
    [
        ("alice\u200b", "U+200B (ZERO WIDTH SPACE)"),
        ("alice\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("alice\xad", "U+00AD (SOFT HYPHEN)"),
        ("alice\x7f", "U+007F"),
        ("a`@all`b", "a backtick"),
    ],
)
async def test_actor_ids_with_hidden_characters_or_backticks_are_refused(
    chatops: MakeChatops, user: str, what: str
) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} true --staging --user='{user}'", channel=D)
    assert not answer.ok and what in answer.text and "type the plain name" in answer.text, answer.text
    assert await bot.keyspace() == before


async def test_deleting_a_flag_that_is_not_there_writes_nothing(chatops: MakeChatops) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature delete {FLAG} --dev --staging", channel=D)
    assert not answer.ok and f"There is no flag {FLAG} on dev, gstg: nothing was deleted." in answer.text
    assert answer.posts == [] and await bot.keyspace() == before
    assert (await bot.run(f"/chatops run feature set {FLAG} true --staging", channel=D)).ok
    answer = await bot.run(f"/chatops run feature delete {FLAG} --dev --staging", channel=D)
    assert answer.ok and f"There is no flag {FLAG} on dev: nothing to delete there." in answer.text
    assert [a.label for a in answer.reply.actions] == ["Undo on gstg: off → on"]
    assert (await bot.flag("dev")).version == 0  # no version written on dev
    assert not (await bot.flag("staging")).exists


async def test_names_and_commands_stay_literal_in_the_change_log_issue(chatops: MakeChatops) -> None:
    bot = await chatops(safety=True)
    assert bot.outside is not None
    user = "eve` ![x](https://evil.example/t.png) `@all"
    answer = await bot.run(f"/chatops run feature set `{FLAG}` true --staging", user=user, channel=D)
    assert answer.ok, answer.text
    [issue] = [form for method, _, _, form in bot.outside.of("/issues") if method == "POST"]
    lines = issue["description"].splitlines()
    assert lines[0] == f"Changed by ``{user}`` in `#development`."
    assert lines[1:4] == ["Command:", "```", f"/chatops run feature set `{FLAG}` true --staging"]
    assert lines[4] == "```"


@given(st.text())
def test_code_spans_and_blocks_cannot_be_closed_from_inside(text: str) -> None:
    span = code_span(text)
    fence = re.match(r"`+", span)
    assert fence is not None and span.endswith(fence.group())
    inner = span[len(fence.group()) : -len(fence.group())]
    assert fence.group() not in inner and "\n" not in span
    block = code_block(text).split("\n")
    assert block[0] == block[-1] and set(block[0]) == {"`"} and len(block[0]) >= 3
    assert all(block[0] not in line for line in block[1:-1])


class _UnreachableChannels(ShellBackend):
    async def post(self, post: CrossPost) -> str:
        raise PostFailed("channel_not_found")


async def test_a_failed_refusal_report_is_logged_not_told_to_the_refused_person(chatops: MakeChatops) -> None:
    bot = await chatops()
    backend = _UnreachableChannels("bob", frozenset())
    caller = Caller("bob", "bob", "C0DEV", "development")
    with capture_logs() as logs:
        refused = await pipeline.run(f"run feature set {FLAG} true --production", caller, bot.app, backend)
        changed = await pipeline.run(f"run feature set {FLAG} true --staging", caller, bot.app, backend)
    text = to_text(refused)
    assert not refused.ok and "may only run in #production" in text
    assert "Could not post" not in text and "stands" not in text
    assert [e["channel"] for e in logs if e["event"] == "bot.refusal_report_failed"] == ["#chatops-security"]
    assert (
        changed.ok
        and "Could not post to #feature-flag-log (log channel): channel_not_found. The change itself stands."
        in to_text(changed)
    )


async def test_a_burst_of_400_commands_queues_for_connections_instead_of_failing(chatops: MakeChatops) -> None:
    bot = await chatops(redis_flags=True)  # the reads go through the Redis client's pool of connections
    assert (await bot.run(f"/chatops run feature set {FLAG} 50 --actors --staging", channel=D)).ok
    caller = Caller("alice", "alice", "C0DEV", "development")
    backend = ShellBackend("alice", frozenset())
    text = f"run feature get {FLAG} --staging --dev --pre"
    replies = await asyncio.gather(*(pipeline.run(text, caller, bot.app, backend) for _ in range(400)))
    failed = [to_text(r) for r in replies if not r.ok]
    assert failed == [], failed[:3]


@pytest.mark.parametrize(
    ("user", "warning"),
    [
        ("\u0430lice", "mixes Cyrillic and Latin letters (`\u0430` is cyrillic small letter a)"),
        ("\uff41\uff4c\uff49\uff43\uff45", "uses full-width or compatibility characters (it reads like `alice`)"),
    ],
)
async def test_look_alike_actor_names_are_applied_with_a_warning(chatops: MakeChatops, user: str, warning: str) -> None:
    bot = await chatops()
    answer = await bot.run(f"/chatops run feature set {FLAG} true --staging --user={user}", channel=D)
    assert answer.ok and f":warning: User:{user} {warning}: check it is the one you mean." in answer.text
    assert await bot.gates("staging") == {f"actors/User:{user}": "1"}
    plain = await bot.run(f"/chatops run feature set {FLAG} true --staging --user=alice", channel=D)
    assert plain.ok and ":warning:" not in plain.text


async def test_a_burst_runs_a_bounded_number_of_commands_at_once(
    chatops: MakeChatops, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await chatops()
    app = dataclasses.replace(bot.app, slots=asyncio.Semaphore(8))
    running, most = 0, 0
    feature = app.commands.resolve("feature", "get")
    assert feature is not None
    real_handle = feature.handle

    async def counted(plan: Any, context: Any) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.01)
            return await real_handle(plan, context)
        finally:
            running -= 1

    caller = Caller("alice", "alice", "C0DEV", "development")
    backend = ShellBackend("alice", frozenset())
    monkeypatch.setattr(feature, "handle", counted)  # the real handler, counted
    replies = await asyncio.gather(
        *(pipeline.run(f"run feature get {FLAG} --staging", caller, app, backend) for _ in range(200))
    )
    assert all(r.ok for r in replies) and most == 8


@pytest.mark.parametrize("user", ["\u0430lice", "\uff41\uff4c\uff49\uff43\uff45"])
async def test_look_alike_actor_names_can_be_refused(chatops: MakeChatops, user: str) -> None:
    bot = await chatops(safety={"lookalike_actors": "refuse"})
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} true --staging --user=bob,{user}", channel=D)
    assert not answer.ok and f"User:{user} " in answer.text
    assert "Look-alike actor names are refused here (`safety.lookalike_actors: refuse`)" in answer.text
    assert await bot.keyspace() == before
    plain = await bot.run(f"/chatops run feature set {FLAG} true --staging --user=alice", channel=D)
    assert plain.ok
