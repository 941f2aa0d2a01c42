"""References of posted messages kept by name (a cross-post's ``remember``), so that later work (a
watch's reply in the thread of a change's log-channel post) finds the message, in any process."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from handlers.core.ports import PortKey

__all__ = ["KEEP_S", "POST_REFS", "PostRefs"]

KEEP_S = 7 * 86400  # a reference is kept a week: far longer than any watch or rollout


class PostRefs:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client, self._prefix = client, prefix + "posted:"

    async def keep(self, name: str, reference: str) -> None:
        await self._client.set(self._prefix + name, reference, ex=KEEP_S)

    async def find(self, name: str) -> str | None:
        found: Any = await self._client.get(self._prefix + name)
        if found is None:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)


POST_REFS: PortKey[PostRefs] = PortKey("posted message references")
