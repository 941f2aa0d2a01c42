"""The change engine through the pipeline: ordered writes, the reply, cross-posts, change log, roll back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from flags import AuditInfo, SetBoolean
from handlers.changes import ChangeRequest, engine
from handlers.changes.rules import Verdict
from handlers.core.caller import Caller
from handlers.core.context import Context
from handlers.core.reply import Confirm
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.configs import example_environments
from tests.handlers.conftest import FLAG, MakeChatops
from tests.helpers import write_as_another_writer
from tests.redis_process import RedisProcess

D = "#development"
SET = "/chatops run feature set"


async def test_writes_in_configured_order_with_versions_and_a_button_each(chatops: MakeChatops) -> None:
    bot = await chatops()
    answer = await bot.run(f"{SET} {FLAG} true --production --staging --dev")
    assert answer.ok and answer.reply.public
    assert answer.text.startswith(f"[#production] (in channel)\nEnabled: `{FLAG}` on dev, gstg, gprd by @alice\n")
    assert "  dev, gstg, gprd: `off` → `on`\n" in answer.text and "version" not in answer.text.split("\n\n")[0]
    assert "rollout issue #431866" in answer.posted_to("#feature-flag-log")[0].notes[1][-1].label  # type: ignore[union-attr]
    entries = {o: (await bot.app.stores[o].history(FLAG))[0] for o in ("dev", "staging", "production")}
    assert entries["dev"].at < entries["staging"].at < entries["production"].at  # written in configured order
    assert [(a.label, a.action_id, a.value, a.style) for a in answer.reply.actions] == [
        (f"Undo on {n}: on → off", "rollback", f"{o}|{FLAG}|{entries[o].entry_id}", "danger")
        for n, o in (("dev", "dev"), ("gstg", "staging"), ("gprd", "production"))
    ]
    assert answer.reply.actions[2].confirm == Confirm(
        "Undo on gprd?",
        f"{FLAG} on gprd goes back to off (it is on now), if nobody changed it since.",
        "Set gprd to off",
        "Cancel",
    )
    assert f"[Undo on gprd: on → off] to press it, type: :rollback production|{FLAG}|" in answer.text
    answer = await bot.run(f"{SET} {FLAG} 30 --actors --dev --staging")  # on is on: nothing to write
    assert answer.ok and not answer.reply.public and answer.posts == [] and answer.reply.actions == ()
    assert f"`{FLAG}` is already on in dev, gstg: nothing to change, so nothing was written." in answer.text
    assert await bot.gates("dev") == {"boolean": "true"}
    assert [(await bot.flag(o)).version for o in ("dev", "staging", "production")] == [1, 1, 1]


async def test_cross_posts_go_where_they_must(chatops: MakeChatops) -> None:
    bot = await chatops()
    answer = await bot.run(f"{SET} {FLAG} true --staging --production")
    assert [(p.channel, p.purpose) for p in answer.posts] == [
        ("#g_database_frameworks", "team channel"),
        ("#feature-flag-log", "log channel"),
        ("#e2e-run-staging", "QA channel"),
    ]
    log = answer.text.split("[#feature-flag-log] (log channel)\n")[1]
    assert log.startswith(f"Enabled: `{FLAG}` on gstg, gprd by @alice in #production\n  gstg, gprd: `off` → `on`\n")
    assert f"`{SET} {FLAG} true --staging --production`" in log
    qa = answer.posted_to("#e2e-run-staging")[0]
    assert qa.summary == f"Feature flag {FLAG} has been set to true on gstg"
    assert "End-to-end tests" not in answer.text  # no e2e_trigger in the plain example
    answer = await bot.run(f"{SET} {FLAG} 25 --actors --dev --staging", channel=D)  # gstg is on: only dev moves
    assert [p.channel for p in answer.posts] == ["#feature-flag-log"]  # no production: no team; gstg not written
    assert "Already on in gstg: not written there." in answer.text
    answer = await bot.run(f"{SET} {FLAG} false --dev", channel=D)
    assert [p.channel for p in answer.posts] == ["#feature-flag-log"]


async def test_the_qa_channel_triggers_the_e2e_pipeline_unless_scoped_beyond_qa_actors(
    chatops: MakeChatops, tmp_path: Path
) -> None:
    bot = await chatops(safety=True)
    assert bot.outside is not None
    answer = await bot.run(f"{SET} {FLAG} true --staging", channel=D)
    pipeline = "https://gitlab.example.com/gitlab-org/quality/staging/-/pipelines/4242"
    qa = f"[#e2e-run-staging] (QA channel)\nFeature flag {FLAG} has been set to true on gstg\n"
    assert f"{qa}End-to-end tests: {pipeline}" in answer.text and len(answer.posted_to("#e2e-run-staging")) == 1
    [(method, path, _, form)] = bot.outside.of("/trigger/pipeline")
    assert (method, path) == ("POST", "/api/v4/projects/gitlab-org%2Fquality%2Fstaging/trigger/pipeline")
    assert form == {
        "token": "e2e-trigger-token",
        "ref": "master",
        "variables[FEATURE_FLAG]": FLAG,
        "variables[FEATURE_FLAG_VALUE]": "true",
        "variables[FEATURE_FLAG_ENVIRONMENT]": "gstg",
    }
    assert (await bot.run(f"{SET} {FLAG} false --staging", channel=D)).posted_to("#e2e-run-staging") == []
    answer = await bot.run(f"{SET} {FLAG} true --user=gitlab-qa --staging", channel=D)
    assert f"set to true for User:gitlab-qa on gstg\nEnd-to-end tests: {pipeline}" in answer.text
    answer = await bot.run(f"{SET} {FLAG} true --user=gitlab-qa,alice --staging", channel=D)
    assert len(answer.posted_to("#e2e-run-staging")) == 1 and "End-to-end tests" not in answer.text
    answer = await bot.run(f"{SET} {FLAG} false --staging", channel=D)
    assert answer.posted_to("#e2e-run-staging") == []
    assert len(bot.outside.of("/trigger/pipeline")) == 2 and bot.outside.problems == []


async def test_change_log_issues_one_per_environment(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    assert bot.outside is not None
    await bot.run(f"{SET} {FLAG} 25 --actors --staging", channel=D)
    await bot.run(f"/chatops run feature delete {FLAG} --staging", channel=D)
    bot.fire("HighErrorRate", severity="s1")
    assert (await bot.run(f"{SET} {FLAG} true --staging --production --ignore-production-check")).ok
    posted = [form for method, _, _, form in bot.outside.of("/issues") if method == "POST"]
    [actors, deleted, staging, production] = posted
    assert [actors["title"], deleted["title"], production["title"]] == [
        f"Feature flag '{FLAG}' has been set to '25%' of actors on gstg",
        f"Feature flag '{FLAG}' has been deleted on gstg",
        f"Feature flag '{FLAG}' has been set to 'true' on gprd",
    ]
    assert (actors["labels"], deleted["labels"]) == ("staging.gitlab.com,change", "staging.gitlab.com,change")
    assert staging["labels"] == "staging.gitlab.com,change,Production check ignored"
    assert production["labels"] == "gitlab.com,change,Production check ignored"
    assert actors["description"] == (
        f"Changed by `alice` in `#development`.\nCommand:\n```\n{SET} {FLAG} 25 --actors --staging\n```\n"
        "Before: `off`; after: `25% of actors` (version 1).\n"
        "Checks: `deployment check passed (the code is deployed)`"
    )  # the change-log issue keeps every check's record, as the audit does
    assert production["description"].splitlines()[-2:] == [
        "Before: `off`; after: `on` (version 1).",
        "Checks: `consistency check passed; deployment check passed (the code is deployed); "
        "production check ignored (--ignore-production-check) by alice`",
    ]
    log = "/api/v4/projects/gitlab-com%2Fgl-infra%2Ffeature-flag-log/issues"
    calls = [(method, path, headers["PRIVATE-TOKEN"]) for method, path, headers, _ in bot.outside.of("/issues")]
    token = "glpat-test-token"  # every issue created, then closed
    assert calls == [c for n in (1, 2, 3, 4) for c in (("POST", log, token), ("PUT", f"{log}/{n}", token))]
    assert bot.outside.problems == []


async def test_failed_gitlab_calls_are_notes_and_the_change_stands(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety={"gitlab_url": "http://127.0.0.1:1"})
    answer = await bot.run(f"{SET} {FLAG} true --staging", channel=D)
    assert answer.ok and await bot.gates("staging") == {"boolean": "true"}
    assert "\n! Could not record the change-log issue for gstg: change log issue: Cannot connect" in answer.text
    qa = answer.text.split("(QA channel)\n")[1]
    assert ":warning: the end-to-end pipeline could not be triggered: pipeline trigger: Cannot connect" in qa
    bot = await chatops(safety=True)  # the same Redis prefix: the flag is true on gstg
    assert bot.outside is not None
    bot.outside.trigger_status = 500
    assert (await bot.run(f"{SET} {FLAG} false --staging", channel=D)).ok
    answer = await bot.run(f"{SET} {FLAG} 10 --actors --staging", channel=D)
    state = await bot.gates("staging")
    assert answer.ok and state == {"percentage_of_actors": "10"}
    assert "could not be triggered: pipeline trigger: GitLab answered HTTP 500" in answer.text


async def test_delete_removes_the_flag_and_says_what_it_was(chatops: MakeChatops) -> None:
    bot = await chatops()
    await bot.run(f"{SET} {FLAG} true --user=alice --dev", channel=D)
    answer = await bot.run(f"/chatops run feature delete {FLAG} --dev", channel=D)
    assert answer.ok and f"Deleted: `{FLAG}` on dev by @alice\n  dev: `actors: User:alice` → `off`\n" in answer.text
    record = await bot.flag("dev")
    assert record.state.to_hash() == {} and not record.exists
    assert [p.channel for p in answer.posts] == ["#feature-flag-log"]


async def test_roll_back_restores_exactly_the_previous_state(chatops: MakeChatops) -> None:
    bot = await chatops()
    first = await bot.run(f"{SET} {FLAG} true --user=a,b --staging", channel=D)
    await bot.run(f"{SET} {FLAG} 25 --actors --staging", channel=D)
    before = await bot.gates("staging")
    assert before == {"actors/User:a": "1", "actors/User:b": "1", "percentage_of_actors": "25"}
    change = await bot.run(f"{SET} {FLAG} true --staging", channel=D)
    [button] = change.reply.actions
    answer = await bot.run(f":rollback {button.value}", channel=D)
    assert answer.ok and f"Rolled back: `{FLAG}` on gstg by @alice\n" in answer.text
    assert "  gstg: `on` → `actors: User:a, User:b; 25% of actors`\n" in answer.text
    assert await bot.gates("staging") == before
    [entry] = await bot.app.stores["staging"].history(FLAG, limit=1)
    entry_id = button.value.split("|")[2]
    assert (entry.command, entry.who, entry.version) == (f"Roll back button on change {entry_id}", "alice", 4)
    assert [p.channel for p in answer.posts] == ["#feature-flag-log"]  # a roll back triggers no QA run
    # back to "not existing": the first change's button, once the flag is back at that version
    await bot.run(f":rollback {answer.reply.actions[0].value}", channel=D)  # undo the roll back (version 5)
    versions = [e.version for e in await bot.app.stores["staging"].history(FLAG, limit=10)]
    assert versions == [5, 4, 3, 2, 1]
    refused = await bot.run(f":rollback {first.reply.actions[0].value}", channel=D)
    assert not refused.ok and f"{FLAG} on gstg changed since that change, so it was not rolled back" in refused.text
    fresh = await bot.run(f"{SET} {FLAG} true --pre", channel=D)
    assert (await bot.run(f":rollback {fresh.reply.actions[0].value}", channel=D)).ok
    record = await bot.flag("pre")
    assert record.state.to_hash() == {} and not record.exists


async def test_roll_back_refuses_when_the_flag_changed_since(chatops: MakeChatops) -> None:
    bot = await chatops()
    change = await bot.run(f"{SET} {FLAG} 20 --actors --staging", channel=D)
    await bot.run(f"{SET} {FLAG} 40 --actors --staging", channel="#random")
    before = await bot.keyspace()
    answer = await bot.run(f":rollback {change.reply.actions[0].value}", channel=D)
    assert not answer.ok and not answer.reply.public and answer.posts == []
    assert (
        f"{FLAG} on gstg changed since that change, so it was not rolled back and nothing was changed." in answer.text
    )
    assert "Newer change: `set to 40% of actors` by @alice at " in answer.text
    assert " UTC in #random; now `40% of actors`." in answer.text
    assert await bot.keyspace() == before
    # a double click: the second finds the flag as the first left it, says so and writes nothing
    fresh = await bot.run(f"{SET} {FLAG} false --staging", channel=D)
    assert (await bot.run(f":rollback {fresh.reply.actions[0].value}", channel=D)).ok
    after_first = await bot.keyspace()
    again = await bot.run(f":rollback {fresh.reply.actions[0].value}", channel=D)
    assert again.ok and not again.reply.public and again.posts == [] and again.reply.actions == ()
    assert f"`{FLAG}` is already 40% of actors in gstg: nothing to change, so nothing was written." in again.text
    assert await bot.keyspace() == after_first


async def test_roll_back_refuses_when_another_writer_changed_the_flag(chatops: MakeChatops) -> None:
    """Ruby's Flipper or a console writes the hash and moves no version: the gates are compared."""
    bot = await chatops(redis_flags=True)
    change = await bot.run(f"{SET} {FLAG} true --staging", channel=D)
    await write_as_another_writer(bot.redis, f"{bot.prefix}gstg:", FLAG, {"percentage_of_actors": "40"})
    before = await bot.keyspace()
    answer = await bot.run(f":rollback {change.reply.actions[0].value}", channel=D)
    assert not answer.ok and answer.posts == [], answer.text
    assert (
        f"{FLAG} on gstg changed since that change, so it was not rolled back and nothing was changed." in answer.text
    )
    assert (
        "It was changed outside this bot (Flipper or a console, which leave no audit entry here): "
        "that change left it `on`; now `40% of actors`." in answer.text
    )
    assert await bot.keyspace() == before
    # the gates put back as that change left them: the roll back applies again
    await write_as_another_writer(bot.redis, f"{bot.prefix}gstg:", FLAG, {"boolean": "true"})
    assert (await bot.run(f":rollback {change.reply.actions[0].value}", channel=D)).ok
    assert await bot.gates("staging") == {}


