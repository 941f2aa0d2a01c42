"""Limits against slow and idle peers, for ``chatops serve``.

aiohttp closes idle keep-alive connections but has no deadline for a request's headers, so every
accepted connection goes through :class:`_ConnectionGuard`, which closes it when its first
request's headers are not complete within ``HEADER_TIMEOUT_S`` and refuses connections beyond
``MAX_CONNECTIONS`` per process; a middleware answers 408 to a body that is not complete within
``BODY_TIMEOUT_S``. Each limit can be overridden by an environment variable
(:meth:`ConnectionLimits.from_environment`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web
from prometheus_client import Counter, Gauge

__all__ = ["BACKLOG", "MAX_FIELD_SIZE", "MAX_LINE_SIZE", "ConnectionLimits", "GuardedSite", "body_deadline"]

_log = structlog.get_logger("bot")

# Limits against slow and idle peers (per process; ``--workers N`` has N times the connections).
# Slack sends a whole request at once and needs its ack within 3 s, so these only ever close
# connections that are stalled, abandoned, or attacking (slowloris).
HEADER_TIMEOUT_S = 10.0  # a connection's first request must have all its headers by then (env CHATOPS_HEADER_TIMEOUT_S)
BODY_TIMEOUT_S = 10.0  # a request's body must have fully arrived this long after its headers (CHATOPS_BODY_TIMEOUT_S)
KEEPALIVE_TIMEOUT_S = 15.0  # an idle keep-alive connection is closed after this (CHATOPS_KEEPALIVE_TIMEOUT_S)
MAX_CONNECTIONS = 1000  # open connections per process; more are answered 503 and closed (CHATOPS_MAX_CONNECTIONS)
BACKLOG = 1024  # connections the kernel queues before accept() (aiohttp's 128 overflows in a burst: 1 s SYN retry)
MAX_LINE_SIZE = 8190  # request line, bytes (aiohttp's default, stated): longer is a 400
MAX_FIELD_SIZE = 8190  # one header field, bytes (aiohttp's default, stated): longer is a 400

OPEN_CONNECTIONS = Gauge("chatops_http_connections", "Open HTTP connections of this process.")
CLOSED_CONNECTIONS = Counter(
    "chatops_http_connections_closed",
    "HTTP connections the server closed for a limit, by reason (header_timeout, body_timeout, over_limit).",
    ["reason"],
)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    keepalive_timeout_s: float = KEEPALIVE_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> ConnectionLimits:
        """The defaults, each overridden by its ``CHATOPS_*`` variable when set (ValueError if not a
        positive number)."""
        environ = dict(os.environ) if environ is None else environ

        def number(name: str, default: float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number of seconds or connections, not {raw!r}") from None
            if not value > 0:
                raise ValueError(f"{name} must be positive, not {raw!r}")
            return value

        return cls(
            header_timeout_s=number("CHATOPS_HEADER_TIMEOUT_S", HEADER_TIMEOUT_S),
            body_timeout_s=number("CHATOPS_BODY_TIMEOUT_S", BODY_TIMEOUT_S),
            keepalive_timeout_s=number("CHATOPS_KEEPALIVE_TIMEOUT_S", KEEPALIVE_TIMEOUT_S),
            max_connections=int(number("CHATOPS_MAX_CONNECTIONS", MAX_CONNECTIONS)),
        )


class _BodyTimeout(TimeoutError):
    """Set on a request's body stream when it did not arrive in time."""


def body_deadline(timeout_s: float) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware: a body still incomplete ``timeout_s`` after the headers fails the handler's read;
    the answer is 408 and the connection is closed."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        content = request.content
        if not request.can_read_body or content.is_eof():  # no body, or all of it is here already
            return await handler(request)

        def expire() -> None:
            if not content.is_eof():
                content.set_exception(_BodyTimeout(f"request body not complete within {timeout_s:g} s"))

        timer = asyncio.get_running_loop().call_later(timeout_s, expire)
        try:
            return await handler(request)
        except _BodyTimeout as error:
            CLOSED_CONNECTIONS.labels("body_timeout").inc()
            _log.info("bot.slow_request_closed", reason=str(error), path=request.path, peer=request.remote)
            response = web.json_response({"error": "request timeout: the body came too slowly"}, status=408)
            response.force_close()
            return response
        finally:
            timer.cancel()

    return middleware


class GuardedSite(web.BaseSite):
    """A TCP site whose every connection goes through a :class:`_ConnectionGuard`."""

    __slots__ = ("_host", "_limits", "_open", "_port", "_reuse_port")

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, reuse_port: bool, limits: ConnectionLimits
    ) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._host, self._port, self._reuse_port, self._limits = host, port, reuse_port, limits
        self._open: set[_ConnectionGuard] = set()

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _ConnectionGuard(server(), self._open, self._limits),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=True,
            reuse_port=self._reuse_port or None,
        )


_OVER_LIMIT_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n"
    b"Connection: close\r\n\r\ntoo many open connections"
)


class _ConnectionGuard(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: refuses it beyond ``max_connections`` (503,
    closed at once), and closes it when the first request's headers are not complete within
    ``header_timeout_s`` (aiohttp's own keep-alive timeout then bounds every later wait)."""

    _last_limit_warning = 0.0  # the over-limit warning is logged at most every 10 s

    def __init__(self, inner: asyncio.Protocol, open_guards: set[_ConnectionGuard], limits: ConnectionLimits) -> None:
        self._inner = inner
        self._open = open_guards
        self._limits = limits
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""  # the last bytes seen while waiting for the end of the headers
        self._accepted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if len(self._open) >= self._limits.max_connections:
            CLOSED_CONNECTIONS.labels("over_limit").inc()
            now = time.monotonic()
            if now - _ConnectionGuard._last_limit_warning > 10:
                _ConnectionGuard._last_limit_warning = now
                _log.warning("bot.connection_limit", max_connections=self._limits.max_connections)
            transport.write(_OVER_LIMIT_ANSWER)
            transport.close()
            return
        self._accepted = True
        self._open.add(self)
        OPEN_CONNECTIONS.inc()
        self._timer = asyncio.get_running_loop().call_later(self._limits.header_timeout_s, self._headers_too_slow)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen or b"\n\n" in seen:
                self._timer.cancel()
                self._timer, self._tail = None, b""
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._accepted else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._accepted:
            self._accepted = False
            self._open.discard(self)
            OPEN_CONNECTIONS.dec()
            self._inner.connection_lost(exc)
        self._transport = None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _headers_too_slow(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            CLOSED_CONNECTIONS.labels("header_timeout").inc()
            _log.debug(
                "bot.slow_connection_closed", reason="headers not complete", seconds=self._limits.header_timeout_s
            )
            self._transport.close()
