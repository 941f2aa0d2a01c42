"""``Flags``: the synchronous SDK client, for threaded applications.

A background thread keeps the snapshot fresh: it listens to the store's change
announcements (applied as they arrive) and reloads every flag on an interval,
for changes made by other writers (a Ruby application using Flipper, say).
``enabled()`` reads only the in-process snapshot, never Redis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, cast

import redis
from redis.client import PubSub
from redis.sentinel import Sentinel

from flags._client_base import DEFAULT_POLL_INTERVAL, SnapshotClient
from flags.definitions import Definition
from flags.keys import Keys
from flags.redis_url import parse_sentinel_url
from flags.state import FlagState

__all__ = ["Flags"]


def read_all_states(client: redis.Redis, keys: Keys) -> dict[str, FlagState]:
    """Every flag in the feature set with its gates: one SMEMBERS, one pipelined HGETALL each."""
    names = sorted(str(n) for n in cast(Iterable[Any], client.smembers(keys.features)))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.flag(name))
    return {name: FlagState.from_hash(fields) for name, fields in zip(names, pipe.execute(), strict=True)}


def _sync_client(url: str) -> redis.Redis:
    options: dict[str, Any] = {"decode_responses": True, "socket_timeout": 5, "socket_connect_timeout": 5}
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return redis.Redis.from_url(url, **options)
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(sentinel.sentinels), sentinel_kwargs=sentinel.sentinel_options(), ssl=sentinel.tls
    )
    client: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        sentinel.master, **sentinel.master_options(), **options
    )
    return client


class Flags(SnapshotClient):
    """Evaluate flags from an in-process snapshot of one environment's Redis."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        definitions: Mapping[str, Definition] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        super().__init__(url, prefix, definitions, poll_interval)
        self._client = _sync_client(url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pubsub: PubSub | None = None
        self._lock = threading.RLock()  # reload() may also be called by the application

    # -- the public surface --------------------------------------------------------------------

    def start(self) -> Flags:
        """Load the snapshot and start keeping it fresh. Never raises: with Redis down it
        serves definition defaults and keeps trying."""
        if self._thread is None:
            self._subscribe()
            self.reload()
            self._thread = threading.Thread(target=self._run, name="flags-refresh", daemon=True)
            self._thread.start()
        return self

    def reload(self) -> bool:
        """Read every flag now; returns False (and keeps the old snapshot) if Redis failed."""
        with self._lock:
            return self._reload()

    def _reload(self) -> bool:
        self._snapshot.begin_reload()
        try:
            states = read_all_states(self._client, self.keys)
        except (redis.RedisError, OSError) as error:
            self._snapshot.abandon_reload()
            self._freshness.failed(error, self._snapshot.loaded_at)
            return False
        self._drain()  # announcements that raced the read are applied on top of it
        self._snapshot.finish_reload(states)
        self._freshness.succeeded()
        return True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._pubsub is not None:
            self._pubsub.close()
        self._client.close()

    def __enter__(self) -> Flags:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the refresh thread -------------------------------------------------------------------

    def _subscribe(self) -> bool:
        try:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            pubsub.subscribe(self.keys.changes_channel)
        except (redis.RedisError, OSError) as error:
            self._freshness.failed(error, self._snapshot.loaded_at)
            return False
        self._pubsub = pubsub
        return True

    def _drain(self, timeout: float = 0.0) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return
        message = pubsub.get_message(timeout=timeout)
        with self._lock:
            while message is not None:
                if message.get("type") == "message":
                    self._snapshot.apply_announcement(message["data"])
                message = pubsub.get_message(timeout=0.0)

    def _run(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        backoff = 0.1
        while not self._stop.is_set():
            self._notify_listeners()
            try:
                if self._pubsub is None:
                    if not self._subscribe():
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, 5.0)
                        continue
                    self.reload()  # announcements may have been missed while disconnected
                self._drain(timeout=max(0.0, min(0.5, next_poll - time.monotonic())))
            except (redis.RedisError, OSError) as error:
                self._freshness.failed(error, self._snapshot.loaded_at)
                if self._pubsub is not None:
                    self._pubsub.close()
                self._pubsub = None
                continue
            backoff = 0.1
            if time.monotonic() >= next_poll:
                self.reload()
                next_poll = time.monotonic() + self.poll_interval
