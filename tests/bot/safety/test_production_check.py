"""The production check: a real Alertmanager, an HTTP check, deployments; refusals change nothing."""

from __future__ import annotations

import time

from tests.bot.conftest import FLAG
from tests.bot.safety.conftest import SafeBot
from tests.helpers import keyspace

SET_PROD = f"run feature set {FLAG} true --staging --production"


async def test_all_checks_pass_and_the_change_says_so(safe_bot: SafeBot) -> None:
    kind, text = await safe_bot.text(SET_PROD)
    assert kind == "in_channel", text
    assert "Checks: consistency check passed; production check passed" in text
    assert await safe_bot.redis.hgetall(f"{safe_bot.prefix}gprd:{FLAG}") == {"boolean": "true"}
    [entry] = await safe_bot.redis.xrevrange(f"{safe_bot.prefix}gprd:chatops:audit:{FLAG}", count=1)
    assert '"production_check": "passed"' in entry[1]["checks"]


async def test_a_firing_alert_blocks_and_nothing_is_written(safe_bot: SafeBot) -> None:
    safe_bot.fire("HighWebErrorRate", "5xx above 1% on web", severity="s1")
    safe_bot.fire("LowDiskOnReplica", "not matched: severity s4", severity="s4")
    before = await keyspace(safe_bot.redis, safe_bot.prefix)
    kind, text = await safe_bot.text(SET_PROD)
    assert kind == "ephemeral"
    assert "The production check failed" in text
    assert "alert HighWebErrorRate is firing: 5xx above 1% on web" in text
    assert "LowDiskOnReplica" not in text
    assert "talk to the on-call SRE, then run the command again with `--ignore-production-check`" in text
    assert await keyspace(safe_bot.redis, safe_bot.prefix) == before  # staging unchanged too


async def test_the_http_check_says_no_errors_or_answers_garbage(safe_bot: SafeBot) -> None:
    assert safe_bot.outside is not None
    before = await keyspace(safe_bot.redis, safe_bot.prefix)
    cases = [
        ({"safe": False, "reasons": ["change freeze until 18:00 UTC"]}, 200, "change freeze until 18:00 UTC"),
        ("<html>oops</html>", 200, "answered something that is not JSON"),
        ({"ok": True}, 200, 'did not answer {"safe": true|false'),
        ({"safe": True}, 503, "answered HTTP 503"),
    ]
    for answer, status, expected in cases:
        safe_bot.outside.check_answer, safe_bot.outside.check_status = answer, status
        kind, text = await safe_bot.text(SET_PROD)
        assert kind == "ephemeral" and expected in text, (answer, text)
    assert await keyspace(safe_bot.redis, safe_bot.prefix) == before


async def test_a_check_that_does_not_answer_in_time_fails_and_the_user_hears_it_is_running(safe_bot: SafeBot) -> None:
    assert safe_bot.outside is not None
    safe_bot.outside.check_delay = 4  # the check does not answer within the 2 s limit
    answer = await safe_bot.send(SET_PROD)
    started = time.monotonic()
    await safe_bot.slack.wait_for(lambda: len(safe_bot.slack.responses.get(answer.response_id, [])) >= 2, 10)
    notice, final = safe_bot.slack.responses[answer.response_id][:2]
    assert "Production check running" in notice["text"] and notice["response_type"] == "ephemeral"
    assert final["response_type"] == "ephemeral"
    assert "did not answer within 2 s" in str(final["blocks"])
    assert time.monotonic() - started < 6
    assert await safe_bot.redis.exists(f"{safe_bot.prefix}gprd:{FLAG}") == 0


async def test_a_running_production_deployment_blocks(safe_bot: SafeBot) -> None:
    await safe_bot.redis.hset(
        f"{safe_bot.prefix}chatops:deploy:gprd-cny:running",
        mapping={
            "environment": "gprd-cny",
            "sha": "a" * 40,
            "ref": "master",
            "status": "running",
            "at": str(time.time()),
        },
    )
    kind, text = await safe_bot.text(SET_PROD)
    assert kind == "ephemeral" and "a deployment to gprd-cny is running (aaaaaaaaaaa since" in text


async def test_the_override_is_recorded_and_shown_in_every_post(safe_bot: SafeBot) -> None:
    safe_bot.fire("HighWebErrorRate", severity="s2")
    kind, text = await safe_bot.text(SET_PROD + " --ignore-production-check")
    assert kind == "in_channel"
    assert "production check ignored (--ignore-production-check) by u0sre" in text
    await safe_bot.slack.wait_for(lambda: safe_bot.slack.post_texts("#g_database_frameworks"))
    for channel in ("#g_database_frameworks", "#feature-flag-log"):
        assert "production check ignored" in safe_bot.slack.post_texts(channel)[-1], channel
    [entry] = await safe_bot.redis.xrevrange(f"{safe_bot.prefix}gprd:chatops:audit:{FLAG}", count=1)
    assert "ignored (--ignore-production-check) by u0sre" in entry[1]["checks"]
    assert safe_bot.outside is not None
    issues = safe_bot.outside.of("/issues")
    labels = [form["labels"] for method, _, _, form in issues if method == "POST"]
    assert "gitlab.com,change,Production check ignored" in labels


async def test_reducing_exposure_is_never_blocked(safe_bot: SafeBot) -> None:
    await safe_bot.text(f"run feature set {FLAG} 50 --actors --staging --production")
    safe_bot.fire("EverythingIsOnFire", "the site is down", severity="s1")
    kind, text = await safe_bot.text(f"run feature set {FLAG} 10 --actors --production")
    assert kind == "in_channel", text
    assert "production check skipped: the change only reduces exposure" in text
    kind, text = await safe_bot.text(f"run feature set {FLAG} false --production")
    assert kind == "in_channel" and "skipped: the change only reduces exposure" in text
    kind, text = await safe_bot.text(f"run feature set {FLAG} 20 --actors --production")
    assert kind == "ephemeral" and "EverythingIsOnFire" in text  # back up again: checked


async def test_unreachable_checks_fail_with_the_reason(
    tmp_path,
    redis_url,
    prefix,
    slack,
    outside,
    alertmanager,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    from types import SimpleNamespace

    import aiohttp

    from tests.bot.conftest import start_bot
    from tests.bot.safety.conftest import safety_config

    nowhere = SimpleNamespace(url="http://127.0.0.1:1")
    config = safety_config(tmp_path, redis_url, prefix, outside, nowhere, "unreachable")  # type: ignore[arg-type]
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        bot = SafeBot(url, slack, prefix, None, session)  # type: ignore[arg-type]
        kind, text = await bot.text(SET_PROD)
        assert kind == "ephemeral"
        assert "Alertmanager could not be reached" in text
    await runner.cleanup()
