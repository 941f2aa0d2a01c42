"""Messages built by the in-process harness, as Slack's Block Kit and the dashboard's HTML render
them (the rendering lives in ``bot``, which the ``tests/handlers`` tier does not import)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from bot.dashboard_html import flag_html
from bot.slack_blocks import to_slack
from handlers.core.text_render import to_text
from handlers.dashboard.signin import Visitor
from handlers.dashboard.views import flag_page
from tests.handlers.conftest import FLAG, MakeChatops, chatops, clock, flag_code_repository
from tests.handlers.test_alert_post import FIRING, _buttons, _by_console, _change, _post
from tests.handlers.test_approval_card import _people
from tests.handlers.test_approvals import ACCESS, RAISE, SET

__all__ = ["chatops", "clock", "flag_code_repository"]  # the harness's fixtures, used here


async def test_changes_that_read_alike_are_told_apart_by_flag_then_time(chatops: MakeChatops) -> None:
    bot = await chatops()
    for value in ("true", "false", "true", "false"):  # on, off, on, off: two pairs alike
        await _change(bot, f"{FLAG} {value}", seconds=1)
    for value in ("true", "false"):  # the same moves on another flag in the same seconds
        await _by_console(bot, value, seconds=0)
    post = await _post(bot, replace(FIRING, starts_at=bot.clock.time()))
    labels = [b.label for b in _buttons(post)]
    assert len(labels) == 6 and len(set(labels)) == 6, labels
    assert all(len(label) <= 75 for label in labels)
    assert all(re.fullmatch(r"Undo on gprd: (on → off|off → on) \(.+\)", label) for label in labels), labels
    for rendered in to_slack(post):
        accessories = [b["accessory"]["text"]["text"] for b in rendered.blocks if "accessory" in b]
        assert not [b for b in rendered.blocks if b["type"] == "actions"]
        assert max(Counter(accessories).values()) == 1, accessories


async def test_long_states_are_cut_to_slacks_limits_and_many_changes_stay_one_message(chatops: MakeChatops) -> None:
    bot = await chatops()
    for n in range(24):
        await _by_console(bot, f"{n + 1} --actors", seconds=1)
    actors = ",".join(f"user-with-a-long-name-{n}" for n in range(5))
    await _change(bot, f"{FLAG} true --user={actors}")  # the newest: "actors: User:user-with-a-long-name-0, …"
    post = await _post(bot, replace(FIRING, starts_at=bot.clock.time()))
    buttons = _buttons(post)
    assert len(buttons) == 20 and len({b.label for b in buttons}) == 20
    assert all(len(b.label) <= 75 and b.confirm is not None and len(b.confirm.text) <= 300 for b in buttons)
    wide = buttons[0]
    assert wide.label.startswith("Undo on gprd: actors: User:user-with-a-long-name-0") and wide.label.endswith(" → off")
    assert "…" in wide.label and wide.confirm is not None
    assert wide.confirm.text.startswith(f"Set {FLAG} on gprd back to off, undoing the change to actors: "), wide.confirm
    assert "5 older changes have no button here: `/chatops run feature changes --since " in to_text(post)
    (message,) = to_slack(post)
    assert len(message.blocks) <= 50
    assert next(b["accessory"]["text"]["text"] for b in message.blocks if "accessory" in b) == wide.label


async def test_the_approver_is_recorded_apart_and_shown_by_history_and_the_dashboard(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    _people(bot, bob=("sre", "approvers"))
    assert (await bot.run(RAISE)).ok
    approved = await bot.run(":approve A1", user="bob", groups=("sre", "approvers"))
    assert approved.ok, approved.text
    (entry,) = await bot.app.stores["production"].history(FLAG, limit=5)
    assert (entry.who, entry.approved_by) == ("alice", "bob")
    assert (await bot.run(f"{SET} {FLAG} false --production")).ok  # lowering: nobody approves it
    history = await bot.run(f"/chatops run feature history {FLAG} --production")
    first, second = [entry for entry in history.text.split("\n") if entry.startswith("  v")]
    assert first.startswith("  v2 set to false by @alice at ") and "approved by" not in first, first
    assert second.startswith("  v1 set to true by @alice, approved by @bob at "), second
    page = await flag_page(bot.app, FLAG)
    assert page is not None
    html = flag_html(page, Visitor("U0ALICE", "alice"))
    assert '<th scope="col">Who</th><th scope="col">Approved by</th>' in html
    assert (
        "<td>alice</td><td>@bob</td><td>set to true</td>" in html and "<td>alice</td><td></td><td>set to false" in html
    )
    assert re.search(r'aria-label="gprd: off → on by alice, approved by bob at [^"]+"', html)  # the chart's mark too
