"""A real Alertmanager with a webhook receiver at the bot: an alert labelled
blocks_feature_flags="true" freezes changes that raise exposure while it fires, and its
resolution lifts the freeze; an alert on an environment gets the flag changes just before it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import FLAG, alerting_bot
from tests.bot.slack_stub import SlackStub, message_text

pytestmark = pytest.mark.slow


async def test_a_blocking_alert_freezes_until_it_resolves(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = {"alertname": "PatroniDown", "env": "gstg", "blocks_feature_flags": "true"}
    async with alerting_bot(tmp_path, redis_url, prefix, slack, monkeypatch) as (alertmanager, bot):
        _, before = await bot.text(f"run feature set {FLAG} 50 --actors --staging", channel="#development")
        assert f"*Set to 50% of actors*: `{FLAG}` on gstg" in before  # something to reduce during the freeze
        alertmanager.fire(labels, "database down")
        for _ in range(100):  # Alertmanager tells the bot within its group_wait
            if await bot.redis.hlen(f"{prefix}chatops:freezes"):
                break
            await asyncio.sleep(0.05)
        _, refused = await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
        assert "This change raises exposure during a change freeze: gstg is frozen since " in refused, refused
        assert "by PatroniDown: alert PatroniDown is firing" in refused
        _, lowered = await bot.text(f"run feature set {FLAG} false --staging", channel="#development")
        assert f"*Disabled*: `{FLAG}` on gstg" in lowered  # reducing exposure still works
        _, elsewhere = await bot.text(f"run feature set {FLAG} true --dev", channel="#development")
        assert f"*Enabled*: `{FLAG}` on dev" in elsewhere  # only the alert's environment is frozen
        _, status = await bot.text("run freeze status", channel="#random")
        assert "gstg is frozen since" in status
        alertmanager.resolve(labels)
        for _ in range(200):
            if not await bot.redis.hlen(f"{prefix}chatops:freezes"):
                break
            await asyncio.sleep(0.05)
        _, allowed = await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
        assert f"*Enabled*: `{FLAG}` on gstg" in allowed, allowed


async def test_an_alert_gets_the_flag_changes_just_before_it(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = {"alertname": "HighErrorRate", "env": "gstg", "severity": "s2"}
    async with alerting_bot(tmp_path, redis_url, prefix, slack, monkeypatch) as (alertmanager, bot):
        for value in ("50 --actors", "false", "50 --actors"):  # the first and last read alike
            _, text = await bot.text(f"run feature set {FLAG} {value} --staging", channel="#development")
            assert "on gstg" in text, text
        alertmanager.fire(labels, "errors above 5%", "https://prometheus.example.com/graph?g0.expr=errors")
        await slack.wait_for(lambda: _alert_posts(slack), timeout=10)
        (post,) = _alert_posts(slack)
        body = message_text(post)
        assert body.startswith(":rotating_light: *HighErrorRate on gstg is firing*: errors above 5%"), body
        assert re.search(
            r"\nFired at \d\d:\d\d:\d\d UTC · <https://prometheus\.example\.com/graph\?g0\.expr=errors\|Source>", body
        )
        assert re.search(r"<http[^|>]+/#/alerts\?filter=%7Balertname%3D%22HighErrorRate%22[^|>]*\|Alertmanager>", body)
        assert f"`{FLAG}` off → 50% of actors by <@U0SRE> " in body
        blocks = post.get("blocks", [])
        assert not [b for b in blocks if b.get("type") == "actions"]  # no row of buttons apart from the changes
        buttons = [b["accessory"] for b in blocks if b.get("type") == "section" and "accessory" in b]
        labels_shown = [b["text"]["text"] for b in buttons]
        assert len(buttons) == 3 and len(set(labels_shown)) == 3, labels_shown
        assert labels_shown[1] == "Undo on gstg: off → 50% of actors", labels_shown
        assert all(b["type"] == "button" and len(b["text"]["text"]) <= 75 for b in buttons)
        assert all(b["value"].startswith(f"staging|{FLAG}|") for b in buttons)  # the roll back path
        confirm = buttons[0]["confirm"]
        assert confirm["text"]["text"].startswith(f"Set {FLAG} on gstg back to off, undoing the change to 50% of")
        alertmanager.resolve(labels)

        def resolved() -> bool:
            updates = [c.params for c in slack.calls if c.method == "chat.update" and c.params.get("ts") == post["_ts"]]
            return any(
                message_text(u).startswith(":white_check_mark: *HighErrorRate on gstg resolved at ") for u in updates
            )

        await slack.wait_for(resolved, timeout=10)
        assert len(_alert_posts(slack)) == 1  # updated, not posted again


def _alert_posts(slack: SlackStub) -> list[dict[str, Any]]:
    return [p for p in slack.posts("#production") if message_text(p).startswith(":rotating_light: *HighErrorRate on ")]
