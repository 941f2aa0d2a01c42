"""The outbox: every event (a change, a rollout's step or abort, a kill, a freeze) is added to a
stream in the bot's own Redis as it is recorded, once per idempotency key, and delivered from there
(webhooks, subscriptions) by the driver: at least once, in order, across restarts and replicas."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from handlers.core.ports import PortKey

__all__ = ["OUTBOX", "Outbox", "OutboxEvent"]

_SCRIPT = resources.files("handlers.core").joinpath("outbox.lua").read_text(encoding="utf-8")
_log = structlog.get_logger("chatops.outbox")
KEY_KEPT_S = 7 * 86400  # an idempotency key is remembered this long
MAX_EVENTS = 100_000  # the stream keeps about this many events


#: An event as the outbox keeps it: the documented JSON event (docs/events.schema.json).
OutboxEvent = Mapping[str, Any]


class Outbox:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.stream = f"{prefix}chatops:outbox"
        self._keys = f"{prefix}chatops:outbox:key:"
        self._script = client.register_script(_SCRIPT)

    async def add(self, event: OutboxEvent) -> str | None:
        """Add ``event`` (its ``id`` is its idempotency key); the stream id, or None when an event with
        that key was added before. Raises RedisError when the bot's Redis cannot be reached."""
        added: Any = await self._script(
            keys=[self.stream, self._keys + str(event["id"])],
            args=[json.dumps(event, separators=(",", ":")), KEY_KEPT_S, MAX_EVENTS],
        )
        if not added:
            return None
        return added.decode() if isinstance(added, bytes) else str(added)

    async def add_all(self, events: Sequence[OutboxEvent]) -> None:
        """Add each event; one that cannot be added is logged (the change stands; its news is lost)."""
        for event in events:
            try:
                await self.add(event)
            except (RedisError, OSError) as error:
                _log.error("outbox.not_recorded", event_id=event.get("id"), error=str(error)[:200])

    async def after(
        self, stream_id: str, count: int = 200, block_ms: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Events after ``stream_id`` (``0-0``: from the start), oldest first; with ``block_ms``, wait
        that long for one when there is none yet."""
        if block_ms is None:
            found: Any = await self.client.xrange(self.stream, f"({stream_id}", "+", count=count)
        else:
            answer: Any = await self.client.xread({self.stream: stream_id}, count=count, block=block_ms)
            found = answer[0][1] if answer else []
        return [(_text(i), json.loads(_text(f.get("event") or f.get(b"event")))) for i, f in found]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


OUTBOX: PortKey[Outbox] = PortKey("outbox")
