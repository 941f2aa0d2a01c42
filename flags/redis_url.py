"""Redis URLs, including Sentinel: ``redis+sentinel://[user:password@]host:port[,host:port…]/master[/db]``.

``rediss+sentinel://`` reaches the master over TLS. The password is the master's (and, if the
sentinels require one, theirs too). Plain ``redis://``, ``rediss://`` and ``unix://`` URLs are
redis-py's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["SentinelURL", "parse_sentinel_url", "replicas_to_wait_for"]


@dataclass(frozen=True, slots=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def sentinel_options(self) -> dict[str, Any]:
        """Options for the connections to the sentinels themselves."""
        return {"password": self.password, "socket_timeout": 2} if self.password else {"socket_timeout": 2}

    def master_options(self) -> dict[str, Any]:
        """Options for the connections to the master the sentinels name."""
        return {"db": self.db, "username": self.username, "password": self.password}


def replicas_to_wait_for(url: str) -> int:
    """How many replicas must confirm a change before it counts as done: 1 behind Sentinel (so a
    failover keeps it), 0 otherwise."""
    return 1 if parse_sentinel_url(url) is not None else 0


def parse_sentinel_url(url: str) -> SentinelURL | None:
    """The parts of a Sentinel URL, or None for any other URL. Raises ValueError when malformed."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("redis+sentinel", "rediss+sentinel"):
        return None
    credentials, _, location = rest.rpartition("@")
    hosts, _, path = location.partition("/")
    parts = [p for p in path.split("/") if p]
    if not hosts or not parts:
        raise ValueError("a Sentinel URL is redis+sentinel://host:port[,host:port]/MASTER_NAME[/DB]")
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"sentinel address {host!r} must be host:port")
        sentinels.append((name, int(port)))
    user = password = None
    if credentials:
        split = urlsplit(f"redis://{credentials}@x")
        user = unquote(split.username) if split.username else None
        password = unquote(split.password) if split.password else None
    return SentinelURL(
        sentinels=tuple(sentinels),
        master=unquote(parts[0]),
        db=int(parts[1]) if len(parts) > 1 else 0,
        username=user,
        password=password,
        tls=scheme == "rediss+sentinel",
    )
