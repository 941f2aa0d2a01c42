"""The Roll back button over HTTP: Block Kit buttons with confirm dialogs, signed block_actions clicks, the
click's channel and user from Slack's payload. What a roll back does: tests/handlers/test_change_engine.py."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from tests.bot.conftest import FLAG, signed_headers
from tests.bot.safety.conftest import SafeBot, rollback_values
from tests.helpers import keyspace


async def change_with_buttons(bot: SafeBot, text: str, channel: str = "#production") -> dict[str, str]:
    message = await bot.command(text, channel=channel)
    assert message["response_type"] == "in_channel"
    return rollback_values(message)


async def test_roll_back_restores_the_state_before_that_change(safe_bot: SafeBot) -> None:
    await safe_bot.text(f"run feature set {FLAG} 25 --actors --staging", channel="#development")
    message = await safe_bot.command(f"run feature set {FLAG} true --staging", channel="#development")
    buttons = rollback_values(message)
    assert list(buttons) == ["Undo on gstg: on → 25% of actors"]
    [button] = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["style"]) == ("rollback", "danger")
    assert button["confirm"] == {
        "title": {"type": "plain_text", "text": "Undo on gstg?"},
        "text": {
            "type": "mrkdwn",
            "text": f"{FLAG} on gstg goes back to 25% of actors (it is on now), if nobody changed it since.",
        },
        "confirm": {"type": "plain_text", "text": "Set gstg to 25% of actors"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    kind, text = await safe_bot.click_answer(buttons["Undo on gstg: on → 25% of actors"], channel="#development")
    assert kind == "in_channel", text
    assert f"*Rolled back*: `{FLAG}` on gstg by <@U0SRE>\n*gstg*: `on` → `25% of actors`" in text
    assert await safe_bot.redis.hgetall(f"{safe_bot.prefix}gstg:{FLAG}") == {"percentage_of_actors": "25"}
    [entry] = await safe_bot.redis.xrevrange(f"{safe_bot.prefix}gstg:chatops:audit:{FLAG}", count=1)
    assert entry[1]["command"].startswith("Roll back button on change ")
    await safe_bot.slack.wait_for(lambda: len(safe_bot.slack.post_texts("#feature-flag-log")) == 3)
    assert f"*Rolled back*: `{FLAG}` on gstg" in safe_bot.slack.post_texts("#feature-flag-log")[-1]


async def test_the_click_obeys_channel_rules_and_permissions(safe_bot: SafeBot) -> None:
    buttons = await change_with_buttons(safe_bot, f"run feature set {FLAG} true --staging --production")
    before = await keyspace(safe_bot.redis, safe_bot.prefix)
    kind, text = await safe_bot.click_answer(buttons["Undo on gprd: on → off"], channel="#random")
    assert kind == "ephemeral" and "may only run in #production" in text
    kind, text = await safe_bot.click_answer(buttons["Undo on gprd: on → off"], user="U0DEV")
    assert kind == "ephemeral" and "This action is not allowed" in text
    assert await keyspace(safe_bot.redis, safe_bot.prefix) == before
    await safe_bot.slack.wait_for(lambda: len(safe_bot.slack.post_texts("#chatops-security")) == 2)
    # an on-call SRE in #production may: the roll back of an enable only reduces exposure
    safe_bot.fire("HighWebErrorRate", severity="s1")
    kind, text = await safe_bot.click_answer(buttons["Undo on gprd: on → off"])
    assert kind == "in_channel" and f"*Rolled back*: `{FLAG}` on gprd" in text, text


async def test_forged_and_replayed_clicks_are_refused(safe_bot: SafeBot) -> None:
    buttons = await change_with_buttons(safe_bot, f"run feature set {FLAG} true --staging", "#development")
    value = buttons["Undo on gstg: on → off"]
    option, name, _ = value.split("|")
    before = await keyspace(safe_bot.redis, safe_bot.prefix)
    # a signed click with a forged value (the full list: tests/handlers/test_change_engine.py)
    kind, text = await safe_bot.click_answer(f"{option}|{name}|1-0", channel="#development")
    assert kind == "ephemeral" and "does not point at a change recorded for this flag" in text
    # bad signature, stale timestamp: 401 and nothing runs
    body = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": "U0SRE"},
                    "channel": {"id": "C0DEV", "name": "development"},
                    "actions": [{"action_id": "rollback", "value": value}],
                    "response_url": f"{safe_bot.slack.url}/respond/x",
                }
            )
        }
    )
    for headers in (signed_headers(body, secret="forged"), signed_headers(body, timestamp=int(time.time()) - 600)):
        async with safe_bot.session.post(f"{safe_bot.url}/slack/events", data=body, headers=headers) as response:
            assert response.status == 401
    assert not safe_bot.slack.responses.get("x")
    assert await keyspace(safe_bot.redis, safe_bot.prefix) == before
