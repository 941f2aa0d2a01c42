"""Subscriptions, kept in the bot's own Redis: who hears of what, and which events each was told of
(so that a delivery tried again never tells a channel twice)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis

from handlers.core.ports import PortKey

__all__ = ["EVENTS", "SUBSCRIPTION_STORE", "Subscription", "SubscriptionStore"]

#: What a subscription may ask for, and the event types each covers.
EVENTS: dict[str, tuple[str, ...]] = {
    "changes": ("change", "rollback", "kill"),
    "rollouts": ("rollout.aborted",),  # and changes that are a rollout's steps
    "alerts": ("kill", "rollback", "rollout.aborted", "freeze.on", "freeze.off"),
}
TOLD_KEPT_S = 86400


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    target: str  # the channel's ID, or the person's user ID for a direct message
    label: str  # "#name" or "@name", for people
    dm: bool
    flag: str | None
    group: str | None
    match: str | None
    environments: tuple[str, ...]  # options; empty: every environment
    events: tuple[str, ...]
    by: str
    created_at: float

    def same_as(self, other: Subscription) -> bool:
        mine, theirs = asdict(self), asdict(other)
        return all(mine[k] == theirs[k] for k in ("target", "flag", "group", "match", "environments", "events"))

    def wants(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` is news this subscription asked for (a freeze is of an environment, so any
        subscription to alerts there hears of it, whatever flag it names)."""
        kind = str(event.get("type", ""))
        step = kind == "change" and event.get("rollout") is not None and "rollouts" in self.events
        if kind not in {t for e in self.events for t in EVENTS[e]} and not step:
            return False
        if self.environments and event.get("environment_option") not in self.environments:
            return False
        if kind.startswith("freeze."):
            return True
        flag, group = str(event.get("flag") or ""), str(event.get("group") or "")
        if self.flag and flag != self.flag:
            return False
        if self.group and group.lower() != self.group.lower():
            return False
        return not self.match or self.match.lower() in flag.lower()

    def describe(self) -> str:
        what = [f"flag {self.flag}" if self.flag else "", f"group {self.group}" if self.group else ""]
        what += [f"names matching {self.match!r}" if self.match else ""]
        where = ", ".join(self.environments) if self.environments else "every environment"
        said = "; ".join(w for w in what if w) or "every flag"
        return f"{self.id}: {said}; {where}; {', '.join(self.events)} → {self.label}"

    @classmethod
    def from_json(cls, text: str | bytes) -> Subscription:
        data = json.loads(text)
        data["environments"], data["events"] = tuple(data["environments"]), tuple(data["events"])
        return cls(**data)


class SubscriptionStore:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._hash = f"{prefix}chatops:subscriptions"
        self._seq = f"{prefix}chatops:subscriptions:seq"
        self._told = f"{prefix}chatops:subscriptions:told:"

    async def new_id(self) -> str:
        return f"N{int(await self._client.incr(self._seq))}"

    async def add(self, subscription: Subscription) -> None:
        await self._client.hset(self._hash, subscription.id, json.dumps(asdict(subscription)))

    async def remove(self, subscription_id: str) -> None:
        await self._client.hdel(self._hash, subscription_id)

    async def get(self, subscription_id: str) -> Subscription | None:
        found: Any = await self._client.hget(self._hash, subscription_id)
        return Subscription.from_json(found) if found else None

    async def all(self) -> list[Subscription]:
        found: Any = await self._client.hgetall(self._hash)
        return sorted((Subscription.from_json(t) for t in found.values()), key=lambda s: int(s.id[1:]))

    async def told(self, event_id: str) -> set[str]:
        """The subscriptions already told of this event."""
        found: Any = await self._client.smembers(self._told + event_id)
        return {v.decode() if isinstance(v, bytes) else str(v) for v in found}

    async def mark_told(self, event_id: str, subscription_id: str) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.sadd(self._told + event_id, subscription_id)
            pipe.expire(self._told + event_id, TOLD_KEPT_S)
            await pipe.execute()


SUBSCRIPTION_STORE: PortKey[SubscriptionStore] = PortKey("subscription store")
