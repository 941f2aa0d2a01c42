"""``AsyncFlags``: the asyncio SDK client.

The same snapshot as ``Flags``, kept fresh by one task that applies the
store's change announcements as they arrive and reloads every flag on an
interval. ``enabled()`` is a plain (not async) call: it never touches Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Iterable, Mapping
from types import TracebackType
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from flags._client_base import DEFAULT_POLL_INTERVAL, SnapshotClient
from flags.connection import redis_client
from flags.definitions import Definition
from flags.keys import Keys
from flags.state import FlagState

__all__ = ["AsyncFlags", "read_all_states"]

_STOP_GRACE_S = 2.0  # how long close() waits for the refresh task, asked to stop, then cancelled


async def read_all_states(client: aioredis.Redis, keys: Keys) -> dict[str, FlagState]:
    """Every flag in the feature set with its gates: one SMEMBERS, one pipelined HGETALL each."""
    names = sorted(str(n) for n in await cast(Awaitable[Iterable[Any]], client.smembers(keys.features)))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.flag(name))
    replies = await pipe.execute()
    return {name: FlagState.from_hash(fields) for name, fields in zip(names, replies, strict=True)}


class AsyncFlags(SnapshotClient):
    """Evaluate flags from an in-process snapshot of one environment's Redis (asyncio)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        definitions: Mapping[str, Definition] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        super().__init__(url, prefix, definitions, poll_interval)
        self._client = redis_client(url)
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> AsyncFlags:
        """Load the snapshot and start keeping it fresh. Never raises: with Redis down it
        serves definition defaults and keeps trying."""
        if self._task is None:
            await self._subscribe()
            await self.reload()
            self._task = asyncio.create_task(self._run(), name="flags-refresh")
        return self

    async def reload(self) -> bool:
        """Read every flag now; returns False (and keeps the old snapshot) if Redis failed."""
        self._snapshot.begin_reload()
        try:
            states = await read_all_states(self._client, self.keys)
            await self._drain()
        except (RedisError, OSError) as error:
            self._snapshot.abandon_reload()
            self._freshness.failed(error, self._snapshot.loaded_at)
            return False
        self._snapshot.finish_reload(states)
        self._freshness.succeeded()
        return True

    async def close(self) -> None:
        """Stop the refresh task and disconnect. The task is asked to stop and notices within one
        wait for announcements (at most 0.5 s); it is cancelled only if it does not (e.g. stuck
        reconnecting). Cancelling is not the first resort: a cancel that lands as a read times out
        can be taken for that timeout by redis-py, and the loop would then run on forever."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=_STOP_GRACE_S)
            if not done:
                task.cancel()
                await asyncio.wait({task}, timeout=_STOP_GRACE_S)
            if task.done() and not task.cancelled():
                with contextlib.suppress(RedisError, OSError):
                    task.result()
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._client.aclose()

    async def __aenter__(self) -> AsyncFlags:
        return await self.start()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _subscribe(self) -> bool:
        try:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(self.keys.changes_channel)
        except (RedisError, OSError) as error:
            self._freshness.failed(error, self._snapshot.loaded_at)
            return False
        self._pubsub = pubsub
        return True

    async def _drain(self, timeout: float = 0.0) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return
        message = await pubsub.get_message(timeout=timeout)
        while message is not None:
            if message.get("type") == "message":
                self._snapshot.apply_announcement(message["data"])
            message = await pubsub.get_message(timeout=0.0)

    async def _run(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        backoff = 0.1
        while not self._closing:
            self._notify_listeners()
            try:
                if self._pubsub is None:
                    if not await self._subscribe():
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
                        continue
                    await self.reload()  # announcements may have been missed while disconnected
                await self._drain(timeout=max(0.0, min(0.5, next_poll - time.monotonic())))
            except (RedisError, OSError) as error:
                self._freshness.failed(error, self._snapshot.loaded_at)
                if self._pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                self._pubsub = None
                continue
            backoff = 0.1
            if time.monotonic() >= next_poll:
                await self.reload()
                next_poll = time.monotonic() + self.poll_interval
