"""The flag store: one environment's flags in Redis, in Flipper's layout.

Reads are plain Redis reads. Every change runs as one Lua script, so the gate
mutation, the version bump, both audit entries and the announcement on the
changes channel happen together or not at all.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError, ResponseError

from flags.changes import Change
from flags.errors import ChangeConflict, StoreUnavailable, WrongKeyType
from flags.keys import Keys
from flags.records import AuditEntry, AuditInfo, ChangeResult, FlagRecord
from flags.redis_url import parse_sentinel_url, replicas_to_wait_for
from flags.state import FlagState
from flags.values import FlagName

__all__ = ["FlagStore", "redis_client"]

_SCRIPT = resources.files("flags").joinpath("apply_change.lua").read_text(encoding="utf-8")

#: Audit entries kept per flag (approximate trimming); per environment, 100,000 (in the script).
AUDIT_PER_FLAG = 1000
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

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "", environment: str = "") -> FlagStore:
        return cls(redis_client(url), prefix=prefix, environment=environment, min_replicas=replicas_to_wait_for(url))

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

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
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(self.keys.flag(name))
                pipe.hget(self.keys.meta(name), "version")
            replies = await pipe.execute()
        return [
            FlagRecord(name, FlagState.from_hash(replies[2 * i]), True, _int(replies[2 * i + 1]))
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
        flag = FlagName(name).value
        mutation = change.mutation()
        description = change.describe()
        audit_fields = {
            "flag": flag,
            "environment": self.environment,
            "who": audit.who,
            "who_id": audit.who_id,
            "at": f"{time.time():.6f}",
            "channel": audit.channel,
            "command": audit.command,
            "description": description,
            "checks": json.dumps(dict(audit.checks), sort_keys=True),
        }
        args: list[str | int] = [
            flag,
            int(mutation.clear),
            int(mutation.remove),
            "" if expected_version is None else expected_version,
            self.keys.changes_channel,
            AUDIT_PER_FLAG,
            change_id or uuid.uuid4().hex,  # a retried change is applied once
            len(mutation.set_fields),
        ]
        for field, value in mutation.set_fields:
            args += [field, value]
        args.append(len(mutation.delete_fields))
        args += list(mutation.delete_fields)
        args.append(len(audit_fields))
        for key, value in audit_fields.items():
            args += [key, value]
        keys = [
            self.keys.features,
            self.keys.flag(flag),
            self.keys.meta(flag),
            self.keys.audit(flag),
            self.keys.audit_all,
        ]
        async with self._unavailable_as_error():
            if self.min_replicas:
                pipe = self._redis.pipeline(transaction=False)  # one connection: WAIT covers the change
                await self._apply(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAIT", self.min_replicas, REPLICA_WAIT_MS)
                reply, replicas = await pipe.execute()
                if reply[0] == "ok" and int(replicas) < self.min_replicas:
                    self._unavailable()
                    raise StoreUnavailable(
                        self.environment,
                        f"no replica confirmed the change within {REPLICA_WAIT_MS} ms (a failover?); it may not "
                        "be saved: check with `feature get` and run it again",
                    )
            else:
                reply = await self._apply(keys=keys, args=args)
        if reply[0] == "conflict":
            raise ChangeConflict(flag, expected_version or 0, int(reply[1]))
        _, version, entry_id, before, after, existed, exists = reply
        return ChangeResult(
            name=flag,
            environment=self.environment,
            version=int(version),
            entry_id=entry_id,
            description=description,
            before=FlagState.from_hash(_decode_hash(before)),
            before_exists=existed == "1",
            after=FlagState.from_hash(_decode_hash(after)),
            after_exists=exists == "1",
        )

    async def history(self, name: str, limit: int = 10) -> builtins.list[AuditEntry]:
        """The flag's last ``limit`` changes, newest first."""
        flag = FlagName(name).value
        if limit < 1:
            raise ValueError("limit must be at least 1")
        async with self._unavailable_as_error({self.keys.audit(flag): "stream"}):
            entries: Any = await self._redis.xrevrange(self.keys.audit(flag), count=limit)
        return [AuditEntry.from_stream(entry_id, fields) for entry_id, fields in entries]

    async def entry(self, name: str, entry_id: str) -> AuditEntry | None:
        """One audit entry of a flag by its id, or None when there is none."""
        flag = FlagName(name).value
        if not _stream_id(entry_id):
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


#: Connections one client (one Redis URL, shared by its environments) keeps at most; a command
#: that finds them all busy waits for one, up to POOL_WAIT_S, instead of failing at once.
POOL_CONNECTIONS = 64
POOL_WAIT_S = 5.0


def redis_client(url: str) -> aioredis.Redis:
    """A client that reconnects with backoff: a command that meets a dropped connection is retried
    (up to 3 times, 50 ms to 1 s apart). Changes are safe to retry: each carries a change id.
    Its pool is bounded and blocking: a burst queues for connections rather than failing."""
    retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=3)
    options: dict[str, Any] = {
        "decode_responses": True,
        "health_check_interval": 30,
        "retry": retry,
        "socket_connect_timeout": 5,
        "socket_timeout": 10,
    }
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_CONNECTIONS, timeout=POOL_WAIT_S, **options
        )
        return aioredis.Redis.from_pool(pool)  # closing the client closes its pool
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(sentinel.sentinels), sentinel_kwargs=sentinel.sentinel_options(), ssl=sentinel.tls
    )
    client: aioredis.Redis = sentinels.master_for(sentinel.master, **sentinel.master_options(), **options)
    return client


def _stream_id(text: str) -> bool:
    """Whether ``text`` is a Redis stream id (two unsigned 64-bit numbers, ``MS-SEQ``)."""
    ms, dash, seq = text.partition("-")
    return bool(dash) and all(p.isascii() and p.isdigit() and int(p) < 2**64 for p in (ms, seq))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _decode_hash(text: str) -> dict[str, str]:
    value = json.loads(text)
    # cjson encodes an empty table as {}; a non-empty hash is an object of strings.
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
