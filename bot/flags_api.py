"""The flags API over HTTP: OpenFeature's remote evaluation protocol (OFREP).

Routes, for the key's own environment and for one named in the path (``/gprd/ofrep/v1/...``):
``POST /ofrep/v1/evaluate/flags/{key}`` (one flag), ``POST /ofrep/v1/evaluate/flags`` (every flag,
with ``ETag``/``If-None-Match``), ``GET /ofrep/v1/configuration`` (polling hints), and the CORS
preflight (``OPTIONS``) for the configured origins. Bodies are read up to ``max_body_bytes``;
every refusal is logged (``flags_api.refused``). ``chatops flags-api`` serves these with
``/healthz``, ``/readyz`` and ``/metrics``; ``chatops serve`` mounts them with ``mount_in_serve``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from bot.http_limits import MAX_FIELD_SIZE, MAX_LINE_SIZE, ConnectionLimits, GuardedSite, body_deadline
from flags import DefinitionError
from handlers.config import Config
from handlers.flags_api import Answer, ApiKey, FlagsApi, KeysUnavailable
from handlers.metrics import LATENCY_BUCKETS

__all__ = ["FLAGS_API", "add_flags_api", "build_flags_api", "flags_api_app", "run_flags_api", "serve_flags_api"]

_log = structlog.get_logger("bot")
FLAGS_API = web.AppKey("flags_api", FlagsApi)
PREFIXES = ("", "/{environment}")  # the key's own environment, or one named in the path
_ALLOWED_HEADERS = "Authorization, X-API-Key, Content-Type, If-None-Match"
_PREFLIGHT_MAX_AGE_S = "600"
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # made once, not per answer

REQUESTS = Counter(
    "chatops_flags_api_requests",
    "Flags API requests, by endpoint (flag, flags, configuration, preflight) and HTTP status.",
    ["endpoint", "status"],
)
SECONDS = Histogram(
    "chatops_flags_api_seconds", "Flags API requests, from handler in to answer ready.", buckets=LATENCY_BUCKETS
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Endpoint = Callable[[web.Request, ApiKey], Awaitable[Answer]]


def add_flags_api(app: web.Application, api: FlagsApi) -> None:
    """Serve the OFREP routes on ``app``; the snapshots start and stop with it."""
    routes = _Routes(api)
    for prefix in PREFIXES:
        app.router.add_post(prefix + "/ofrep/v1/evaluate/flags/{key}", routes.guarded("flag", routes.flag))
        app.router.add_post(prefix + "/ofrep/v1/evaluate/flags", routes.guarded("flags", routes.flags))
        app.router.add_get(prefix + "/ofrep/v1/configuration", routes.guarded("configuration", routes.configuration))
        app.router.add_route("OPTIONS", prefix + "/ofrep/v1/{path:.*}", routes.preflight)
    app[FLAGS_API] = api

    async def start(app: web.Application) -> None:
        await api.start()

    async def close(app: web.Application) -> None:
        await api.close()

    app.on_startup.append(start)
    app.on_cleanup.append(close)


class _Routes:
    def __init__(self, api: FlagsApi) -> None:
        self._api = api
        self._limit = api.settings.max_body_bytes

    def guarded(self, endpoint: str, answer: Endpoint) -> Handler:
        """``answer`` for a request whose origin (if any) is allowed and whose key may read the
        environment; every refusal logged; CORS headers for an allowed origin."""
        counters: dict[int, Counter] = {}  # by status: REQUESTS's child (its labels looked up once)

        async def handler(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            origin = request.headers.get("Origin")
            allowed = origin is not None and self._api.origin_allowed(origin)
            key = ""
            if origin is not None and not allowed:
                result = _origin_refused(origin)
            else:
                headers, environment = request.headers, request.match_info.get("environment")
                who = self._api.authorize(headers.get("Authorization"), headers.get("X-API-Key"), environment, origin)
                if isinstance(who, ApiKey):
                    key = who.name
                    result = await answer(request, who)
                else:
                    result = who
            if result.refused:
                _refused(request, result, key or result.key)
            counter = counters.get(result.status)
            if counter is None:
                counter = counters[result.status] = REQUESTS.labels(endpoint, str(result.status))
            counter.inc()
            SECONDS.observe(time.perf_counter() - started)
            return _response(result, origin if allowed else None)

        return handler

    async def flag(self, request: web.Request, key: ApiKey) -> Answer:
        body = await _read_body(request, self._limit)
        if body is None:
            return _too_large(request, self._limit, {"key": request.match_info["key"]})
        return self._api.evaluate_flag(key, request.match_info["key"], body)

    async def flags(self, request: web.Request, key: ApiKey) -> Answer:
        body = await _read_body(request, self._limit)
        if body is None:
            return _too_large(request, self._limit, {})
        return self._api.evaluate_flags(key, body, request.headers.get("If-None-Match"))

    async def configuration(self, request: web.Request, key: ApiKey) -> Answer:
        return self._api.configuration(key, request.headers.get("If-None-Match"))

    async def preflight(self, request: web.Request) -> web.StreamResponse:
        """CORS preflight: allowed origins may POST and GET with a key and If-None-Match."""
        origin = request.headers.get("Origin")
        if origin is None or not self._api.origin_allowed(origin):
            result = _origin_refused(origin)
            _refused(request, result, "")
            REQUESTS.labels("preflight", "403").inc()
            return _response(result, None)
        REQUESTS.labels("preflight", "204").inc()
        headers = {
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
            "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE_S,
        }
        return _response(Answer(204, None, headers), origin)


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The request's body, or None when it is longer than ``limit`` bytes (not read further)."""
    length = request.content_length
    if length is not None:  # read whole, at once
        if length > limit:
            return None
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as short:
            return short.partial
    body = bytearray()
    while len(body) <= limit:
        chunk = await request.content.read(limit + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
    return None


def _origin_refused(origin: str | None) -> Answer:
    shown = "this request has no Origin" if origin is None else f"{origin[:100]} is not one of them"
    details = f"Browsers may call this API only from the origins its configuration lists (cors_origins); {shown}"
    return Answer(403, {"errorDetails": details}, refused="origin not allowed")


def _too_large(request: web.Request, limit: int, extra: dict[str, str]) -> Answer:
    size = f"{request.content_length} bytes" if request.content_length is not None else "longer"
    details = f"The request body is {size}; at most {limit} are read. Send only the evaluation context."
    return Answer(413, {**extra, "errorCode": "PARSE_ERROR", "errorDetails": details}, refused="body too large")


def _refused(request: web.Request, result: Answer, key: str) -> None:
    _log.info(
        "flags_api.refused",
        status=result.status,
        reason=result.refused,
        path=request.path[:200],
        key=key or None,
        origin=(request.headers.get("Origin") or "")[:100] or None,
        peer=request.remote,
    )


def _response(result: Answer, origin: str | None) -> web.Response:
    headers = dict(result.headers)
    if origin is not None:
        headers.update(
            {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "ETag", "Vary": "Origin"}
        )
    if result.body is None:
        return web.Response(status=result.status, headers=headers)
    body = _JSON.encode(result.body).encode()
    response = web.Response(status=result.status, body=body, headers=headers, content_type="application/json")
    if result.status == 413:
        response.force_close()  # the rest of the body is not read
    return response


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request) -> web.Response:
    """Ready once every served environment's flags were read (a later Redis outage serves the last
    good snapshot, marked stale, and stays ready)."""
    problems = request.app[FLAGS_API].problems()
    if problems:
        return web.Response(status=503, text="not ready: " + "; ".join(problems) + "\n")
    return web.Response(text="ready\n")


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def flags_api_app(api: FlagsApi, limits: ConnectionLimits) -> web.Application:
    """``chatops flags-api``'s application: the OFREP routes, ``/healthz``, ``/readyz``, ``/metrics``."""
    app = web.Application(
        client_max_size=api.settings.max_body_bytes, middlewares=[body_deadline(limits.body_timeout_s)]
    )
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    add_flags_api(app, api)
    return app