async def test_forged_button_values_are_refused(chatops: MakeChatops) -> None:
    bot = await chatops()
    other = await bot.app.stores["staging"].apply("other_flag", SetBoolean(True), AuditInfo(who="carol"))
    await asyncio.sleep(0.005)  # audit ids are per flag and by millisecond: keep the two apart
    change = await bot.run(f"{SET} {FLAG} true --staging", channel=D)
    option, name, entry = change.reply.actions[0].value.split("|")
    before = await bot.keyspace()
    not_recorded = "This button does not point at a change recorded for this flag; nothing was changed."
    not_ours = "This button does not name a change this bot recorded. Nothing was changed."
    forged = [
        (f"{option}|other_flag|{entry}", not_recorded),
        (f"{option}|{name}|{other.entry_id}", not_recorded),
        (f"{option}|{name}|1-0", not_recorded),
        (f"dev|{name}|{entry}", not_recorded),
        (f"nowhere|{name}|{entry}", not_ours),
        (f"{option}|{name}|not-an-id", not_ours),
        ("garbage", "This button does not name a change to roll back. Nothing was changed."),
        (f"{option}|Bad-Name|{entry}", "`Bad-Name` is not a valid flag name"),
    ]
    for value, expected in forged:
        answer = await bot.run(f":rollback {value}", channel=D)
        assert not answer.ok and expected in answer.text and answer.posts == [], (value, answer.text)
    assert await bot.keyspace() == before


