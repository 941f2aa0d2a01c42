"""A freeze put on or lifted is news: its events (``freeze.on``, ``freeze.off``), one per environment."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.core.caller import Caller
from handlers.core.context import Application
from handlers.core.events import EventType, event
from handlers.core.freezes import Freeze
from handlers.core.outbox import OUTBOX

__all__ = ["publish_freezes"]


async def publish_freezes(app: Application, kind: EventType, freezes: Sequence[Freeze], who: Caller | None) -> None:
    """Add the events of these freezes put on or lifted (``who``: the person, else the alert that did)."""
    outbox = app.ports.get(OUTBOX)
    if outbox is None:
        return
    events = []
    for freeze in freezes:
        environment = app.config.environment(freeze.option)
        if environment is None:
            continue
        by = who or Caller("", freeze.who, "", "alertmanager")
        key = f"{freeze.source}:{freeze.since:.3f}"
        events.append(event(kind, key, environment, by, reason=freeze.reason))
    await outbox.add_all(events)