async def run_flags_api(api: FlagsApi, host: str, port: int, limits: ConnectionLimits) -> None:
    """Serve until SIGTERM or SIGINT; the snapshots start before the port opens."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(
        flags_api_app(api, limits),
        access_log=None,
        keepalive_timeout=limits.keepalive_timeout_s,
        max_line_size=MAX_LINE_SIZE,
        max_field_size=MAX_FIELD_SIZE,
    )
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, reuse_port=False, limits=limits)
        await site.start()
        _log.info(
            "flags_api.serving", host=host, port=port, environments=sorted({k.environment for k in api.keys.keys})
        )
        await stop.wait()
    finally:
        await runner.cleanup()
        _log.info("flags_api.stopped")


def build_flags_api(config: Config, command: str) -> FlagsApi | None:
    """The flags API of ``config`` (its keys read, its definitions loaded), or None after saying
    on stderr why it cannot be built."""
    if config.flags_api is None:
        print(f"chatops: {command}: the configuration has no flags_api section (README: Flags API)", file=sys.stderr)
        return None
    try:
        return FlagsApi.from_config(config)
    except (KeysUnavailable, DefinitionError) as error:
        print(f"chatops: {command}: {error}", file=sys.stderr)
        return None


def serve_flags_api(config: Config, host: str, port: int) -> int:
    """``chatops flags-api``: its own process, stateless (any number of replicas)."""
    api = build_flags_api(config, "flags-api")
    if api is None:
        return 2
    try:
        limits = ConnectionLimits.from_environment()
    except ValueError as error:
        print(f"chatops: flags-api: {error}", file=sys.stderr)
        return 2
    asyncio.run(run_flags_api(api, host, port, limits))
    return 0
