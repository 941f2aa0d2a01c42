"""Over signed HTTP, as Slack sends them: a rollout abort, a kill, a time box running out and a
Roll back click each reach the log channel; a kill during a rollout updates the rollout's message
(no live Pause or Next step button left) and says so in its thread; a rollout button answers one
line, only to the person who pressed it."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import urlencode

from tests.bot.conftest import CHANNELS, FLAG, BotUnderTest, signed_headers
from tests.bot.slack_stub import message_text

D = "#development"
LOG = "#feature-flag-log"
DEV = "U0DEV"  # anyone may change gstg, in any channel (the example's access rules)


async def _click(bot: BotUnderTest, action_id: str, value: str, *, user: str = DEV, channel: str = D) -> dict[str, Any]:
    """A signed block_actions payload, as Slack sends a button click; the answer on its response_url."""
    response_id = f"click-{uuid.uuid4().hex[:8]}"
    channel_id = CHANNELS[channel.lstrip("#")]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0APP",
        "channel": {"id": channel_id, "name": channel.lstrip("#")},
        "container": {"type": "message", "message_ts": "1.0", "channel_id": channel_id},
        "response_url": f"{bot.slack.url}/respond/{response_id}",
        "trigger_id": "1.2.3",
        "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=signed_headers(body)) as response:
        assert response.status == 200
    await bot.slack.wait_for(lambda: bot.slack.responses.get(response_id), timeout=10)
    return bot.slack.responses[response_id][0]


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    """A message's buttons: action_id → value."""
    return {
        e["action_id"]: e["value"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for e in block["elements"]
    }


def _logged(bot: BotUnderTest, *words: str) -> list[str]:
    return [text for text in bot.slack.post_texts(LOG) if all(w in text for w in words)]


async def _rollout_with_a_step(bot: BotUnderTest) -> dict[str, Any]:
    """A rollout of the flag on gstg, its first step written; its message in #development."""
    kind, text = await bot.text(f"run feature rollout {FLAG} --steps 10,50 --every 1h --staging", user=DEV, channel=D)
    assert kind == "ephemeral" and "Started R1 on gstg" in text, text
    for _ in range(200):  # the driver writes step 1 at once
        if await bot.redis.hget(f"{bot.prefix}gstg:{FLAG}", "percentage_of_actors") == "10":
            break
        await asyncio.sleep(0.05)
    await bot.slack.wait_for(lambda: _logged(bot, "(rollout R1 step 1/2)"))
    (card,) = [p for p in bot.slack.posts(D) if message_text(p).startswith("Rollout R1 of")]
    return card


def _latest_update(bot: BotUnderTest, card: dict[str, Any]) -> dict[str, Any]:
    updates = [c.params for c in bot.slack.calls if c.method == "chat.update" and c.params.get("ts") == card["_ts"]]
    assert updates, "the rollout's message was never updated"
    return updates[-1]


def _in_thread(bot: BotUnderTest, card: dict[str, Any]) -> list[str]:
    return [message_text(p) for p in bot.slack.posts(D) if p.get("thread_ts") == card["_ts"]]


async def test_a_rollout_abort_clicked_reaches_the_log_channel(bot: BotUnderTest) -> None:
    card = await _rollout_with_a_step(bot)
    assert set(_buttons(card)) == {"rollout_pause", "rollout_next", "rollout_abort"}  # no Resume while it runs
    paused = await _click(bot, "rollout_pause", "R1")
    assert (paused.get("response_type"), message_text(paused)) == ("ephemeral", "Paused R1.")  # not a second copy
    await bot.slack.wait_for(lambda: ": *paused*" in message_text(_latest_update(bot, card)))
    assert set(_buttons(_latest_update(bot, card))) == {"rollout_resume", "rollout_abort"}
    aborted = await _click(bot, "rollout_abort", "R1")
    assert (aborted.get("response_type"), message_text(aborted)) == ("ephemeral", "Aborted R1.")
    assert await bot.redis.hgetall(f"{bot.prefix}gstg:{FLAG}") == {}
    await bot.slack.wait_for(lambda: _logged(bot, "rollout R1 aborted: by u0dev", "gstg"))  # the restore is told
    await bot.slack.wait_for(lambda: ": *aborted*" in message_text(_latest_update(bot, card)))
    assert _buttons(_latest_update(bot, card)) == {}  # none once aborted


async def test_a_kill_during_a_rollout_reaches_the_log_channel_and_the_rollout_message(bot: BotUnderTest) -> None:
    card = await _rollout_with_a_step(bot)
    kind, text = await bot.text(f'run feature kill {FLAG} --staging --reason "errors"', user=DEV, channel=D)
    assert kind == "in_channel" and "Rollout R1 of" in text and "is paused" in text, text
    assert await bot.redis.hgetall(f"{bot.prefix}gstg:{FLAG}") == {}
    await bot.slack.wait_for(lambda: _logged(bot, f"run feature kill {FLAG} --staging", "gstg"))
    await bot.slack.wait_for(lambda: ": *paused*" in message_text(_latest_update(bot, card)))
    assert set(_buttons(_latest_update(bot, card))) == {"rollout_resume", "rollout_abort"}  # no Pause, no Next step
    await bot.slack.wait_for(lambda: any("paused: the flag was killed by u0dev" in t for t in _in_thread(bot, card)))


async def test_a_time_box_running_out_reaches_the_log_channel(bot: BotUnderTest) -> None:
    kind, text = await bot.text(f"run feature set {FLAG} true --staging --for 1s", user=DEV, channel=D)
    assert kind == "in_channel", text
    await bot.slack.wait_for(lambda: len(_logged(bot, FLAG)) == 1)
    await bot.slack.wait_for(lambda: _logged(bot, "Roll back button on change", "(schedule S1)", "gstg"), timeout=10)
    assert await bot.redis.hgetall(f"{bot.prefix}gstg:{FLAG}") == {}


async def test_a_roll_back_click_reaches_the_log_channel(bot: BotUnderTest) -> None:
    message = await bot.command(f"run feature set {FLAG} true --staging", user=DEV, channel=D)
    (value,) = _buttons(message).values()
    await bot.slack.wait_for(lambda: len(_logged(bot, FLAG)) == 1)
    rolled_back = await _click(bot, "rollback", value, user="U0OTHER")
    assert rolled_back.get("response_type") == "in_channel", message_text(rolled_back)
    await bot.slack.wait_for(lambda: _logged(bot, "Roll back button on change", "gstg"))
    assert await bot.redis.hgetall(f"{bot.prefix}gstg:{FLAG}") == {}
