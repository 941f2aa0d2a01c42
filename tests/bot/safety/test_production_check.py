"""The production check end to end over HTTP: a real Alertmanager blocks, and the interim notice is its own
ephemeral Slack response. The rules themselves are tested in tests/handlers/test_safety_rules.py."""

from __future__ import annotations

import time

from tests.bot.conftest import FLAG
from tests.bot.safety.conftest import SafeBot
from tests.helpers import keyspace

SET_PROD = f"run feature set {FLAG} true --staging --production"


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