async def test_an_unreachable_environment_is_named_and_nothing_is_written(chatops: MakeChatops, prefix: str) -> None:
    environments = example_environments(prefix, ops="redis://127.0.0.1:1/0")
    bot = await chatops(environments=environments)
    answer = await bot.run(f"{SET} {FLAG} true --dev --ops --pre", channel=D)
    assert not answer.ok and "Could not reach Redis for ops (" in answer.text
    assert "Nothing was changed in any environment." in answer.text and await bot.keyspace() == {}


async def test_redis_lost_mid_way_says_what_was_done_and_what_was_not(
    chatops: MakeChatops, tmp_path: Path, prefix: str
) -> None:
    server = RedisProcess(tmp_path).start()
    environments = example_environments(prefix, ops=server.url)
    try:
        bot = await chatops(safety=True, environments=environments)
        assert bot.app.services is not None
        real_check = bot.app.services.production_check

        async def check_then_lose_ops() -> Any:
            server.stop()  # ops was read; it goes away before the writes
            return await real_check()

        bot.app.services.production_check = check_then_lose_ops  # type: ignore[method-assign]
        answer = await bot.run(f"{SET} {FLAG} true --dev --staging --ops --production")
    finally:
        server.stop()
    assert not answer.ok and answer.reply.public
    assert "  dev, gstg: `off` → `on`\n" in answer.text
    assert "  Failed on ops: could not reach Redis for ops (" in answer.text
    assert "  Not attempted: gprd.\n  Nothing is reported as done there or after" in answer.text
    assert [a.label for a in answer.reply.actions] == ["Undo on dev: on → off", "Undo on gstg: on → off"]
    assert await bot.gates("production") == {}
    assert await bot.gates("staging") == {"boolean": "true"}


