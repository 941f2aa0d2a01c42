"""Staged rollouts, durable in the bot's own Redis: the plan, where it stands, and its timer.

A rollout is kept beside the schedules (``R1`` beside ``S1``) and its next step is a timer the
same driver takes. Every save names the revision it read: a pause, resume or abort by a person
and a step written by the driver never overwrite each other; the driver's saves also carry its
lease token.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Literal

from flags import FlagState
from handlers.core.caller import Caller
from handlers.core.ports import PortKey
from handlers.core.timers import Fenced, Timers

__all__ = ["ROLLOUT_STORE", "Rollout", "RolloutStore", "Stale"]

_SCRIPT = resources.files("handlers.rollouts").joinpath("rollouts.lua").read_text(encoding="utf-8")

Status = Literal["running", "paused", "aborted", "done"]


class Stale(Exception):
    """The rollout changed since it was read (a person paused or aborted it): read it again."""


@dataclass(frozen=True, slots=True)
class Rollout:
    id: str
    flag: str
    options: tuple[str, ...]  # environments, in configured order
    steps: tuple[float, ...]  # percentages, rising, the last at most 100
    every_s: float
    who: Caller  # whose rules every step runs under
    created_at: float
    kind: Literal["actors", "random"] = "actors"
    guard: tuple[str, ...] = ()  # Alertmanager matchers that abort it while an alert fires
    overrides: tuple[str, ...] = ()  # --ignore-… options given, passed to every step
    status: Status = "running"
    done: int = 0  # steps written
    due: float | None = None  # when the next step is written
    versions: dict[str, int] = field(default_factory=dict)  # the version it last saw or wrote, per environment
    before: dict[str, tuple[FlagState, bool]] = field(default_factory=dict)  # each environment before it began
    reason: str = ""  # why it is paused or was aborted
    history: tuple[str, ...] = ()  # one line per event, newest last
    message: str = ""  # its message in the channel (a chat reference), updated as it goes
    approved_by: str = ""  # who approved it (and so each of its steps), when it needed approval
    metrics: tuple[str, ...] = ()  # the metric checks that guard it (names in the configuration)
    baselines: dict[str, float | None] = field(default_factory=dict)  # each check@environment before it began
    failing: dict[str, int] = field(default_factory=dict)  # consecutive failing evaluations, by check@environment
    held: bool = False  # paused because its checks could not be read: resumed when they can
    stepped_at: tuple[float, ...] = ()  # when each step was written (a chart marks them)
    rev: int = 0

    @property
    def active(self) -> bool:
        return self.status in ("running", "paused")

    def step_label(self, number: int) -> str:
        return f"{number}/{len(self.steps)}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "kind_of_record": "rollout",
                "flag": self.flag,
                "options": list(self.options),
                "steps": list(self.steps),
                "every_s": self.every_s,
                "who": self.who.to_list(),
                "created_at": self.created_at,
                "kind": self.kind,
                "guard": list(self.guard),
                "overrides": list(self.overrides),
                "status": self.status,
                "done": self.done,
                "due": self.due,
                "versions": self.versions,
                "before": {o: [s.to_hash(), e] for o, (s, e) in self.before.items()},
                "reason": self.reason,
                "history": list(self.history),
                "message": self.message,
                "approved_by": self.approved_by,
                "metrics": list(self.metrics),
                "baselines": self.baselines,
                "failing": self.failing,
                "held": self.held,
                "stepped_at": list(self.stepped_at),
                "rev": self.rev,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Rollout:
        data: dict[str, Any] = json.loads(text)
        return cls(
            id=str(data["id"]),
            flag=str(data["flag"]),
            options=tuple(str(o) for o in data["options"]),
            steps=tuple(float(s) for s in data["steps"]),
            every_s=float(data["every_s"]),
            who=Caller.from_list(data["who"]),
            created_at=float(data["created_at"]),
            kind="random" if data.get("kind") == "random" else "actors",
            guard=tuple(str(g) for g in data.get("guard") or ()),
            overrides=tuple(str(o) for o in data.get("overrides") or ()),
            status=data.get("status", "running"),
            done=int(data.get("done", 0)),
            due=float(data["due"]) if data.get("due") is not None else None,
            versions={str(k): int(v) for k, v in dict(data.get("versions") or {}).items()},
            before={
                str(o): (FlagState.from_hash({str(k): str(v) for k, v in dict(h).items()}), bool(e))
                for o, (h, e) in dict(data.get("before") or {}).items()
            },
            reason=str(data.get("reason", "")),
            history=tuple(str(h) for h in data.get("history") or ()),
            message=str(data.get("message", "")),
            approved_by=str(data.get("approved_by", "")),
            metrics=tuple(str(m) for m in data.get("metrics") or ()),
            baselines={str(k): None if v is None else float(v) for k, v in dict(data.get("baselines") or {}).items()},
            failing={str(k): int(v) for k, v in dict(data.get("failing") or {}).items()},
            held=bool(data.get("held", False)),
            stepped_at=tuple(float(t) for t in data.get("stepped_at") or ()),
            rev=int(data.get("rev", 0)),
        )


class RolloutStore:
    def __init__(self, timers: Timers) -> None:
        self._redis = timers.client
        self._keys = [timers.lease_key, timers.hash_key, timers.timers_key]
        self._seq = timers.hash_key + ":rollouts:seq"
        self._script = timers.client.register_script(_SCRIPT)

    async def new_id(self) -> str:
        return f"R{int(await self._redis.incr(self._seq))}"

    async def get(self, rollout_id: str) -> Rollout | None:
        text: Any = await self._redis.hget(self._keys[1], rollout_id)
        return Rollout.from_json(text) if text else None

    async def all(self) -> list[Rollout]:
        records: Any = await self._redis.hgetall(self._keys[1])
        found = [Rollout.from_json(t) for i, t in records.items() if str(i).startswith("R")]
        return sorted(found, key=lambda r: int(r.id[1:]))

    async def active_for(self, flag: str) -> Rollout | None:
        return next((r for r in await self.all() if r.flag == flag and r.active), None)

    async def save(self, rollout: Rollout, *, token: int | None = None) -> Rollout:
        """Save ``rollout`` (read at ``rollout.rev``) with its timer; the saved record. Raises Stale
        when it changed since it was read, Fenced when ``token`` no longer holds the lease."""
        saved = replace(rollout, rev=rollout.rev + 1)
        due = "" if saved.due is None or saved.status != "running" else f"{saved.due:.3f}"
        args = [saved.id, saved.to_json(), str(rollout.rev), due, "" if token is None else str(token)]
        reply = await self._script(keys=self._keys, args=args)
        if reply == "stale":
            raise Stale(rollout.id)
        if reply == "fenced":
            raise Fenced(rollout.id)
        return saved

    @staticmethod
    def now() -> float:
        return time.time()


ROLLOUT_STORE: PortKey[RolloutStore] = PortKey("rollout store")
