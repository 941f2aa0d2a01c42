"""Consistency between staging and production, percentage steps, QA posts with end-to-end
triggers, change-log issues in GitLab, and `feature history`."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.alertmanager_process import Alertmanager
from tests.bot.conftest import FLAG, start_bot
from tests.bot.safety.conftest import SafeBot, safety_config
from tests.bot.slack_stub import SlackStub
from tests.helpers import keyspace
from tests.http_stubs import ChecksAndGitLab


async def test_production_needs_staging_enabled_first(safe_bot: SafeBot) -> None:
    before = await keyspace(safe_bot.redis, safe_bot.prefix)
    kind, text = await safe_bot.text(f"run feature set {FLAG} true")
    assert kind == "ephemeral"
    assert f"{FLAG} is not enabled in gstg, so it cannot be enabled this far in gprd" in text
    assert f"`/chatops run feature set {FLAG} true --staging`" in text
    assert "`--ignore-feature-flag-consistency-check`" in text
    await safe_bot.text(f"run feature set {FLAG} 30 --actors --staging", channel="#development")
    before = await keyspace(safe_bot.redis, safe_bot.prefix)
    kind, text = await safe_bot.text(f"run feature set {FLAG} 50 --actors")
    assert kind == "ephemeral" and "is at 30% actors in gstg" in text
    assert await keyspace(safe_bot.redis, safe_bot.prefix) == before
    kind, text = await safe_bot.text(f"run feature set {FLAG} 30 --actors")
    assert kind == "in_channel" and "consistency check passed" in text


async def test_staging_cannot_be_disabled_while_production_is_enabled(safe_bot: SafeBot) -> None:
    await safe_bot.text(f"run feature set {FLAG} true --staging --production")
    before = await keyspace(safe_bot.redis, safe_bot.prefix)
    kind, text = await safe_bot.text(f"run feature set {FLAG} false --staging", channel="#development")
    assert kind == "ephemeral"
    assert f"{FLAG} is still enabled in gprd (enabled (true)), so it cannot be disabled in gstg" in text
    assert await keyspace(safe_bot.redis, safe_bot.prefix) == before
    kind, text = await safe_bot.text(
        f"run feature set {FLAG} false --staging --ignore-feature-flag-consistency-check", channel="#development"
    )
    assert kind == "in_channel" and "consistency check ignored" in text
    # the rollout order works: production off first, then staging
    await safe_bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    assert (await safe_bot.text(f"run feature set {FLAG} false"))[0] == "in_channel"
    assert (await safe_bot.text(f"run feature set {FLAG} false --staging", channel="#development"))[0] == "in_channel"


async def test_a_big_percentage_jump_in_production_is_warned_about(safe_bot: SafeBot) -> None:
    await safe_bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    kind, text = await safe_bot.text(f"run feature set {FLAG} 10 --actors")
    assert kind == "in_channel" and ":warning:" not in text
    kind, text = await safe_bot.text(f"run feature set {FLAG} 50 --actors")
    assert kind == "in_channel"
    assert ":warning: gprd: percentage of actors rose from 10% to 50%, more than the 25-point step" in text


async def test_qa_post_triggers_the_end_to_end_pipeline(safe_bot: SafeBot) -> None:
    outside = safe_bot.outside
    assert outside is not None
    await safe_bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    await safe_bot.slack.wait_for(lambda: safe_bot.slack.post_texts("#e2e-run-staging"))
    [qa] = safe_bot.slack.post_texts("#e2e-run-staging")
    assert f"Feature flag {FLAG} has been set to true on gstg" in qa
    assert "End-to-end tests: <https://gitlab.example.com/gitlab-org/quality/staging/-/pipelines/4242|" in qa
    [(method, path, _headers, form)] = outside.of("/trigger/pipeline")
    assert (method, path) == ("POST", "/api/v4/projects/gitlab-org%2Fquality%2Fstaging/trigger/pipeline")
    assert form == {
        "token": "e2e-trigger-token",
        "ref": "master",
        "variables[FEATURE_FLAG]": FLAG,
        "variables[FEATURE_FLAG_VALUE]": "true",
        "variables[FEATURE_FLAG_ENVIRONMENT]": "gstg",
    }
    assert outside.problems == []

    # scoped to the QA user only: still triggers; scoped to someone else: a QA post, no pipeline
    await safe_bot.text(f"run feature set {FLAG} true --user=gitlab-qa --staging", channel="#development")
    await safe_bot.text(f"run feature set {FLAG} true --user=alice --staging", channel="#development")
    await safe_bot.slack.wait_for(lambda: len(safe_bot.slack.post_texts("#e2e-run-staging")) == 3)
    assert len(outside.of("/trigger/pipeline")) == 2
    assert "End-to-end tests" not in safe_bot.slack.post_texts("#e2e-run-staging")[-1]


async def test_a_failed_trigger_is_reported_and_the_change_stands(safe_bot: SafeBot) -> None:
    assert safe_bot.outside is not None
    safe_bot.outside.trigger_status = 500
    kind, _ = await safe_bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    assert kind == "in_channel"
    await safe_bot.slack.wait_for(lambda: safe_bot.slack.post_texts("#e2e-run-staging"))
    assert (
        ":warning: the end-to-end pipeline could not be triggered: pipeline trigger: GitLab answered HTTP 500"
        in (safe_bot.slack.post_texts("#e2e-run-staging")[0])
    )
    assert await safe_bot.redis.hgetall(f"{safe_bot.prefix}gstg:{FLAG}") == {"boolean": "true"}


async def test_every_change_is_logged_as_a_closed_gitlab_issue(safe_bot: SafeBot) -> None:
    outside = safe_bot.outside
    assert outside is not None
    await safe_bot.text(f"run feature set {FLAG} 25 --actors --staging", channel="#development")
    await safe_bot.text(f"run feature delete {FLAG} --staging", channel="#development")
    created = [form for method, _, headers, form in outside.of("/issues") if method == "POST"]
    closed = [form for method, _, _, form in outside.of("/issues/") if method == "PUT"]
    assert [c["title"] for c in created] == [
        f"Feature flag '{FLAG}' has been set to '25%' of actors on gstg",
        f"Feature flag '{FLAG}' has been deleted on gstg",
    ]
    assert created[0]["labels"] == "staging.gitlab.com,change"
    assert "Changed by u0sre in #development" in created[0]["description"]
    assert len(closed) == 2 and outside.problems == []
    [(_, path, headers, _)] = outside.of("/issues")[:1]
    assert path == "/api/v4/projects/gitlab-com%2Fgl-infra%2Ffeature-flag-log/issues"
    assert headers["PRIVATE-TOKEN"] == "glpat-test-token"


async def test_history_shows_when_who_where_what_and_checks(safe_bot: SafeBot) -> None:
    await safe_bot.text(f"run feature set {FLAG} true --staging --production")
    await safe_bot.text(f"run feature set {FLAG} false")
    kind, text = await safe_bot.text(f"run feature history {FLAG} --staging --production", channel="#development")
    assert kind == "in_channel"
    assert "*gprd*: history of" in text and "*gstg*: history of" in text
    assert "v2 set to false by <@U0SRE> at " in text and "in #production" in text
    assert "in #production: `disabled (false)` (production check: skipped: the change only reduces exposure)" in text
    assert "(consistency check: passed, production check: passed)" in text


async def test_enabling_production_can_require_a_rollout_issue(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    outside: ChecksAndGitLab,
    alertmanager: Alertmanager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = safety_config(tmp_path, redis_url, prefix, outside, alertmanager, "rollout", require_rollout_issue=True)
    definitions = tmp_path / "defs"
    definitions.mkdir()
    (definitions / "no_issue_flag.yml").write_text(
        "name: no_issue_flag\nintroduced_by_url: https://x/1\nrollout_issue_url:\nmilestone: '16.7'\n"
        "group: group::database frameworks\ntype: gitlab_com_derisk\ndefault_enabled: false\n"
    )
    config.write_text(
        config.read_text().replace(
            str(Path(__file__).resolve().parents[3] / "deploy" / "feature_flags"), str(definitions)
        )
    )
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        bot = SafeBot(url, slack, prefix, None, session)  # type: ignore[arg-type]
        kind, text = await bot.text("run feature set no_issue_flag true --staging --production")
        assert kind == "ephemeral" and "needs a rollout issue: add `rollout_issue_url` to its definition" in text
        kind, _ = await bot.text("run feature set no_issue_flag true --staging", channel="#development")
        assert kind == "in_channel"  # only production needs it
    await runner.cleanup()