async def test_reading_commands_show_state_and_audit(chatops: MakeChatops) -> None:
    bot = await chatops()
    await bot.run(f"{SET} {FLAG} 25 --actors --staging", channel=D)
    await bot.run(f"{SET} {FLAG} true --staging --production")
    await bot.app.stores["staging"].apply("other_flag", SetBoolean(True), AuditInfo(who="carol"))
    answer = await bot.run(f"/chatops run feature get {FLAG} --dev --staging --production", channel="#random")
    assert answer.ok and answer.reply.public
    assert "  dev: `off`\n" in answer.text
    assert "  gstg: `on` (last set to true by @alice at " in answer.text
    assert "  gprd: `on` (last set to true by @alice at " in answer.text
    answer = await bot.run("/chatops run feature list --match shared --staging", channel="#random")
    assert "gstg: 1 flag matching `shared`\n" in answer.text and f"  `{FLAG}` on" in answer.text
    assert "other_flag" not in answer.text
    assert "gstg: 2 flags" in (await bot.run("/chatops run feature list --staging", channel="#random")).text
    answer = await bot.run(f"/chatops run feature history {FLAG} --limit 1 --staging --production", channel="#random")
    assert answer.ok and "gstg: history of" in answer.text and "gprd: history of" in answer.text
    assert "  v2 set to true by @alice at " in answer.text and " UTC in #production: `on` (" in answer.text
    assert "(consistency check: passed, production check: not configured)" in answer.text
    assert "v1 set to 25% of actors" not in answer.text
    answer = await bot.run(f"/chatops run feature history {FLAG} --staging", channel="#random")
    assert " UTC in #development: `25% of actors`" in answer.text


