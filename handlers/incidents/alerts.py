"""Alerts pushed by Alertmanager's webhook: each one on a configured environment gets a message
that leads with the alert (its summary and link), then the flag changes just before it, each on
its own line with its own Undo button; the message is updated, not posted again, when the alert
repeats or resolves (then it says so at the top)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog

from flags import AuditEntry
from handlers.config import Config, Environment
from handlers.core.alerts import Alert
from handlers.core.caller import Caller
from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application, Context
from handlers.core.reply import Code, CrossPost, Line, Link, Section, Segment, Strong, line
from handlers.core.timefmt import span
from handlers.core.wording import shortened
from handlers.incidents.changes import MAX_BUTTONS, change_line, recent_changes, undo_buttons

__all__ = ["RecentChanges", "alert_post"]

_log = structlog.get_logger("chatops.alerts")
_DESCRIPTION_MAX = 500


class RecentChanges:
    """An alert on a configured environment gets one message with the flag changes just before it."""

    async def alerts_arrived(self, app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
        posted = [await _recent_changes_post(app, chat, a) for a in alerts]
        return {"posted": [p for p in posted if p]}


@dataclass(frozen=True, slots=True)
class _Kept:
    """What the bot's Redis keeps of an alert's message while the alert fires: the message to
    update, where its list of changes starts, and what the alert said of itself when it fired (a
    resolution may come without it)."""

    post: str
    since: float = 0.0
    annotations: dict[str, str] = field(default_factory=dict)
    source_url: str = ""
    alertmanager_url: str = ""
    starts_at: float = 0.0

    def to_json(self) -> str:
        fields = ("post", "since", "annotations", "source_url", "alertmanager_url", "starts_at")
        return json.dumps({name: getattr(self, name) for name in fields})

    @classmethod
    def read(cls, text: str) -> _Kept:
        """As kept; a message kept before more was (only its reference) reads as that."""
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(post=text)
        notes = data.get("annotations")
        return cls(
            post=str(data.get("post", "")),
            since=float(data.get("since") or 0.0),
            annotations={str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {},
            source_url=str(data.get("source_url", "")),
            alertmanager_url=str(data.get("alertmanager_url", "")),
            starts_at=float(data.get("starts_at") or 0.0),
        )

    def completes(self, alert: Alert) -> Alert:
        """The alert, with what it said when it fired where it says nothing now."""
        return replace(
            alert,
            annotations=alert.annotations or self.annotations,
            source_url=alert.source_url or self.source_url,
            alertmanager_url=alert.alertmanager_url or self.alertmanager_url,
            starts_at=alert.starts_at or self.starts_at,
        )


async def _recent_changes_post(app: Application, chat: ChatBackend, alert: Alert) -> str:
    """For an alert on a configured environment: its message (posted, or updated when it repeats
    or resolves); the message's reference, or "" when none was posted."""
    environment = next((e for e in app.config.environments if e.name == alert.labels.get("env")), None)
    client = app.redis
    if environment is None or client is None:
        return ""
    incident = app.config.incident
    posts_key = f"{app.config.redis_prefix}chatops:alert_posts"
    key = alert.fingerprint or alert.name
    earlier: Any = await client.hget(posts_key, key)
    kept = _Kept.read(str(earlier)) if earlier else None
    if alert.status != "firing" and kept is None:
        return ""
    alert = kept.completes(alert) if kept is not None else alert
    since = (
        kept.since if kept is not None and kept.since else (alert.starts_at or time.time()) - incident.lookback_seconds
    )
    context = Context(app, Caller("chatops", "chatops", "", ""), chat)
    found = await recent_changes(context, environment, since)
    if not found and not incident.post_without_changes and kept is None:
        return ""
    post = replace(alert_post(alert, environment, found, since, app.config), replaces=kept.post if kept else "")
    try:
        reference = await chat.post(post)
    except PostFailed as error:
        _log.error("alerts.post_failed", alert=alert.name, error=str(error)[:200])
        return ""
    if alert.status == "firing":
        remembered = _Kept(
            reference, since, alert.annotations, alert.source_url, alert.alertmanager_url, alert.starts_at
        )
        await client.hset(posts_key, key, remembered.to_json())
    else:
        await client.hdel(posts_key, key)
    return reference


