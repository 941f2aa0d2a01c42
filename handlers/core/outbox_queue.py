"""What one receiver has queued, held in memory by the process delivering it (the holder of the driver
lease), so that choosing what to send next reads nothing from Redis: per flag, its events in the
outbox's order, only the first of each flag eligible (a later event of a flag waits for the earlier
one); among those, the oldest first once due. Redis stays the record (``ReceiverState``): this is what
was read from it, changed only as this process changes it there."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["DeliveryQueue", "Queued", "flag_key", "stream_order"]


@dataclass(frozen=True, slots=True)
class Queued:
    stream_id: str
    event: dict[str, Any]
    due: float
    attempts: int


def stream_order(stream_id: str) -> tuple[int, int]:
    """A stream id (``MS-SEQ``) as the two numbers it is ordered by (as text, ``5-10`` sorts before ``5-9``)."""
    millis, _, sequence = stream_id.partition("-")
    return int(millis), int(sequence or 0)


def flag_key(event: dict[str, Any]) -> str:
    """What an event is kept in order with: its flag, or (a freeze) its environment."""
    return str(event.get("flag") or f"environment:{event.get('environment')}")


class DeliveryQueue:
    def __init__(self, queued: Iterable[Queued], *, complete: bool) -> None:
        """``queued``: what was read; ``complete``: whether that is all that is queued (then new events
        are added here as they are queued; else they wait in Redis for the next read)."""
        self.complete = complete
        self._entries: dict[str, Queued] = {}
        self._flags: dict[str, deque[str]] = {}
        self._ready: list[tuple[tuple[int, int], str]] = []  # first of their flag and due: oldest first
        self._waiting: list[tuple[float, tuple[int, int], str]] = []  # first of their flag, not due yet
        for one in sorted(queued, key=lambda q: stream_order(q.stream_id)):
            self.add(one)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, queued: Queued) -> None:
        """Queue ``queued`` after everything queued before it (it is newer: later in the outbox)."""
        key = flag_key(queued.event)
        waiting = self._flags.setdefault(key, deque())
        waiting.append(queued.stream_id)
        self._entries[queued.stream_id] = queued
        if len(waiting) == 1:
            self._schedule(key, queued)

    def add_new(self, queued: Queued, limit: int) -> None:
        """Queue an event queued just now in Redis, if this holds all that is queued there and fewer
        than ``limit``; else it (and every later one) waits there for the next read, which takes the
        oldest first: what is held here is never a later event of a flag without its earlier ones."""
        if self.complete and len(self._entries) >= limit:
            self.complete = False
        if self.complete:
            self.add(queued)

    def take(self, now: float, limit: int) -> list[Queued]:
        """Up to ``limit`` events to send now, oldest first: each the first of its flag and due. Each is
        out of the running until ``settled`` or ``retry`` says how its sending went."""
        while self._waiting and self._waiting[0][0] <= now:
            _, order, key = heapq.heappop(self._waiting)
            heapq.heappush(self._ready, (order, key))
        taken: list[Queued] = []
        while self._ready and len(taken) < limit:
            _, key = heapq.heappop(self._ready)
            taken.append(self._entries[self._flags[key][0]])
        return taken

    def next_due(self) -> float | None:
        """When the next event waiting for its backoff is due (None: none waits)."""
        return self._waiting[0][0] if self._waiting else None

    def settled(self, queued: Queued) -> None:
        """``queued`` was delivered, or is a dead letter: the next event of its flag may go."""
        key = flag_key(queued.event)
        self._entries.pop(queued.stream_id, None)
        waiting = self._flags.get(key)
        if not waiting or waiting[0] != queued.stream_id:
            return
        waiting.popleft()
        if waiting:
            self._schedule(key, self._entries[waiting[0]])
        else:
            del self._flags[key]

    def retry(self, queued: Queued, due: float) -> None:
        """``queued`` failed once more: it is tried again at ``due``, still first of its flag."""
        again = replace(queued, due=due, attempts=queued.attempts + 1)
        self._entries[queued.stream_id] = again
        self._schedule(flag_key(queued.event), again)

    def _schedule(self, key: str, first: Queued) -> None:
        heapq.heappush(self._waiting, (first.due, stream_order(first.stream_id), key))
