"""Alerts pushed by Alertmanager's webhook: each one on a configured environment gets a message
with the flag changes just before it, each with a Roll back button (updated, not posted again,
when it repeats or resolves)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog

from handlers.core.alerts import Alert
from handlers.core.caller import Caller
from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application, Context
from handlers.core.reply import Action, CrossPost, Line, Section, Strong, line
from handlers.core.timefmt import span
from handlers.incidents.changes import MAX_BUTTONS, recent_changes

__all__ = ["RecentChanges"]

_log = structlog.get_logger("chatops.alerts")


class RecentChanges:
    """An alert on a configured environment gets one message with the flag changes just before it."""

    async def alerts_arrived(self, app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
        posted = [await _recent_changes_post(app, chat, a) for a in alerts]
        return {"posted": [p for p in posted if p]}


async def _recent_changes_post(app: Application, chat: ChatBackend, alert: Alert) -> str:
    """For an alert on a configured environment: one message with the flag changes just before it,
    each with a Roll back button; updated (not posted again) when it repeats or resolves."""
    environment = next((e for e in app.config.environments if e.name == alert.labels.get("env")), None)
    client = app.redis
    if environment is None or client is None:
        return ""
    incident = app.config.incident
    posts_key = f"{app.config.redis_prefix}chatops:alert_posts"
    key = alert.fingerprint or alert.name
    earlier: Any = await client.hget(posts_key, key)
    if alert.status != "firing" and not earlier:
        return ""
    context = Context(app, Caller("chatops", "chatops", "", ""), chat)
    found = await recent_changes(context, environment, time.time() - incident.lookback_seconds)
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(alert.labels.items()) if k != "alertname")
    state = "is firing" if alert.status == "firing" else "resolved"
    title = line(
        ":rotating_light: " if alert.status == "firing" else ":white_check_mark: ",
        Strong(f"Alert {alert.name}"),
        f" {{{labels}}} {state} on {environment.name}",
    )
    window = span(incident.lookback_seconds)
    if isinstance(found, str):
        lines: list[Line] = [line(f"The recent flag changes are unknown: {found}.")]
        actions: list[Action] = []
    else:
        lines, actions = found
        if not lines and not incident.post_without_changes and not earlier:
            return ""
        lines = (
            [line(f"Flag changes on {environment.name} in the {window} before, newest first:"), *lines]
            if lines
            else [line(f"No flag changes on {environment.name} in the last {window}.")]
        )
    channel = incident.alert_channel or app.config.slack.production_channel
    post = CrossPost(
        channel,
        "alert",
        (Section(tuple(lines), title),),
        f"alert {alert.name} {state} on {environment.name}",
        tuple(actions[:MAX_BUTTONS]),
        replaces=str(earlier or ""),
    )
    try:
        reference = await chat.post(post)
    except PostFailed as error:
        _log.error("alerts.post_failed", alert=alert.name, error=str(error)[:200])
        return ""
    if alert.status == "firing":
        await client.hset(posts_key, key, reference)
    else:
        await client.hdel(posts_key, key)
    return reference
