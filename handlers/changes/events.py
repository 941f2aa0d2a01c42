"""The events of a change that was written: one per environment (a kill, a rollback, or a change;
a rollout's step is a change that names its rollout), added to the outbox as the change is told."""

from __future__ import annotations

from typing import Any

from flags import RestoreState
from handlers.changes.request import ChangeRequest
from handlers.core.context import Context
from handlers.core.events import EventType, event, rollout_of
from handlers.core.outbox import OUTBOX

__all__ = ["publish_change"]


def _kind(request: ChangeRequest) -> EventType:
    if request.headline.startswith("Killed"):
        return "kill"
    if isinstance(request.change, RestoreState) or request.rollback_of:
        return "rollback"
    return "change"


async def publish_change(request: ChangeRequest, context: Context, done: list[Any]) -> None:
    """Add the events of the environments written (``done``: environment, result) to the outbox."""
    outbox = context.app.ports.get(OUTBOX)
    if outbox is None or not done:
        return
    definition = context.definitions.get(request.flag)
    kind, rollout = _kind(request), rollout_of(request.command + context.origin)
    events = [
        event(
            kind,
            result.entry_id,
            environment,
            request.who,
            flag=request.flag,
            before=result.before.describe(),
            after=result.after.describe(),
            command=request.command,
            reason=request.reason,
            rollout=rollout,
            group=definition.group if definition else None,
        )
        for environment, result in done
    ]
    await outbox.add_all(events)
