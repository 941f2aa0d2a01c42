"""What a subscription's channel (or person) reads of an event: the log channel's design — what
happened in plain words, where, by whom, before → after — with the change's Undo button where that
channel may change the environment (a direct message only where anyone may), and how to unsubscribe."""

from __future__ import annotations

from typing import Any

from handlers.changes.telling import undo_action
from handlers.config import Config
from handlers.core.reply import Action, Code, CrossPost, Line, Mention, Section, Strong, line
from handlers.subscriptions.store import Subscription

__all__ = ["subscription_post"]

_HEADLINES = {
    "change": "Changed",
    "kill": "Killed",
    "rollback": "Rolled back",
    "rollout.aborted": "Rollout aborted",
    "freeze.on": "Frozen",
    "freeze.off": "Freeze lifted",
}


def _title(event: dict[str, Any]) -> Line:
    kind, where = str(event["type"]), str(event["environment"])
    by = event["by"]
    who: Line = (Mention(by["user_id"], by["name"]),) if by.get("user_id") else (str(by.get("name") or "an alert"),)
    headline = _HEADLINES.get(kind, kind)
    if kind == "change" and event.get("after"):
        headline = "Deleted" if event["after"] == "deleted" else f"Set to {event['after']}"
    rollout = event.get("rollout") or {}
    if kind == "change" and rollout.get("step"):
        headline = f"Rollout {rollout['id']} step {rollout['step']}: {event.get('after')}"
    if kind.startswith("freeze."):
        return line(Strong(headline), f": {where} by ", *who)
    channel = f" in {event['channel']}" if event.get("channel") else ""
    return line(Strong(headline), ": ", Code(str(event["flag"])), f" on {where} by ", *who, channel)


def _lines(event: dict[str, Any]) -> tuple[Line, ...]:
    lines: list[Line] = []
    if event.get("reason"):
        lines.append(line(f"Reason: {event['reason']}"))
    if event.get("before") is not None and event.get("after") is not None:
        lines.append(line(f"{event['environment']}: ", Code(str(event["before"])), " → ", Code(str(event["after"]))))
    return tuple(lines)


def _undo(event: dict[str, Any], subscription: Subscription, config: Config) -> tuple[Action, ...]:
    """The change's Undo button, where this channel may change that environment (checked again on click)."""
    if event.get("type") not in ("change", "kill", "rollback") or event.get("after") is None:
        return ()
    environment = config.environment(str(event.get("environment_option")))
    if environment is None:
        return ()
    allowed = config.channels_for(environment)
    if allowed and (subscription.dm or subscription.label not in allowed):
        return ()
    entry_id = str(event["id"]).rsplit(":", 1)[-1]
    return (undo_action(environment, str(event["flag"]), str(event["before"]), str(event["after"]), entry_id),)


def subscription_post(event: dict[str, Any], subscription: Subscription, config: Config) -> CrossPost:
    title = _title(event)
    note = line(f"Subscription {subscription.id}: ", Code(f"/chatops run unsubscribe {subscription.id}"), " to stop.")
    summary = (
        f"{_HEADLINES.get(str(event['type']), event['type'])}: {event.get('flag') or ''} on {event['environment']}"
    )
    return CrossPost(
        subscription.target,
        "subscription",
        (Section(_lines(event), title=title),),
        summary.replace("  ", " "),
        actions=_undo(event, subscription, config),
        notes=(note,),
    )
