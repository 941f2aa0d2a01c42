"""Redis clients for the store and the SDK: bounded, blocking pools that reconnect with backoff."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff

from flags.redis_url import parse_sentinel_url

__all__ = ["POOL_CONNECTIONS", "POOL_WAIT_S", "redis_client"]

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
