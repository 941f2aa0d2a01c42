"""Requests already handled, remembered in the bot's own Redis so every worker and replica agrees."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.slack_requests import SIGNATURE_MAX_AGE_S

__all__ = ["GITLAB_WINDOW_S", "SLACK_WINDOW_S", "ReplayCheckFailed", "ReplayGuard"]

# A signature is accepted while its timestamp is within 5 minutes either side of now: 10 minutes in all.
SLACK_WINDOW_S = 2 * SIGNATURE_MAX_AGE_S + 60
GITLAB_WINDOW_S = 24 * 3600  # GitLab retries a failed delivery, and people press "Resend", within a day
CHECK_TIMEOUT_S = 2.0


class ReplayCheckFailed(Exception):
    """Redis did not answer whether a request was seen before; the text says why."""


@dataclass(frozen=True)
class ReplayGuard:
    client: aioredis.Redis
    prefix: str = ""  # the configuration's redis_prefix

    def key(self, kind: str, identity: str) -> str:
        digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()
        return f"{self.prefix}chatops:seen:{kind}:{digest}"

    async def first_time(self, kind: str, identity: str, window_s: int) -> bool:
        """True the first time ``identity`` is seen within ``window_s`` (remembering it), False after.

        Raises ReplayCheckFailed when Redis does not answer within CHECK_TIMEOUT_S."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return bool(await self.client.set(self.key(kind, identity), "1", nx=True, ex=window_s))
        except (RedisError, OSError, TimeoutError) as error:
            raise ReplayCheckFailed(str(error) or type(error).__name__) from error

    async def forget(self, kind: str, identity: str) -> None:
        """Not handled after all (e.g. the registry failed): a redelivery must go through."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self.client.delete(self.key(kind, identity))
        except (RedisError, OSError, TimeoutError):
            pass  # then the redelivery is answered "already recorded" until the key expires
