"""The flag store: one environment's flags in Redis, in Flipper's layout.

Reads are plain Redis reads. Every change runs as one Lua script, so the gate
mutation, the version bump, both audit entries and the announcement on the
changes channel happen together or not at all. ``FlagStore`` is one adapter of
``flags.adapter.FlagStorage``; ``MemoryFlagStore`` is another.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from flags.adapter import AUDIT_PER_FLAG, Write, apply_together, entry_id_parts
from flags.changes import Change
from flags.connection import redis_client
from flags.errors import ChangeConflict, StoreUnavailable, WrongKeyType
from flags.keys import Keys
from flags.records import AuditEntry, AuditInfo, ChangeResult, FlagRecord
from flags.redis_url import replicas_to_wait_for
from flags.state import FlagState
from flags.values import FlagName

__all__ = ["AUDIT_PER_FLAG", "FlagStore", "Write", "apply_together"]

_SCRIPT = resources.files("flags").joinpath("apply_change.lua").read_text(encoding="utf-8")

#: Reads many flags in one round trip: for each (flag hash, meta hash) pair of KEYS, the hash's
#: fields and values, then the meta hash's version and changed_at.
_READ_MANY = """
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('HGETALL', KEYS[i])
  out[#out + 1] = redis.call('HMGET', KEYS[i + 1], 'version', 'changed_at')
end
return out
"""
#: Flags read per round trip by ``list`` (each keeps Redis busy for about a millisecond).
LIST_BATCH = 1000

#: How long a change waits for its replicas (behind Sentinel) before it is not reported as done.
REPLICA_WAIT_MS = 1000


class FlagStore:
    """Flags of one environment: a Redis connection and an optional key prefix."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "",
        environment: str = "",
        on_unavailable: Callable[[str], None] | None = None,
        min_replicas: int = 0,
    ) -> None:
        self._redis = client
        # A change counts as done only once this many replicas have it (WAIT): after a failover the
        # promoted replica has every change reported as done. See replicas_to_wait_for(url).
        self.min_replicas = min_replicas
        self._on_unavailable = on_unavailable  # e.g. to count Redis errors per environment
        self.keys = Keys(prefix)
        self.environment = environment
        self._apply = client.register_script(_SCRIPT)
        self._read_many = client.register_script(_READ_MANY)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "", environment: str = "") -> FlagStore:
        return cls(redis_client(url), prefix=prefix, environment=environment, min_replicas=replicas_to_wait_for(url))

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    @property
    def backend(self) -> aioredis.Redis:
        """The Redis client: stores sharing it can be written together."""
        return self._redis

    @property
    def prefix(self) -> str:
        return self.keys.prefix

    async def close(self) -> None:
        await self._redis.aclose()

    async def get(self, name: str) -> FlagRecord:
        """One flag's gates, whether it is in the feature set, and its version."""
        flag = FlagName(name).value
        layout = {self.keys.flag(flag): "hash", self.keys.features: "set", self.keys.meta(flag): "hash"}
        async with self._unavailable_as_error(layout):
            pipe = self._redis.pipeline(transaction=True)
            pipe.hgetall(self.keys.flag(flag))
            pipe.sismember(self.keys.features, flag)
            pipe.hget(self.keys.meta(flag), "version")
            fields, member, version = await pipe.execute()
        return FlagRecord(flag, FlagState.from_hash(fields), bool(member), _int(version))

    async def list(self, match: str | None = None) -> builtins.list[FlagRecord]:
        """Every flag in the feature set (sorted by name), optionally those containing ``match``."""
        layout = {self.keys.features: "set"}
        async with self._unavailable_as_error(layout):
            members = await self._await(self._redis.smembers(self.keys.features))
            names: list[str] = sorted(str(m) for m in members)
            if match:
                names = [n for n in names if match in n]
            if not names:
                return []
            layout.update({self.keys.flag(n): "hash" for n in names} | {self.keys.meta(n): "hash" for n in names})
            replies: list[Any] = []
            for start in range(0, len(names), LIST_BATCH):  # one script per batch: a round trip, not 2 per flag
                keys = [k for n in names[start : start + LIST_BATCH] for k in (self.keys.flag(n), self.keys.meta(n))]
                replies += await self._await(self._read_many(keys=keys))
        return [
            FlagRecord(
                name,
                FlagState.from_hash(_pairs(replies[2 * i])),
                True,
                _int(replies[2 * i + 1][0]),
                _float(replies[2 * i + 1][1]),
            )
            for i, name in enumerate(names)
        ]

    async def apply(
        self,
        name: str,
        change: Change,
        audit: AuditInfo,
        *,
        expected_version: int | None = None,
        change_id: str | None = None,
    ) -> ChangeResult:
        """Apply one change atomically and return the states before and after.

        With ``expected_version`` the change is applied only if the flag is still
        at that version; otherwise ``ChangeConflict`` is raised and nothing is written.
        Applying again with the same ``change_id`` (the default is a new one) returns the first
        result and writes nothing: a change whose reply was lost can be retried safely.
        """
        (result,) = await apply_together([Write(self, name, change, audit, expected_version, change_id)])
        return result

    async def apply_group(self, writes: Sequence[Write]) -> builtins.list[ChangeResult]:
        """Apply writes to stores sharing this store's Redis client as one script: all or none."""
        if not writes:
            return []
        keys: builtins.list[str] = []
        args: builtins.list[str | int] = [len(writes)]
        wait_for = 0
        for write in writes:
            if not isinstance(write.store, FlagStore) or write.store.redis is not self.redis:
                raise ValueError("changes written together must share one Redis client")
            write_keys, write_args = _script_input(write, write.store)
            keys += write_keys
            args += [len(write_args), *write_args]
            wait_for = max(wait_for, write.store.min_replicas)
        async with self._unavailable_as_error():
            if wait_for:
                pipe = self.redis.pipeline(transaction=False)  # one connection: WAIT covers the change
                await self._apply(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAIT", wait_for, REPLICA_WAIT_MS)
                reply, replicas = await pipe.execute()
                if reply[0] != "conflict" and int(replicas) < wait_for:
                    self._unavailable()
                    raise StoreUnavailable(
                        self.environment,
                        f"no replica confirmed the change within {REPLICA_WAIT_MS} ms (a failover?); it may not "
                        "be saved: check with `feature get` and run it again",
                    )
            else:
                reply = await self._apply(keys=keys, args=args)
        if reply[0] == "conflict":
            conflicted = writes[int(reply[1]) - 1]
            raise ChangeConflict(
                conflicted.flag,
                conflicted.expected_version or 0,
                int(reply[2]),
                environment=conflicted.store.environment,
            )
        return [
            _result(w.flag, w.store.environment, w.change.describe(), answer)
            for w, answer in zip(writes, reply, strict=True)
        ]

    async def last_change(self, name: str, change_id: str) -> ChangeResult | None:
        """The result of the change with this id, if it is the flag's last change; else None."""
        flag = FlagName(name).value
        async with self._unavailable_as_error({self.keys.meta(flag): "hash"}):
            last_id, result = await self._redis.hmget(self.keys.meta(flag), ["change_id", "result"])
        if last_id != change_id or not result:
            return None
        return _result(flag, self.environment, "", json.loads(result))

    async def history(self, name: str, limit: int = 10) -> builtins.list[AuditEntry]:
        """The flag's last ``limit`` changes, newest first."""
        flag = FlagName(name).value
        if limit < 1:
            raise ValueError("limit must be at least 1")
        async with self._unavailable_as_error({self.keys.audit(flag): "stream"}):
            entries: Any = await self._redis.xrevrange(self.keys.audit(flag), count=limit)
        return [AuditEntry.from_stream(entry_id, fields) for entry_id, fields in entries]

    async def changes_since(self, since: float, limit: int = 200) -> builtins.list[AuditEntry]:
        """Every flag's changes in this environment from ``since`` (epoch seconds), newest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        start = f"{max(0, int(since * 1000))}-0"
        async with self._unavailable_as_error({self.keys.audit_all: "stream"}):
            entries: Any = await self._redis.xrevrange(self.keys.audit_all, "+", start, count=limit)
        return [AuditEntry.from_stream(entry_id, fields) for entry_id, fields in entries]

    async def last_entries(self, names: Sequence[str]) -> dict[str, AuditEntry]:
        """The last audit entry of each of ``names`` that has one, read in one pipelined round trip."""
        flags = [FlagName(name).value for name in names]
        if not flags:
            return {}
        async with self._unavailable_as_error({self.keys.audit(f): "stream" for f in flags}):
            pipe = self._redis.pipeline(transaction=False)
            for flag in flags:
                pipe.xrevrange(self.keys.audit(flag), count=1)
            replies: list[Any] = await pipe.execute()
        return {flag: AuditEntry.from_stream(*found[0]) for flag, found in zip(flags, replies, strict=True) if found}

    async def entry(self, name: str, entry_id: str) -> AuditEntry | None:
        """One audit entry of a flag by its id, or None when there is none."""
        flag = FlagName(name).value
        if entry_id_parts(entry_id) is None:
            return None  # not an id Redis could have given: there is no such entry
        async with self._unavailable_as_error({self.keys.audit(flag): "stream"}):
            entries: Any = await self._redis.xrange(self.keys.audit(flag), entry_id, entry_id, count=1)
        return AuditEntry.from_stream(*entries[0]) if entries else None

    async def ping(self) -> None:
        async with self._unavailable_as_error():
            await self._await(self._redis.ping())

    @staticmethod
    async def _await(value: Awaitable[Any] | Any) -> Any:
        # redis-py types some asyncio commands as "Awaitable | value".
        if isinstance(value, Awaitable):
            return await value
        return value

    @asynccontextmanager
    async def _unavailable_as_error(self, layout: Mapping[str, str] | None = None) -> AsyncIterator[None]:
        """Redis failing becomes StoreUnavailable; a key of ``layout`` (key → type) holding another
        type becomes WrongKeyType, which names it and is bad data, not an outage."""
        try:
            yield
        except ResponseError as error:
            if "WRONGTYPE" in str(error) and layout:
                await self._raise_wrong_type(layout)
            self._unavailable()
            raise StoreUnavailable(self.environment, f"Redis refused the command: {error}") from error
        except (RedisError, OSError) as error:
            self._unavailable()
            raise StoreUnavailable(self.environment, str(error) or type(error).__name__) from error

    async def _raise_wrong_type(self, layout: Mapping[str, str]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key in layout:
                pipe.type(key)
            actual = await pipe.execute()
        except (RedisError, OSError):
            return
        for (key, expected), found in zip(layout.items(), actual, strict=True):
            if found not in ("none", expected):
                raise WrongKeyType(self.environment, key, str(found), expected)

    def _unavailable(self) -> None:
        if self._on_unavailable is not None:
            self._on_unavailable(self.environment)


def _script_input(write: Write, store: FlagStore) -> tuple[list[str], list[str | int]]:
    """The five keys and the arguments of one change in the change script."""
    flag, keys = write.flag, store.keys
    mutation = write.change.mutation()
    audit_fields = write.audit_fields(time.time())
    args: list[str | int] = [
        flag,
        int(mutation.clear),
        int(mutation.remove),
        "" if write.expected_version is None else write.expected_version,
        keys.changes_channel,
        AUDIT_PER_FLAG,
        write.change_id or uuid.uuid4().hex,  # a retried change is applied once
        len(mutation.set_fields),
    ]
    for field, value in mutation.set_fields:
        args += [field, value]
    args.append(len(mutation.delete_fields))
    args += list(mutation.delete_fields)
    args.append(len(audit_fields))
    for key, value in audit_fields.items():
        args += [key, value]
    return [keys.features, keys.flag(flag), keys.meta(flag), keys.audit(flag), keys.audit_all], args


def _result(flag: str, environment: str, description: str, reply: list[str]) -> ChangeResult:
    _, version, entry_id, before, after, existed, exists = reply
    return ChangeResult(
        name=flag,
        environment=environment,
        version=int(version),
        entry_id=entry_id,
        description=description,
        before=FlagState.from_hash(_decode_hash(before)),
        before_exists=existed == "1",
        after=FlagState.from_hash(_decode_hash(after)),
        after_exists=exists == "1",
    )


def _pairs(flat: list[Any]) -> dict[str, str]:
    """HGETALL's reply inside a script: field, value, field, value, …"""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _float(value: Any) -> float | None:
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _decode_hash(text: str) -> dict[str, str]:
    value = json.loads(text)
    # cjson encodes an empty table as {}; a non-empty hash is an object of strings.
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
