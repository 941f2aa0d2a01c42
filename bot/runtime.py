"""What a running bot holds: configuration, one store per environment, definitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
import structlog

from bot.config import Config
from flags import Definition, FlagStore, load_definitions, resolve_redis_url
from flags.embedded import DEFAULT_DIRECTORY

__all__ = ["Runtime"]

_log = structlog.get_logger("bot")


@dataclass
class Runtime:
    config: Config
    stores: Mapping[str, FlagStore]
    definitions: Mapping[str, Definition]
    clients: list[aioredis.Redis] = field(default_factory=list)

    @classmethod
    def start(cls, config: Config, embedded_directory: Path = DEFAULT_DIRECTORY) -> Runtime:
        """Connect every environment (sharing one client per Redis URL) and load definitions."""
        own = config.redis_url or None
        clients: dict[str, aioredis.Redis] = {}
        stores: dict[str, FlagStore] = {}
        for environment in config.environments:
            url = environment.redis_url or own or resolve_redis_url(None, embedded_directory)
            if url not in clients:
                clients[url] = aioredis.from_url(url, decode_responses=True, health_check_interval=30)
            stores[environment.option] = FlagStore(
                clients[url], prefix=environment.prefix, environment=environment.name
            )
        definitions = load_definitions(config.definitions) if config.definitions else {}
        if config.access is None:
            _log.warning(
                "bot.no_access_rules",
                message="the configuration has no `access` section: everyone may change every environment",
            )
        _log.info(
            "bot.started",
            environments=[e.name for e in config.environments],
            definitions=len(definitions),
            config=str(config.path) if config.path else None,
        )
        return cls(config, stores, definitions, list(clients.values()))

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
