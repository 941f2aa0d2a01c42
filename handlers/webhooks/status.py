"""What people ask of the webhooks (``chatops webhooks status|retry``, the dashboard): per receiver,
delivered / pending / dead and the last error; its dead letters queued again."""

from __future__ import annotations

import time

from handlers.core.context import Application
from handlers.core.outbox import OUTBOX
from handlers.core.outbox_state import ReceiverState, ReceiverStatus

__all__ = ["UnknownReceiver", "retry_dead", "statuses"]


class UnknownReceiver(LookupError):
    """No receiver has that name; the text lists those that do."""


def _states(app: Application) -> list[ReceiverState]:
    outbox = app.ports.get(OUTBOX)
    if outbox is None or app.timers is None:
        return []
    prefix, lease = app.config.redis_prefix, app.timers.lease_key
    return [ReceiverState(outbox.client, prefix, w.name, lease) for w in app.config.webhooks]


async def statuses(app: Application) -> list[ReceiverStatus]:
    return [await state.status() for state in _states(app)]


async def retry_dead(app: Application, name: str) -> int:
    """Queue ``name``'s dead letters again (due now); how many. Raises UnknownReceiver."""
    for state in _states(app):
        if state.name == name:
            return await state.retry_dead(time.time())
    known = ", ".join(w.name for w in app.config.webhooks) or "none (the configuration has no webhooks)"
    raise UnknownReceiver(f"no receiver is named {name!r}; configured: {known}")
