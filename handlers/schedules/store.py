"""Scheduled changes, durable in the bot's own Redis: what runs when, as whom.

A schedule is either a command to run at its time as if its author typed it then (``run``:
``feature set … --at/--in``), or the end of a time-boxed change (``expire``: ``--for``), which
restores the previous state through the Roll back path. Their timers are the driver's
(``handlers.core.timers``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from handlers.core.caller import Caller
from handlers.core.ports import PortKey
from handlers.core.seen import Seen, seen_from_json, seen_to_json
from handlers.core.stored import StoredPlan
from handlers.core.timers import Timers

__all__ = ["SCHEDULE_STORE", "Schedule", "ScheduleStore"]


@dataclass(frozen=True, slots=True)
class Schedule:
    id: str
    kind: Literal["run", "expire"]
    flag: str
    due: float
    who: Caller
    created_at: float
    text: str = ""  # run: the command, as typed without its timing option
    seen: dict[str, Seen] = field(default_factory=dict)  # run: each target as it was when scheduled, by option
    entries: dict[str, str] = field(default_factory=dict)  # expire: option -> audit entry to roll back
    summary: str = ""  # for people: "set my_flag true on gstg"
    approved_by: str = ""  # run: who approved it (and so every change it makes), when it needed approval
    plan: StoredPlan | None = None  # run: the set it runs (None: a schedule made before plans were kept)

    @property
    def origin(self) -> str:
        """Appended to the recorded command of what this schedule writes (and so found again)."""
        return f" (schedule {self.id}" + (f", approved by {self.approved_by})" if self.approved_by else ")")

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "kind": self.kind,
                "flag": self.flag,
                "due": self.due,
                "who": self.who.to_list(),
                "created_at": self.created_at,
                "text": self.text,
                **seen_to_json(self.seen),
                "entries": self.entries,
                "summary": self.summary,
                "approved_by": self.approved_by,
                "plan": self.plan.to_dict() if self.plan is not None else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        data: dict[str, Any] = json.loads(text)
        return cls(
            id=str(data["id"]),
            kind="expire" if data["kind"] == "expire" else "run",
            flag=str(data["flag"]),
            due=float(data["due"]),
            who=Caller.from_list(data["who"]),
            created_at=float(data["created_at"]),
            text=str(data.get("text", "")),
            seen=seen_from_json(data),
            entries={str(k): str(v) for k, v in dict(data.get("entries") or {}).items()},
            summary=str(data.get("summary", "")),
            approved_by=str(data.get("approved_by", "")),
            plan=StoredPlan.from_dict(data["plan"]) if data.get("plan") else None,
        )


class ScheduleStore:
    """Scheduled changes (``S…``) among the timers' records."""

    def __init__(self, timers: Timers) -> None:
        self.timers = timers
        self._redis = timers.client
        self._hash, self._timers = timers.hash_key, timers.timers_key
        self._seq = f"{timers.prefix}chatops:schedules:seq"

    async def new_id(self) -> str:
        return f"S{int(await self._redis.incr(self._seq))}"

    async def add(self, schedule: Schedule) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._hash, schedule.id, schedule.to_json())
        pipe.zadd(self._timers, {schedule.id: schedule.due})
        await pipe.execute()

    async def get(self, schedule_id: str) -> Schedule | None:
        text: Any = await self._redis.hget(self._hash, schedule_id)
        return Schedule.from_json(text) if text else None

    async def cancel(self, schedule_id: str) -> Schedule | None:
        """Remove a schedule before it runs; the schedule, or None if there was none."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hget(self._hash, schedule_id)
        pipe.hdel(self._hash, schedule_id)
        pipe.zrem(self._timers, schedule_id)
        text, _, _ = await pipe.execute()
        return Schedule.from_json(text) if text else None

    async def pending(self) -> list[Schedule]:
        records: Any = await self._redis.hgetall(self._hash)
        found = (Schedule.from_json(t) for i, t in records.items() if str(i).startswith("S"))
        return sorted(found, key=lambda s: (s.due, s.id))


SCHEDULE_STORE: PortKey[ScheduleStore] = PortKey("schedule store")
