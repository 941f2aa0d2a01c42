"""What people ask of the webhooks (``chatops webhooks status|retry``, the dashboard): per receiver,
delivered / pending / dead and the last error; its dead letters queued again."""

from __future__ import annotations

import time

from handlers.core.context import Application
from handlers.core.outbox import OUTBOX
from handlers.core.outbox_delivery import OUTBOX_RECEIVERS
from handlers.core.outbox_state import ReceiverState, ReceiverStatus
from handlers.core.reply import Reply, Section, line
from handlers.core.timefmt import utc

__all__ = ["UnknownReceiver", "retry_dead", "status_line", "status_reply", "statuses"]


class UnknownReceiver(LookupError):
    """No receiver has that name; the text lists those that do."""


def _states(app: Application) -> list[ReceiverState]:
    """Every receiver's state: the configured webhooks', and any other receiver's (subscriptions' posts)."""
    outbox = app.ports.get(OUTBOX)
    if outbox is None or app.timers is None:
        return []
    prefix, lease = app.config.redis_prefix, app.timers.lease_key
    names = [r.name for make in app.ports.all(OUTBOX_RECEIVERS) for r in make(app)]
    return [ReceiverState(outbox.client, prefix, name, lease) for name in names]


def status_line(found: ReceiverStatus) -> str:
    """``grafana: 120 delivered, 0 pending, 2 dead; last error 2026-12-03 19:04:05 UTC: HTTP 503``."""
    said = f"{found.name}: {found.delivered} delivered, {found.pending} pending, {found.dead} dead"
    if found.last_error and found.last_error_at is not None:
        said += f"; last error {utc(found.last_error_at, seconds=True)}: {found.last_error}"
    return said


def status_reply(found: list[ReceiverStatus]) -> Reply:
    """The receivers' status as a reply (the dashboard's section)."""
    if not found:
        return Reply(True, "no receivers", (Section((line("No webhooks are configured and nothing is subscribed."),)),))
    return Reply(True, f"{len(found)} receivers", (Section(tuple(line(status_line(f)) for f in found)),))


async def statuses(app: Application) -> list[ReceiverStatus]:
    return [await state.status() for state in _states(app)]


async def retry_dead(app: Application, name: str) -> int:
    """Queue ``name``'s dead letters again (due now); how many. Raises UnknownReceiver."""
    for state in _states(app):
        if state.name == name:
            return await state.retry_dead(time.time())
    known = ", ".join(s.name for s in _states(app))
    raise UnknownReceiver(f"no receiver is named {name!r}; configured: {known}")
