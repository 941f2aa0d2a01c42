"""Every safety rule through the whole pipeline: each refusal says why and writes nothing anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handlers.checks import CheckResult
from tests.handlers.conftest import FLAG, Chatops, MakeChatops

NOTHING = "Nothing was changed in any environment."
PROD = f"/chatops run feature set {FLAG} true --staging --production"
HINT = "talk to the on-call SRE, then run the command again with `--ignore-production-check`"
D = "#development"


async def checks_of(bot: Chatops, option: str = "production") -> dict[str, str]:
    [entry] = await bot.app.stores[option].history(FLAG, limit=1)
    return dict(entry.checks)


async def test_enabling_production_needs_a_rollout_issue_before_the_check_is_asked(
    chatops: MakeChatops, tmp_path: Path
) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "no_issue_flag.yml").write_text(
        "name: no_issue_flag\nintroduced_by_url: https://x/1\nrollout_issue_url:\nmilestone: '16.7'\n"
        "group: group::database frameworks\ntype: gitlab_com_derisk\ndefault_enabled: false\n"
    )
    bot = await chatops(safety={"require_rollout_issue": True}, definitions=[str(folder)])
    assert bot.app.services is not None
    asked: list[str] = []
    real_check = bot.app.services.production_check

    async def counting_check() -> list[CheckResult]:
        asked.append("check")
        return await real_check()

    bot.app.services.production_check = counting_check  # type: ignore[method-assign]
    bot.fire("HighErrorRate", "it would block too", severity="s1")
    before = await bot.keyspace()
    answer = await bot.run("/chatops run feature set no_issue_flag true --staging --production")
    assert not answer.ok and not answer.reply.public
    assert (
        "Enabling no_issue_flag in gprd needs a rollout issue: add `rollout_issue_url` to its definition first. "
        + NOTHING
    ) in answer.text
    assert "Production check" not in answer.text and asked == []
    assert await bot.keyspace() == before and answer.posts == []
    # only production needs one: staging alone is written
    staged = await bot.run("/chatops run feature set no_issue_flag true --staging", channel=D)
    assert staged.ok and await bot.gates("staging", "no_issue_flag") == {"boolean": "true"}


async def test_production_needs_staging_enabled_at_least_as_far(chatops: MakeChatops) -> None:
    bot = await chatops()
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} true")
    assert not answer.ok
    assert (
        f"{FLAG} is off in gstg, so it cannot be enabled this far in gprd: roll it out in gstg first "
        f"(`/chatops run feature set {FLAG} true --staging`). Or, if you know why, add "
        f"`--ignore-feature-flag-consistency-check`. {NOTHING}"
    ) in answer.text
    assert await bot.keyspace() == before and answer.posts == []

    assert (await bot.run(f"/chatops run feature set {FLAG} 10 --actors --staging", channel=D)).ok
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} 50 --actors")
    assert (
        not answer.ok and f"{FLAG} is at 10% of actors in gstg, so it cannot be enabled this far in gprd" in answer.text
    )
    assert NOTHING in answer.text and await bot.keyspace() == before
    answer = await bot.run(f"/chatops run feature set {FLAG} true")
    assert not answer.ok and "is not fully on in gstg" in answer.text

    answer = await bot.run(f"/chatops run feature set {FLAG} 10 --actors")
    assert answer.ok and "consistency" not in answer.text  # what passed is in the audit, not in the answer
    assert await bot.gates("production") == {"percentage_of_actors": "10"}
    assert (await checks_of(bot))["consistency_check"] == "passed"


async def test_staging_cannot_be_disabled_or_deleted_while_production_is_enabled(chatops: MakeChatops) -> None:
    bot = await chatops()
    assert (await bot.run(PROD)).ok
    before = await bot.keyspace()
    for verb in (f"set {FLAG} false", f"delete {FLAG}"):
        answer = await bot.run(f"/chatops run feature {verb} --staging", channel=D)
        assert not answer.ok, verb
        assert (
            f"{FLAG} is still on in gprd (on), so it cannot be turned off in gstg: "
            f"disable it in gprd first. Or, if you know why, add `--ignore-feature-flag-consistency-check`. {NOTHING}"
        ) in answer.text
    assert await bot.keyspace() == before
    # the rollout order works: production first, then staging
    assert (await bot.run(f"/chatops run feature set {FLAG} false")).ok
    assert (await bot.run(f"/chatops run feature set {FLAG} false --staging", channel=D)).ok
    assert await bot.gates("staging") == {}


async def test_the_consistency_override_is_recorded(chatops: MakeChatops) -> None:
    bot = await chatops()
    answer = await bot.run(f"/chatops run feature set {FLAG} true --ignore-feature-flag-consistency-check")
    assert answer.ok and "consistency check ignored (--ignore-feature-flag-consistency-check)" in answer.text
    assert await bot.gates("production") == {"boolean": "true"}
    assert await checks_of(bot) == {
        "consistency_check": "ignored (--ignore-feature-flag-consistency-check)",
        "production_check": "not configured",
    }
    assert (await bot.run(f"/chatops run feature set {FLAG} true --staging", channel=D)).ok
    answer = await bot.run(f"/chatops run feature set {FLAG} false --staging --ignore-feature-flag-consistency-check")
    assert answer.ok and await bot.gates("staging") == {}
    assert answer.ok and await checks_of(bot, "staging") == {
        "consistency_check": "ignored (--ignore-feature-flag-consistency-check)"
    }


async def test_all_production_checks_pass_and_the_audit_says_so(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    bot.fire("LowDiskOnReplica", "not matched: severity s4", severity="s4")
    answer = await bot.run(PROD)
    assert answer.ok, answer.text
    assert "Checks:" not in answer.text  # all passed: the audit says so, the answer need not
    assert await bot.gates("production") == {"boolean": "true"}
    assert await checks_of(bot) == {
        "consistency_check": "passed",
        "deployment_check": "passed (the code is deployed)",
        "production_check": "passed",
    }


async def test_a_firing_alert_blocks_with_its_reason(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    bot.fire("HighErrorRate", "5xx above 1% on web", severity="s1")
    bot.fire("LowDiskOnReplica", "not matched: severity s4", severity="s4")
    before = await bot.keyspace()
    answer = await bot.run(PROD)
    assert not answer.ok and not answer.reply.public
    assert f"The production check failed, so {FLAG} was not changed in any environment:" in answer.text
    assert "• alert HighErrorRate is firing: 5xx above 1% on web" in answer.text
    assert "LowDiskOnReplica" not in answer.text and HINT in answer.text
    assert await bot.keyspace() == before and answer.posts == []


async def test_an_unsafe_or_broken_http_check_blocks_with_its_reasons(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    assert bot.outside is not None
    url = f"{bot.outside.url}/check"
    cases: list[tuple[Any, int, str]] = [
        ({"safe": False, "reasons": ["change freeze until 18:00 UTC", "incident 42"]}, 200, "UTC\n  • incident 42"),
        ({"safe": False}, 200, f"• {url} says it is not safe (no reason given)"),
        ("<html>oops</html>", 200, f"• {url} answered something that is not JSON"),
        ({"ok": True}, 200, f'• {url} did not answer {{"safe": true|false, "reasons": [...]}}'),
        ({"safe": True}, 503, f"• {url} answered HTTP 503"),
    ]
    before = await bot.keyspace()
    for body, status, expected in cases:
        bot.outside.check_answer, bot.outside.check_status = body, status
        answer = await bot.run(PROD)
        assert not answer.ok and "Production check failed" in answer.text and expected in answer.text, body
    assert await bot.keyspace() == before


async def test_a_late_check_fails_and_the_person_hears_it_is_running(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    assert bot.outside is not None
    bot.outside.check_delay = 1.8  # the limit is 1.5 s
    before = await bot.keyspace()
    answer = await bot.run(PROD)
    notice = "[#production] (only visible to you) Production check running… (Alertmanager, HTTP checks, deployments)"
    assert answer.text.startswith(notice + "\n"), answer.text
    assert f"• HTTP check {bot.outside.url}/check did not answer within 1.5 s" in answer.text
    assert not answer.ok and await bot.keyspace() == before


async def test_a_running_production_deployment_blocks(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    running: dict[Any, Any] = {
        "environment": "gprd-cny",
        "sha": "a" * 40,
        "ref": "master",
        "status": "running",
        "at": "1795000000",
    }
    await bot.redis.hset(f"{bot.prefix}chatops:deploy:gprd-cny:running", mapping=running)
    before = await bot.keyspace()
    answer = await bot.run(PROD)
    assert not answer.ok and "• a deployment to gprd-cny is running (aaaaaaaaaaa since 2026-" in answer.text
    assert await bot.keyspace() == before


async def test_an_unreachable_alertmanager_fails_the_check(chatops: MakeChatops) -> None:
    check = {"timeout": 2, "alertmanager": {"url": "http://127.0.0.1:1"}}
    bot = await chatops(safety={"production_check": check})
    before = await bot.keyspace()
    answer = await bot.run(PROD)
    assert not answer.ok and "• Alertmanager could not be reached: " in answer.text and HINT in answer.text
    assert await bot.keyspace() == before


async def test_the_production_check_override_is_recorded_with_who(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    bot.fire("HighErrorRate", severity="s2")
    answer = await bot.run(PROD + " --ignore-production-check", user="bob")
    assert answer.ok, answer.text
    ignored = "production check ignored (--ignore-production-check) by bob"
    assert ignored in answer.text
    assert [p.channel for p in answer.posts if ignored in str(p.sections)] == [
        "#g_database_frameworks",
        "#feature-flag-log",
    ]
    assert await checks_of(bot) == {
        "consistency_check": "passed",
        "deployment_check": "passed (the code is deployed)",
        "production_check": "ignored (--ignore-production-check) by bob",
    }
    assert await bot.gates("production") == {"boolean": "true"}


async def test_reducing_exposure_is_never_blocked(chatops: MakeChatops, tmp_path: Path) -> None:
    bot = await chatops(safety=True)
    assert (await bot.run(f"/chatops run feature set {FLAG} 50 --actors --staging --production")).ok
    bot.fire("EverythingIsOnFire", "the site is down", severity="s1")
    skipped = "production check skipped: the change only reduces exposure"
    for value, state in (("10 --actors", {"percentage_of_actors": "10"}), ("false", {})):
        answer = await bot.run(f"/chatops run feature set {FLAG} {value}")
        assert answer.ok and skipped not in answer.text, answer.text  # in the audit only
        assert await bot.gates("production") == state
        assert (await checks_of(bot))["production_check"] == "skipped: the change only reduces exposure"
    answer = await bot.run(f"/chatops run feature delete {FLAG} --production")
    assert answer.ok and (await checks_of(bot))["production_check"] == "skipped: the change only reduces exposure"
    assert not (await bot.flag("production")).exists
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops run feature set {FLAG} 20 --actors")  # up again: checked
    assert not answer.ok and "EverythingIsOnFire is firing: the site is down" in answer.text
    assert await bot.keyspace() == before


async def test_without_a_production_check_the_audit_says_not_configured(chatops: MakeChatops) -> None:
    bot = await chatops()
    answer = await bot.run(PROD)
    assert answer.ok and "Checks: production check not configured" in answer.text
    assert await checks_of(bot) == {"consistency_check": "passed", "production_check": "not configured"}


async def test_a_big_percentage_step_in_production_is_warned_about_and_applied(
    chatops: MakeChatops, tmp_path: Path
) -> None:
    bot = await chatops(safety=True)
    answer = await bot.run(f"/chatops run feature set {FLAG} 60 --actors --staging", channel=D)
    assert answer.ok and ":warning:" not in answer.text  # not production
    assert (await bot.run(f"/chatops run feature set {FLAG} true --staging", channel=D)).ok
    for value, warned in (("10", False), ("35", False), ("75", True)):
        answer = await bot.run(f"/chatops run feature set {FLAG} {value} --actors")
        assert answer.ok, answer.text
        assert (":warning:" in answer.text) is warned, value
        assert await bot.gates("production") == {"percentage_of_actors": value}
    warning = ":warning: gprd: percentage of actors rose from 35% to 75%, more than the 25-point step;"
    assert f"{warning} watch the dashboards." in answer.text
