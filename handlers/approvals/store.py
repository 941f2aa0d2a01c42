"""Approval requests, in the bot's own Redis: a change waiting for a second person.

A request keeps the command as typed, its author, its flag as it was reviewed (each environment's
gates, and version) and who may approve it. Its status moves once, from ``pending`` to ``approved``, ``declined`` or
``cancelled``, in one script, so a double click applies once and a declined request never applies.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

import redis.asyncio as aioredis

from handlers.core.caller import Caller
from handlers.core.ports import PortKey
from handlers.core.seen import Seen, seen_from_json, seen_to_json
from handlers.core.stored import StoredPlan

__all__ = ["APPROVAL_STORE", "KEPT_S", "ApprovalRequest", "ApprovalStore"]

KEPT_S = 7 * 86400  # how long after it expired a request is kept (to be looked up, and shown)

_DECIDE = """
local text = redis.call('HGET', KEYS[1], ARGV[1])
if not text then return 'missing' end
local record = cjson.decode(text)
if record.status ~= 'pending' then return record.status end
record.status = ARGV[2]
record.decided_by = ARGV[3]
record.decided_at = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 'ok'
"""


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    id: str
    text: str  # the command as typed, after "/chatops "
    flag: str
    options: tuple[str, ...]
    seen: dict[str, Seen]  # each target as it was reviewed, by option
    requester: Caller
    approvers: tuple[str, ...]  # user groups
    created_at: float
    expires_at: float
    status: str = "pending"
    decided_by: str = ""
    card: str = ""  # the card's message reference
    summary: list[str] = field(default_factory=list)  # before → after per environment, as shown
    rollout_issue: str = ""
    checks: list[str] = field(default_factory=list)  # the checks as they stood when it was asked
    note: str = ""  # what else approving it does ("approves each of its 4 steps")
    plan: StoredPlan | None = None  # what approving runs (None: a request made before plans were kept)
    eligible: tuple[str, ...] | None = None  # who of the approvers may approve, when not all may (user IDs)
    eligible_note: str = ""  # what those are ("of @sre-leads, those who may also change gprd")

    @property
    def expired(self) -> bool:
        return self.status == "pending" and time.time() >= self.expires_at

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "text": self.text,
                "flag": self.flag,
                "options": list(self.options),
                **seen_to_json(self.seen),
                "requester": self.requester.to_list(),
                "approvers": list(self.approvers),
                "created_at": self.created_at,
                "expires_at": self.expires_at,
                "status": self.status,
                "decided_by": self.decided_by,
                "card": self.card,
                "summary": self.summary,
                "rollout_issue": self.rollout_issue,
                "checks": self.checks,
                "note": self.note,
                "plan": self.plan.to_dict() if self.plan is not None else None,
                "eligible": list(self.eligible) if self.eligible is not None else None,
                "eligible_note": self.eligible_note,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ApprovalRequest:
        data: dict[str, Any] = json.loads(text)
        return cls(
            id=str(data["id"]),
            text=str(data["text"]),
            flag=str(data["flag"]),
            options=tuple(str(o) for o in data["options"]),
            seen=seen_from_json(data),
            requester=Caller.from_list(data["requester"]),
            approvers=tuple(str(a) for a in data.get("approvers") or ()),
            created_at=float(data["created_at"]),
            expires_at=float(data["expires_at"]),
            status=str(data.get("status", "pending")),
            decided_by=str(data.get("decided_by", "")),
            card=str(data.get("card", "")),
            summary=[str(s) for s in data.get("summary") or []],
            rollout_issue=str(data.get("rollout_issue", "")),
            checks=[str(c) for c in data.get("checks") or []],
            note=str(data.get("note", "")),
            plan=StoredPlan.from_dict(data["plan"]) if data.get("plan") else None,
            # an empty list comes back from the decide script as an empty object: both are nobody
            eligible=tuple(str(p) for p in data["eligible"]) if data.get("eligible") is not None else None,
            eligible_note=str(data.get("eligible_note", "")),
        )


class ApprovalStore:
    def __init__(self, client: aioredis.Redis, prefix: str = "") -> None:
        self._redis = client
        self.key = f"{prefix}chatops:approvals"
        self._seq = f"{prefix}chatops:approvals:seq"
        self._decide = client.register_script(_DECIDE)

    async def create(self, request: ApprovalRequest) -> ApprovalRequest:
        created = replace(request, id=f"A{int(await self._redis.incr(self._seq))}")
        await self.save(created)
        await self._forget_old()
        return created

    async def _forget_old(self) -> None:
        """Drop requests that expired more than KEPT_S ago (decided or not, none can apply): the
        hash stays as small as the last week's requests."""
        records: Any = await self._redis.hgetall(self.key)
        cutoff = time.time() - KEPT_S
        old = [i for i, text in records.items() if ApprovalRequest.from_json(text).expires_at < cutoff]
        if old:
            done: Any = self._redis.hdel(self.key, *old)
            await done

    async def save(self, request: ApprovalRequest) -> None:
        done: Any = self._redis.hset(self.key, request.id, request.to_json())
        await done

    async def get(self, request_id: str) -> ApprovalRequest | None:
        text: Any = await self._redis.hget(self.key, request_id)
        return ApprovalRequest.from_json(text) if text else None

    async def pending(self) -> list[ApprovalRequest]:
        """Requests still waiting for a decision (not expired), oldest first."""
        records: Any = await self._redis.hgetall(self.key)
        found = (ApprovalRequest.from_json(text) for text in records.values())
        return sorted((r for r in found if r.status == "pending" and not r.expired), key=lambda r: r.created_at)

    async def decide(self, request_id: str, status: str, by: str) -> str:
        """Move a pending request to ``status``; 'ok', or the status it already had ('missing')."""
        return str(await self._decide(keys=[self.key], args=[request_id, status, by, f"{time.time():.3f}"]))


APPROVAL_STORE: PortKey[ApprovalStore] = PortKey("approval store")
