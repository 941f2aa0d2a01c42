"""The deployment registry in the bot's own Redis.

Per deployment environment: the current (last successful) deployment, the one
running now if it is newer, and a bounded history. Events are ordered by their
own timestamps, so a late webhook can never roll the registry back.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from handlers.core.ports import PortKey

__all__ = [
    "REGISTRY",
    "STATUSES",
    "Deployment",
    "DeploymentRegistry",
    "EnvironmentStatus",
    "InvalidDeployment",
    "RegistryUnavailable",
    "UnknownEnvironment",
]

STATUSES = ("running", "success", "failed", "canceled")
_SHA = re.compile(r"[0-9a-f]{7,40}")
_SCRIPT = resources.files("handlers.deployments").joinpath("record.lua").read_text(encoding="utf-8")


class InvalidDeployment(ValueError):
    """A deployment event with a missing or malformed field; the message names it."""


class UnknownEnvironment(InvalidDeployment):
    def __init__(self, environment: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown deployment environment {environment!r}; known: {', '.join(known)}")
        self.environment = environment


class RegistryUnavailable(Exception):
    """The bot's own Redis could not be reached."""


@dataclass(frozen=True, slots=True)
class Deployment:
    environment: str
    sha: str
    ref: str
    status: str
    at: float  # when the status changed (seconds since the epoch)
    package: str = ""
    url: str = ""  # pipeline or job
    started_at: float | None = None
    finished_at: float | None = None

    def __post_init__(self) -> None:
        # Milliseconds: exact through Lua's 14-digit numbers, fine enough to order deployments.
        object.__setattr__(self, "at", round(self.at, 3))
        if not _SHA.fullmatch(self.sha):
            raise InvalidDeployment(f"sha {self.sha[:50]!r} is not a commit SHA (7 to 40 hex characters)")
        if self.status not in STATUSES:
            raise InvalidDeployment(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if not self.ref or len(self.ref) > 255 or any(c.isspace() for c in self.ref):
            raise InvalidDeployment("ref must be a branch or tag name (no spaces, at most 255 characters)")
        if len(self.package) > 255:
            raise InvalidDeployment("package must be at most 255 characters")
        if self.url and (not self.url.startswith(("https://", "http://")) or len(self.url) > 2000):
            raise InvalidDeployment("url must be an http(s) URL of at most 2,000 characters")
        if not 0 < self.at < 1e11:
            raise InvalidDeployment("the time of the event is missing or impossible")

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, "")}, sort_keys=True)

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Deployment:
        def number(key: str) -> float | None:
            value = fields.get(key)
            return None if value in (None, "") else float(value)

        return cls(
            environment=str(fields["environment"]),
            sha=str(fields["sha"]),
            ref=str(fields["ref"]),
            status=str(fields["status"]),
            at=float(fields["at"]),
            package=str(fields.get("package") or ""),
            url=str(fields.get("url") or ""),
            started_at=number("started_at"),
            finished_at=number("finished_at"),
        )


@dataclass(frozen=True, slots=True)
class EnvironmentStatus:
    environment: str
    current: Deployment | None
    running: Deployment | None


class DeploymentRegistry:
    def __init__(
        self, client: aioredis.Redis, environments: tuple[str, ...], *, history: int = 50, prefix: str = ""
    ) -> None:
        self._redis = client
        self.environments = environments
        self.history_size = history
        self._prefix = f"{prefix}chatops:deploy:"
        self._record = client.register_script(_SCRIPT)

    def _key(self, environment: str, part: str) -> str:
        return f"{self._prefix}{environment}:{part}"

    def check(self, deployment: Deployment) -> None:
        if deployment.environment not in self.environments:
            raise UnknownEnvironment(deployment.environment, self.environments)

    async def record(self, deployment: Deployment) -> str:
        """Store an event; returns "current", "running" or "" (history only: an older event)."""
        self.check(deployment)
        env = deployment.environment
        keys = [self._key(env, "current"), self._key(env, "running"), self._key(env, "history")]
        args: list[str | int] = [
            deployment.to_json(),
            repr(deployment.at),
            deployment.status,
            deployment.sha,
            self.history_size,
        ]
        try:
            became = await self._record(keys=keys, args=args)
        except (RedisError, OSError) as error:
            raise RegistryUnavailable(f"could not reach the bot's Redis: {error}") from error
        return str(became or "")

    async def status(self) -> list[EnvironmentStatus]:
        """Every environment in configured order, with its current and running deployment."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            for env in self.environments:
                pipe.hgetall(self._key(env, "current"))
                pipe.hgetall(self._key(env, "running"))
            replies = await pipe.execute()
        except (RedisError, OSError) as error:
            raise RegistryUnavailable(f"could not reach the bot's Redis: {error}") from error
        return [
            EnvironmentStatus(env, _deployment(replies[2 * i]), _deployment(replies[2 * i + 1]))
            for i, env in enumerate(self.environments)
        ]

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as error:
            raise RegistryUnavailable(f"could not reach the bot's Redis: {error}") from error

    async def history(self, environment: str, limit: int = 10) -> list[Deployment]:
        if environment not in self.environments:
            raise UnknownEnvironment(environment, self.environments)
        try:
            raw: Any = await self._redis.zrevrange(self._key(environment, "history"), 0, limit - 1)
        except (RedisError, OSError) as error:
            raise RegistryUnavailable(f"could not reach the bot's Redis: {error}") from error
        return [Deployment.from_fields(json.loads(item)) for item in raw]


def _deployment(fields: dict[str, Any]) -> Deployment | None:
    if not fields:
        return None
    try:
        return Deployment.from_fields(fields)
    except (KeyError, ValueError):
        return None


REGISTRY: PortKey[DeploymentRegistry] = PortKey("deployment registry")
