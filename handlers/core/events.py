"""The events the bot publishes (its outbox, webhooks, subscriptions), as the documented JSON
(docs/events.schema.json): one event per environment, its ``id`` the idempotency key receivers
dedupe on."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

from handlers.config import Environment
from handlers.core.caller import Caller

__all__ = ["EVENT_SCHEMA", "EventType", "event", "rollout_of"]

EVENT_SCHEMA = "chatops.event/1"
EventType = Literal["change", "kill", "rollback", "rollout.aborted", "freeze.on", "freeze.off"]
_ROLLOUT = re.compile(r"\(rollout (R\d+)(?: step (\d+/\d+))?")


def rollout_of(origin: str) -> dict[str, str] | None:
    """``{"id": "R1", "step": "2/3"}`` from what ran a change (`` (rollout R1 step 2/3)``), else None."""
    found = _ROLLOUT.search(origin)
    if found is None:
        return None
    return {"id": found.group(1), **({"step": found.group(2)} if found.group(2) else {})}


def event(
    kind: EventType,
    key: str,
    environment: Environment,
    who: Caller,
    *,
    flag: str | None = None,
    before: str | None = None,
    after: str | None = None,
    command: str = "",
    reason: str = "",
    rollout: dict[str, str] | None = None,
    group: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """One event; ``key`` makes its id unique (an audit entry id, a freeze's start, a rollout's id)."""
    moment = time.time() if at is None else at
    return {
        "schema": EVENT_SCHEMA,
        "id": f"{kind}:{environment.option}:{key}",
        "type": kind,
        "time": datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time_ms": int(moment * 1000),
        "flag": flag,
        "environment": environment.name,
        "environment_option": environment.option,
        "production": environment.production,
        "before": before,
        "after": after,
        "by": {"user_id": who.user_id, "name": who.who},
        "channel": who.channel_label,
        "command": command,
        "reason": reason,
        "rollout": rollout,
        "group": group,
    }