async def test_redis_refusing_writes_gets_a_bounded_honest_answer(
    chatops: MakeChatops, tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "STILL_TRYING_S", 0.2)
    monkeypatch.setattr(engine, "WRITE_DEADLINE_S", 0.6)
    server = RedisProcess(tmp_path).start()
    environments = example_environments(prefix, ops=server.url)
    try:
        bot = await chatops(environments=environments)
        paused = redis.Redis.from_url(server.url)
        paused.execute_command("CLIENT", "PAUSE", "4000", "WRITE")  # as a failover or a full disk does
        started = time.monotonic()
        answer = await bot.run(f"{SET} {FLAG} true --dev --ops --staging", channel=D)
        elapsed = time.monotonic() - started
        paused.close()
    finally:
        server.stop()
    assert elapsed < 3, elapsed
    assert "(only visible to you) Still trying to write to Redis for ops…" in answer.text
    assert "No answer from ops: Redis did not confirm the write within 0.6 s. It may still be applied" in answer.text
    assert not answer.ok and [a.label for a in answer.reply.actions] == [
        "Undo on dev: on → off",
        "Undo on gstg: on → off",
    ]
    assert await bot.gates("dev") == {"boolean": "true"}  # dev, gstg, then ops
    assert await bot.gates("staging") == {"boolean": "true"}


class _MeanwhileRule:
    """A rule that, while the checks run, has someone else change the flag on staging."""

    name = "meanwhile"

    def __init__(self, change: SetBoolean) -> None:
        self.change = change

    def applies(self, request: ChangeRequest, targets: Any, context: Context) -> bool:
        return True

    async def check(self, request: ChangeRequest, targets: Any, context: Context) -> Verdict:
        await context.stores["staging"].apply(request.flag, self.change, AuditInfo(who="bob"))
        return Verdict()


@pytest.mark.parametrize(("meanwhile", "same"), [(True, True), (False, False)], ids=["same change", "other change"])
async def test_a_change_made_meanwhile_stops_the_write_unless_it_is_the_same(
    chatops: MakeChatops, meanwhile: bool, same: bool
) -> None:
    bot = await chatops()
    app = bot.app
    staging = app.config.environment("staging")
    assert staging is not None
    caller = Caller("alice", "alice", "C0DEV", "development")
    request = ChangeRequest(FLAG, (staging,), SetBoolean(True), caller, f"{SET} {FLAG} true --staging")
    context = Context(app, caller, ShellBackend("alice", frozenset()))
    reply = await engine.apply_change(request, context, rules=(_MeanwhileRule(SetBoolean(meanwhile)),))
    text = to_text(reply)
    history = await app.stores["staging"].history(FLAG)
    assert [e.who for e in history] == ["bob"]  # alice's write was never made on top of bob's
    if same:
        assert reply.ok and "gstg: already so — someone made the same change meanwhile; not written again." in text
    else:
        assert not reply.ok and "Stopped at gstg: the flag changed there while the checks ran." in text