def alert_post(
    alert: Alert, environment: Environment, found: list[AuditEntry] | str, since: float, config: Config
) -> CrossPost:
    """The alert first (what it says, where to look), then the flag changes on its environment since
    ``since``, newest first, each its own section with its own Undo button beside it."""
    now = time.time()
    channel = config.incident.alert_channel or config.slack.production_channel
    state = "is firing" if alert.status == "firing" else f"resolved at {_clock(alert.ends_at or now)}"
    header = _header(alert, environment, state)
    started = alert.starts_at or now
    window = f"since {_clock(since)} ({span(started - since)} before it fired)"
    summary = f"{alert.name} on {environment.name} {state}" + (f": {alert.summary}" if alert.summary else "")
    if isinstance(found, str):
        lines = (*header.lines, line(f"The recent flag changes are unknown: {found}."))
        return CrossPost(channel, "alert", (replace(header, lines=lines),), summary)
    if not found:
        lines = (*header.lines, line(f"No flag changes on {environment.name} {window}."))
        return CrossPost(channel, "alert", (replace(header, lines=lines),), summary)
    intro = line(f"Flag changes on {environment.name} {window}, newest first:")
    shown = found[:MAX_BUTTONS]
    buttons = undo_buttons([(e, environment) for e in shown], now)
    sections = [
        replace(header, lines=(*header.lines, intro)),
        *(Section((change_line(e, now, config),), button=b) for e, b in zip(shown, buttons, strict=True)),
    ]
    rest = found[MAX_BUTTONS:]
    if rest:
        listing = line(
            f"{len(rest)} older changes have no button here: ",
            Code(f"/chatops run feature changes --since {math.ceil((now - since) / 60)}m --{environment.option}"),
            " lists them all.",
        )
        sections.append(Section((listing,)))
    return CrossPost(channel, "alert", tuple(sections), summary)


def _header(alert: Alert, environment: Environment, state: str) -> Section:
    """``:rotating_light: *HighErrorRate is firing on gprd*: error rate above 5%``, then when it
    fired, its links and its other labels, then its description."""
    icon = ":rotating_light: " if alert.status == "firing" else ":white_check_mark: "
    title = line(icon, Strong(f"{alert.name} on {environment.name} {state}"))
    if alert.summary:
        title += line(f": {shortened(alert.summary, _DESCRIPTION_MAX)}")
    facts: list[Segment] = [f"Fired at {_clock(alert.starts_at)}"] if alert.starts_at else []
    if alert.source_url:
        facts.append(Link(alert.source_url, "Source"))
    if alert.alertmanager_url:
        facts.append(Link(_in_alertmanager(alert), "Alertmanager"))
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(alert.labels.items()) if k not in ("alertname", "env"))
    if labels:
        facts.append(f"Labels: {labels}")
    lines: list[Line] = []
    if facts:
        joined: list[Segment] = [facts[0]]
        for fact in facts[1:]:
            joined += [" · ", fact]
        lines.append(line(*joined))
    description = alert.annotations.get("description", "").strip()
    if description and description != alert.summary:
        lines.append(line(shortened(description, _DESCRIPTION_MAX)))
    return Section(tuple(lines), title)


def _in_alertmanager(alert: Alert) -> str:
    """Alertmanager's page of this alert (its alerts filtered by every label)."""
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(alert.labels.items()))
    return f"{alert.alertmanager_url.rstrip('/')}/#/alerts?filter={quote('{' + matchers + '}', safe='')}"


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M:%S UTC")
