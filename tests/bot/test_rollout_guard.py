"""A real Alertmanager, configured with a webhook receiver pointing at the bot: an alert posted to
its API aborts a running rollout, the flag is back to its state before the rollout in Redis, and
Ruby's Flipper reads it so."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import FLAG, alerting_bot
from tests.bot.slack_stub import SlackStub, message_text
from tests.flags.flipper_oracle import FlipperOracle

pytestmark = pytest.mark.slow


async def test_an_alert_pushed_by_alertmanager_aborts_the_rollout(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    label = uuid.uuid4().hex[:8]

    def overrides(alertmanager_url: str) -> dict[str, Any]:
        return {
            "safety": {
                "production_check": {"alertmanager": {"url": alertmanager_url, "matchers": [f'test="{label}"']}},
                "rollout_min_every_seconds": 1,
                "rollout_guard_poll_seconds": 3600,  # only the push can abort it in time
            },
            "slack": {
                "production_channel": "#production",
                "log_channel": "#feature-flag-log",
                "security_channel": "#chatops-security",
                "oncall_usergroup": "S0ONCALL",
            },
        }

    flipper = FlipperOracle(redis_url)
    actors = [(FLAG, f"User:{i}") for i in range(200)]
    try:
        async with alerting_bot(tmp_path, redis_url, prefix, slack, monkeypatch, overrides) as (alertmanager, bot):
            client, session, url = bot.redis, bot.session, bot.url
            start = f"run feature rollout {FLAG} --steps 10,50,100 --every 1h --production"
            _, text = await bot.text(start + " --ignore-feature-flag-consistency-check")
            assert "Started R1 on gprd: its plan and progress are in the message posted in this channel" in text, text
            (card,) = [p for p in slack.posts("#production") if message_text(p).startswith("Rollout R1 of")]
            for _ in range(100):  # the driver writes step 1 at once
                if await client.hget(f"{prefix}gprd:{FLAG}", "percentage_of_actors") == "10":
                    break
                await asyncio.sleep(0.05)
            during = flipper.evaluate(f"{prefix}gprd:", actors)
            assert 0 < sum(during) < 200  # about 10% of actors
            fired_at = time.monotonic()
            alertmanager.fire({"alertname": "HighErrorRate", "test": label, "env": "gprd"}, "errors")
            for _ in range(200):
                if not await client.sismember(f"{prefix}gprd:flipper_features", FLAG) and not await client.exists(
                    f"{prefix}gprd:{FLAG}"
                ):
                    break
                await asyncio.sleep(0.05)
            took = time.monotonic() - fired_at
            await slack.wait_for(lambda: _aborted(slack), timeout=5)
            # While the alert fires, a new rollout under the same guard never writes a step: the driver
            # asks Alertmanager before each one (and so needs the application with its services)
            again = f"run feature rollout {FLAG} --steps 10,50 --every 1h --staging --guard='test=\"{label}\"'"
            _, text = await bot.text(again, channel="#development")
            assert "Started R2" in text, text
            for _ in range(100):
                if '"status": "aborted"' in str(await client.hget(f"{prefix}chatops:schedules", "R2")):
                    break
                await asyncio.sleep(0.05)
            assert not await client.exists(f"{prefix}gstg:{FLAG}")
            # Alertmanager repeats itself; a wrong token is refused
            async with session.post(
                f"{url}/webhooks/alertmanager", json={"alerts": []}, headers={"Authorization": "Bearer nope"}
            ) as refused:
                assert refused.status == 401
            assert took < 5, took
            assert flipper.evaluate(f"{prefix}gprd:", actors) == [False] * 200  # Ruby reads it as before the rollout
            (post, *_) = _aborted(slack)
            assert (
                f"Rollout R1 of `{FLAG}` aborted: alert HighErrorRate {{" in post and "(pushed by Alertmanager)" in post
            )
            assert "(pushed by Alertmanager) — <@U0SRE>, <!subteam^S0ONCALL>" in post  # the starter and on-call
            replies = [p for p in slack.posts("#production") if p.get("thread_ts") == card["_ts"]]
            assert len(replies) >= 2  # step 1, then the abort, in the thread of the rollout's message
            updates = [c.params for c in slack.calls if c.method == "chat.update" and c.params.get("ts") == card["_ts"]]
            assert updates and ": *aborted*" in message_text(updates[-1])  # the message says where it stands
            history = await client.xrevrange(f"{prefix}gprd:chatops:audit:{FLAG}", count=1)
            assert history[0][1]["command"].startswith("rollout R1 aborted: alert HighErrorRate")
    finally:
        flipper.close()


def _aborted(slack: SlackStub) -> list[str]:
    return [t for t in slack.post_texts("#production") if t.startswith("Rollout R1 of") and "aborted" in t]
