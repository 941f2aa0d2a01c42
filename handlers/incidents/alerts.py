"""Alerts pushed by Alertmanager's webhook: they abort guarded rollouts, and freeze changes while
an alert matching ``incident.freeze_matchers`` fires (lifted when it resolves)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from handlers.checks.matchers import InvalidMatcher, matches
from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application, Caller, Context
from handlers.core.reply import Action, CrossPost, Line, Section, Strong, line
from handlers.core.timefmt import span
from handlers.freezes.store import Freeze
from handlers.incidents.changes import MAX_BUTTONS, recent_changes
from handlers.rollouts.guard import alerts_pushed

__all__ = ["Alert", "alerts_arrived"]

_log = structlog.get_logger("chatops.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    status: str  # "firing" or "resolved"
    labels: dict[str, str]
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed alert")


async def alerts_arrived(app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
    """Act on one notification; what was done, for the webhook's answer."""
    firing = [a for a in alerts if a.status == "firing"]
    aborted = await alerts_pushed(app, chat, [a.labels for a in firing])
    frozen, lifted = await _freezes(app, alerts)
    posted = [await _recent_changes_post(app, chat, a) for a in alerts]
    return {
        "firing": len(firing),
        "aborted": aborted,
        "frozen": frozen,
        "unfrozen": lifted,
        "posted": [p for p in posted if p],
    }


async def _recent_changes_post(app: Application, chat: ChatBackend, alert: Alert) -> str:
    """For an alert on a configured environment: one message with the flag changes just before it,
    each with a Roll back button; updated (not posted again) when it repeats or resolves."""
    environment = next((e for e in app.config.environments if e.name == alert.labels.get("env")), None)
    if environment is None or app.schedules is None:
        return ""
    incident = app.config.incident
    posts_key = f"{app.schedules.prefix}chatops:alert_posts"
    client = app.schedules.client
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


async def _freezes(app: Application, alerts: Sequence[Alert]) -> tuple[list[str], list[str]]:
    store, matchers = app.freezes, app.config.incident.freeze_matchers
    if store is None or not matchers:
        return [], []
    frozen: list[str] = []
    lifted: list[str] = []
    for alert in alerts:
        try:
            if not matches(matchers, alert.labels):
                continue
        except InvalidMatcher as error:
            _log.error("alerts.invalid_freeze_matcher", error=str(error))
            return [], []
        named = [e for e in app.config.environments if e.name == alert.labels.get("env")]
        options = [e.option for e in (named or app.config.environments)]
        source = f"alert:{alert.fingerprint or alert.name}"
        if alert.status == "firing":
            for option in options:
                await store.put(Freeze(option, source, f"alert {alert.name} is firing", alert.name, time.time()))
            frozen += options
            _log.warning("alerts.frozen", alert=alert.name, environments=options)
        else:
            if await store.lift(options, source):
                lifted += options
                _log.info("alerts.unfrozen", alert=alert.name, environments=options)
    return frozen, lifted
