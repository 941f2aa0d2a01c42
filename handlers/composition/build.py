"""Building the application once: connections, stores, definitions, deployments, services."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import redis.asyncio as aioredis
import structlog

from flags import FlagStorage, FlagStore, load_definitions, resolve_redis_url
from flags.connection import redis_client
from flags.embedded import DEFAULT_DIRECTORY
from flags.redis_url import replicas_to_wait_for
from handlers.composition.background import Background
from handlers.composition.checks import production_checks
from handlers.composition.commands import COMMANDS
from handlers.composition.ports import application_ports
from handlers.config import Config, Deployments, Secrets
from handlers.core.context import Application
from handlers.core.journal import ChangeJournal
from handlers.core.post_refs import POST_REFS
from handlers.core.timers import Timers
from handlers.dashboard.signin import SignIn
from handlers.deployments.mirror import GitMirror
from handlers.deployments.registry import DeploymentRegistry
from handlers.metrics import REDIS_ERRORS
from handlers.services import AppServices

__all__ = ["build_application"]

_log = structlog.get_logger("bot")


def build_application(
    config: Config,
    secrets: Secrets | None = None,
    *,
    embedded_directory: Path = DEFAULT_DIRECTORY,
    flag_stores: Mapping[str, FlagStorage] | None = None,
) -> Application:
    """The application, built once: one Redis client per URL (environments sharing a server share
    it), the bot's own stores, the definitions, the deployment registry and mirror, the services.

    ``flag_stores`` (by environment option) replaces those environments' Redis flag stores, e.g.
    with memory ones (tests); the dashboard reads them rather than snapshots, and their owner closes them.
    """
    secrets = secrets or Secrets.from_environment()
    clients: dict[str, aioredis.Redis] = {}
    own_url = config.redis_url or resolve_redis_url(None, embedded_directory)
    stores, urls = _flag_stores(config, own_url, clients, flag_stores or {})
    own, prefix = _client(clients, own_url), config.redis_prefix
    registry = mirror = None
    if config.deployments is not None:
        registry = DeploymentRegistry(
            own, config.deployments.environments, history=config.deployments.history, prefix=prefix
        )
        mirror = _mirror(config.deployments, embedded_directory)
    ui, key = config.ui, secrets.dashboard_key
    sign_in = None
    if ui is not None and key is not None:
        sign_in = SignIn(own, prefix, key, link_seconds=ui.link_seconds, session_hours=ui.session_hours)
    definitions = load_definitions(config.definitions) if config.definitions else {}
    _say_started(config, len(definitions))
    timers = Timers(own, prefix)
    services = AppServices(config, secrets, production_checks(registry))
    app = Application(
        config,
        stores,
        COMMANDS,
        definitions,
        services=services,
        journal=ChangeJournal(own, prefix),
        timers=timers,
        ports=application_ports(own, timers, prefix, registry, mirror, sign_in, config.metrics, services.prometheus),
        redis=own,
        lifecycle=Background(list(clients.values()), urls),
    )
    app.deliveries.keep = app.ports.need(POST_REFS).keep  # a watch replies in the thread of a change's post
    return app


def _client(clients: dict[str, aioredis.Redis], url: str) -> aioredis.Redis:
    """One client per Redis URL: environments on one server share it (and its atomic groups)."""
    if url not in clients:
        clients[url] = redis_client(url)
    return clients[url]


def _flag_stores(
    config: Config, own_url: str, clients: dict[str, aioredis.Redis], given: Mapping[str, FlagStorage]
) -> tuple[dict[str, FlagStorage], dict[str, str]]:
    """Each environment's flag store (the one ``given``, or Redis at its URL, the bot's own by
    default); and the Redis URL of each environment on Redis, by option."""
    if unknown := set(given) - {e.option for e in config.environments}:
        raise ValueError(f"flag_stores for environments not configured: {sorted(unknown)}")
    urls = {e.option: e.redis_url or own_url for e in config.environments if e.option not in given}
    stores: dict[str, FlagStorage] = {
        e.option: given[e.option]
        if e.option in given
        else FlagStore(
            _client(clients, urls[e.option]),
            prefix=e.prefix,
            environment=e.name,
            on_unavailable=lambda name: REDIS_ERRORS.labels(name).inc(),
            min_replicas=replicas_to_wait_for(urls[e.option]),
        )
        for e in config.environments
    }
    return stores, urls


def _mirror(settings: Deployments, embedded_directory: Path) -> GitMirror:
    """The application's repository: a local one as it is, or a mirror of a URL fetched here."""
    if settings.is_url:
        path = settings.mirror_path or embedded_directory.resolve() / "mirror.git"
    else:
        path = Path(settings.repository)
    return GitMirror(
        path,
        url=settings.repository if settings.is_url else None,
        default_branch=settings.default_branch,
        fetch_interval=settings.fetch_interval,
        releases=(settings.tag_pattern, settings.stable_branch_pattern),
    )


def _say_started(config: Config, definitions: int) -> None:
    if config.access is None:
        _log.warning(
            "bot.no_access_rules",
            message="the configuration has no `access` section: everyone may change every environment",
        )
    _log.info(
        "bot.started",
        environments=[e.name for e in config.environments],
        definitions=definitions,
        config=str(config.path) if config.path else None,
    )
