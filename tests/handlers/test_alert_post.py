"""The message an alert gets: the alert first (its summary, its links), then each flag change
just before it on its own line with its own Undo button, every label unlike the others and every
confirm naming the flag, the environment and the state it brings back; updated when it resolves."""

from __future__ import annotations

import re
from dataclasses import replace

from flags import AuditInfo, build_change
from handlers.core.alerts import Alert, alerts_arrived
from handlers.core.reply import Action, CrossPost, plain
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Chatops, MakeChatops

SET = "/chatops run feature set"
OTHER = "other_flag_one"
FIRING = Alert(
    "firing",
    {"alertname": "HighErrorRate", "env": "gprd", "severity": "s1"},
    "fp-errors",
    {"summary": "Error rate above 5% on the API", "description": "5xx answers are 7.2% of all in the last 5 min."},
    "https://prometheus.example.com/graph?g0.expr=errors",
    "https://alertmanager.example.com",
    1_800_000_000.0,
)


def _buttons(post: CrossPost) -> list[Action]:
    return [s.button for s in post.sections if s.button is not None]


async def _change(bot: Chatops, text: str, seconds: float = 5) -> None:
    answer = await bot.run(f"{SET} {text} --production --ignore-feature-flag-consistency-check")
    assert answer.ok, answer.text
    bot.clock.advance(seconds)


async def _by_console(bot: Chatops, value: str, seconds: float = 5) -> None:
    """A change of another flag by another writer (a console): in the audit stream like any."""
    percentage = value.endswith(" --actors")
    change = build_change(value.split()[0], percentage_of="actors" if percentage else None)
    await bot.app.stores["production"].apply(OTHER, change, AuditInfo(who="carol", channel="rails console"))
    bot.clock.advance(seconds)


async def _post(bot: Chatops, alert: Alert) -> CrossPost:
    chat = ShellBackend("chatops", frozenset())
    await alerts_arrived(bot.app, chat, [alert])
    (post,) = chat.posted
    return post


async def test_the_alert_leads_then_each_change_has_its_own_undo_button(chatops: MakeChatops) -> None:
    bot = await chatops()
    alert = replace(FIRING, starts_at=bot.clock.time() + 60)
    for value in ("10 --actors", "25 --actors", "false", "25 --actors"):  # four changes of one flag
        await _change(bot, f"{FLAG} {value}")
    await _by_console(bot, "25 --actors")  # another flag, moved as the last one was
    post = await _post(bot, alert)
    text = to_text(post)
    first, facts, description, intro, *_ = text.split("\n")
    assert first == ":rotating_light: HighErrorRate on gprd is firing: Error rate above 5% on the API", text
    assert facts.startswith("  Fired at ") and "Source (https://prometheus.example.com/graph?g0.expr=errors)" in facts
    assert "Alertmanager (https://alertmanager.example.com/#/alerts?filter=%7Balertname%3D%22HighErrorRate" in facts
    assert facts.endswith('Labels: severity="s1"'), facts
    assert description == "  5xx answers are 7.2% of all in the last 5 min."
    assert intro.startswith("  Flag changes on gprd since ") and intro.endswith("before it fired), newest first:")
    buttons = _buttons(post)
    assert len(buttons) == 5 and not post.actions  # beside each change, not in a row of their own
    labels = [b.label for b in buttons]
    assert labels == [
        f"Undo on gprd: 25% of actors → off ({OTHER})",
        f"Undo on gprd: 25% of actors → off ({FLAG[:25]}…)",
        "Undo on gprd: off → 25% of actors",
        "Undo on gprd: 25% of actors → 10% of actors",
        "Undo on gprd: 10% of actors → off",
    ], labels
    for section, button in zip(post.sections[1:], buttons, strict=True):
        (change,) = section.lines
        assert len(button.label) <= 75 and button.value.startswith("production|")
        confirm = button.confirm
        assert confirm is not None and len(confirm.text) <= 300 and button.style == "danger"
        name = button.value.split("|")[1]
        back_to = button.label.split(" → ")[1].split(" (")[0]
        assert confirm.text.startswith(f"Set {name} on gprd back to {back_to}, undoing the change to "), confirm.text
        assert confirm.title == "Undo on gprd?" and confirm.confirm == f"Set gprd to {back_to}", confirm
        assert plain(change).startswith(f"{name} {back_to} → "), plain(change)  # the line beside it
    undone = await bot.run(f":rollback {buttons[1].value}")  # the newest change of the flag
    assert undone.ok and await bot.gates("production") == {}, undone.text


async def test_the_message_says_at_the_top_once_the_alert_resolved(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _change(bot, f"{FLAG} 25 --actors")
    chat = ShellBackend("chatops", frozenset())
    alert = replace(FIRING, starts_at=bot.clock.time())
    await alerts_arrived(bot.app, chat, [alert])
    kept = await bot.redis.hget(f"{bot.prefix}chatops:alert_posts", alert.fingerprint)
    bot.clock.advance(30)
    resolved = Alert("resolved", alert.labels, alert.fingerprint, ends_at=bot.clock.time())  # says nothing else
    await alerts_arrived(bot.app, chat, [resolved])
    fired, updated = chat.posted
    assert not fired.replaces and updated.replaces and updated.replaces in str(kept)
    first = to_text(updated).split("\n")[0]
    assert re.fullmatch(
        r":white_check_mark: HighErrorRate on gprd resolved at \d\d:\d\d:\d\d UTC: Error rate above 5% on the API",
        first,
    ), first
    assert "Source (https://prometheus.example.com/" in to_text(updated)  # remembered from when it fired
    assert [b.label for b in _buttons(updated)] == ["Undo on gprd: 25% of actors → off"]
    assert await bot.redis.hlen(f"{bot.prefix}chatops:alert_posts") == 0


async def test_a_message_kept_before_the_alert_was_remembered_is_still_updated(chatops: MakeChatops) -> None:
    bot = await chatops()
    await bot.redis.hset(f"{bot.prefix}chatops:alert_posts", "fp-errors", "C0PROD|1700000000.000100")
    chat = ShellBackend("chatops", frozenset())
    await alerts_arrived(bot.app, chat, [Alert("resolved", FIRING.labels, "fp-errors")])
    (updated,) = chat.posted
    assert updated.replaces == "C0PROD|1700000000.000100"
    assert to_text(updated).startswith(":white_check_mark: HighErrorRate on gprd resolved at ")
