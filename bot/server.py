"""``chatops serve`` (HTTP) and ``chatops socket`` (Socket Mode).

HTTP routes: ``/slack/events`` (slash commands and interactivity), ``/healthz``
(process alive), ``/readyz`` (every Redis answers), ``/metrics`` (Prometheus).

Every connection is held to the limits in ``bot.http_limits`` (slow and idle peers).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_sdk.web.async_client import AsyncWebClient

from bot.dashboard import add_dashboard
from bot.flags_api import FLAGS_API, add_flags_api, build_flags_api
from bot.http_limits import MAX_FIELD_SIZE, MAX_LINE_SIZE, ConnectionLimits, GuardedSite, body_deadline
from bot.runtime import Runtime
from bot.slack import build_app, connect_socket_mode, events_handler
from bot.slack_api import slack_session
from bot.webhooks import alertmanager_webhook, gitlab_webhook
from flags import StoreUnavailable
from flags.embedded import SHARED_URL_VARIABLE, resolve_redis_url
from handlers.config import Config, Secrets
from handlers.deployments.registry import REGISTRY
from handlers.flags_api import FlagsApi

__all__ = ["RUNTIME", "ConnectionLimits", "create_web_app", "serve", "socket_mode"]

_log = structlog.get_logger("bot")
MAX_BODY = 1024 * 1024
SHUTDOWN_GRACE_S = 10.0  # how long SIGTERM waits for acknowledged commands to finish
SLACK_RECHECK_S = 30.0  # how often /readyz asks Slack again while it refuses the bot's token
RUNTIME = web.AppKey("runtime", Runtime)


async def create_web_app(
    runtime: Runtime, secrets: Secrets, limits: ConnectionLimits | None = None, flags_api: FlagsApi | None = None
) -> web.Application:
    """The HTTP application; call it in the running event loop. ``limits`` sets the body timeout
    (the connection limits are the server's: :func:`serve`). With ``flags_api.mount_in_serve`` it
    also answers the flags API's routes (``flags_api``, else one built from the configuration)."""
    limits = limits or ConnectionLimits()
    session = slack_session()
    bolt = build_app(runtime, secrets, session)
    slack_auth = _SlackAuth(bolt.client)
    app = web.Application(client_max_size=MAX_BODY, middlewares=[body_deadline(limits.body_timeout_s)])
    app[RUNTIME] = runtime
    app.router.add_post("/slack/events", events_handler(bolt, secrets.signing_secret or ""))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz(runtime, slack_auth))
    app.router.add_get("/metrics", _metrics)
    app.router.add_post("/webhooks/gitlab", gitlab_webhook(runtime, secrets))
    app.router.add_post("/webhooks/alertmanager", alertmanager_webhook(runtime, secrets))
    if runtime.app.config.ui is not None:
        add_dashboard(app, runtime, runtime.app.config.ui)
    if (settings := runtime.app.config.flags_api) is not None and settings.mount_in_serve:
        add_flags_api(app, flags_api or FlagsApi.from_config(runtime.app.config))
    _add_lifecycle(app, runtime, secrets, session, slack_auth)
    return app


class _SlackAuth:
    """Whether Slack accepts the bot's token (``auth.test``): checked on startup, and by ``/readyz``
    again while it does not (at most every SLACK_RECHECK_S)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self.ok: bool | None = None
        self.error: str | None = "not checked yet"
        self.at = 0.0

    async def check(self) -> None:
        try:
            answer = await self._client.auth_test()
            self.ok, self.error = True, None
            _log.info("bot.slack_auth", team=answer.get("team"), bot_user=answer.get("user_id"))
        except Exception as error:  # any failure makes the bot not ready, with the reason
            self.ok, self.error = False, str(getattr(error, "response", {}).get("error", error))[:200]
            _log.warning("bot.slack_auth_failed", error=self.error)
        self.at = time.monotonic()

    async def problem(self) -> str | None:
        """Why Slack does not accept the bot (checked again if it is time), or None when it does."""
        if not self.ok and time.monotonic() - self.at > SLACK_RECHECK_S:
            await self.check()
        return None if self.ok else f"slack auth: {self.error}"


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _readyz(runtime: Runtime, slack_auth: _SlackAuth) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``/readyz``: ready when every Redis answers and Slack accepts the bot; else 503 and why not."""

    async def readyz(request: web.Request) -> web.Response:
        failing = await _redis_problems(runtime)
        if (flags_api := request.app.get(FLAGS_API)) is not None:
            failing += flags_api.problems()  # mounted: its environments read at least once
        if (slack_problem := await slack_auth.problem()) is not None:
            failing.append(slack_problem)
        if failing:
            return web.Response(status=503, text="not ready: " + "; ".join(failing) + "\n")
        return web.Response(text="ready\n")

    return readyz


async def _redis_problems(runtime: Runtime) -> list[str]:
    """Each Redis the bot uses (the environments' and its own) that does not answer, and why."""
    failing = []
    for option, store in runtime.app.stores.items():
        try:
            await asyncio.wait_for(store.ping(), timeout=2)
        except (StoreUnavailable, TimeoutError) as error:
            failing.append(f"redis for {store.environment or option}: {error}")
    registry = runtime.app.ports.get(REGISTRY)
    if registry is not None:
        try:
            await asyncio.wait_for(registry.ping(), timeout=2)
        except Exception as error:  # the bot's own Redis
            failing.append(f"the bot's own redis: {error}")
    return failing


def _add_lifecycle(
    app: web.Application, runtime: Runtime, secrets: Secrets, session: aiohttp.ClientSession, slack_auth: _SlackAuth
) -> None:
    """On startup start the application and check Slack's auth; on shutdown let acknowledged commands
    finish (within SHUTDOWN_GRACE_S), then close the Slack session and the runtime."""

    async def open_runtime(app: web.Application) -> None:
        await runtime.app.start(runtime.app.chat)  # people whose change a dead process left half-written hear it
        await slack_auth.check()

    async def finish_in_flight(app: web.Application) -> None:
        left = await runtime.inflight.drain(SHUTDOWN_GRACE_S)
        _log.info("bot.shutdown", unfinished_commands=left)

    async def close_runtime(app: web.Application) -> None:
        await session.close()
        await runtime.close()

    app.on_startup.append(open_runtime)
    app.on_shutdown.append(finish_in_flight)
    app.on_cleanup.append(close_runtime)


def _require(value: str | None, name: str, mode: str) -> bool:
    if not value:
        print(f"chatops: {mode} needs the environment variable {name}", file=sys.stderr)
        return False
    return True


def serve(
    config: Config,
    secrets: Secrets,
    host: str,
    port: int,
    workers: int = 1,
    reuse_port: bool = False,
    worker_argv: list[str] | None = None,
) -> int:
    """Serve on host:port; with ``workers`` > 1, start that many processes running ``worker_argv``
    (the chatops arguments of one worker) on the same port."""
    if not (
        _require(secrets.bot_token, "SLACK_BOT_TOKEN", "serve")
        and _require(secrets.signing_secret, "SLACK_SIGNING_SECRET", "serve")
    ):
        return 2
    if workers > 1:
        assert worker_argv is not None, "several workers need the arguments of one"
        return _serve_workers(config, workers, worker_argv)
    try:
        limits = ConnectionLimits.from_environment()
    except ValueError as error:
        print(f"chatops: serve: {error}", file=sys.stderr)
        return 2
    mounted = config.flags_api is not None and config.flags_api.mount_in_serve
    flags_api = build_flags_api(config, "serve") if mounted else None
    if mounted and flags_api is None:
        return 2
    runtime = Runtime.start(config, secrets=secrets)
    _log.info(
        "bot.serving",
        host=host,
        port=port,
        pid=os.getpid(),
        header_timeout_s=limits.header_timeout_s,
        body_timeout_s=limits.body_timeout_s,
        keepalive_timeout_s=limits.keepalive_timeout_s,
        max_connections=limits.max_connections,
    )
    asyncio.run(_run_server(runtime, secrets, host, port, reuse_port, limits, flags_api))
    return 0


async def _run_server(
    runtime: Runtime,
    secrets: Secrets,
    host: str,
    port: int,
    reuse_port: bool,
    limits: ConnectionLimits,
    flags_api: FlagsApi | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down as ``web.run_app`` does (on_shutdown first)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # from the start: a SIGTERM while starting stops too
        loop.add_signal_handler(signum, stop.set)
    app = await create_web_app(runtime, secrets, limits, flags_api)
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=limits.keepalive_timeout_s,  # also closes a connection that never sends a byte
        max_line_size=MAX_LINE_SIZE,
        max_field_size=MAX_FIELD_SIZE,
    )
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, reuse_port=reuse_port, limits=limits)
        await site.start()
        await stop.wait()
    finally:
        await runner.cleanup()


def _serve_workers(config: Config, workers: int, argv: list[str]) -> int:
    """N worker processes on one port (SO_REUSEPORT: the kernel spreads connections).

    SIGTERM and SIGINT are passed on; each worker finishes its acknowledged commands.
    Exits non-zero if any worker did.
    """
    env = dict(os.environ)
    needs_embedded = not config.redis_url or any(not e.redis_url for e in config.environments)
    if needs_embedded and SHARED_URL_VARIABLE not in env:
        env[SHARED_URL_VARIABLE] = resolve_redis_url(None)  # one embedded server for every worker
    children = [subprocess.Popen([sys.executable, "-m", "bot.cli", *argv], env=env) for _ in range(workers)]
    _log.info("bot.workers_started", workers=workers, pids=[c.pid for c in children])

    def forward(signum: int, frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return 0 if all(code == 0 for code in codes) else 1


def socket_mode(config: Config, secrets: Secrets) -> int:
    if not (
        _require(secrets.bot_token, "SLACK_BOT_TOKEN", "socket")
        and _require(secrets.app_token, "SLACK_APP_TOKEN", "socket")
    ):
        return 2

    async def main() -> None:
        runtime = Runtime.start(config, secrets=secrets)
        session = slack_session()
        app = build_app(runtime, secrets, session, socket_mode=True)
        await runtime.app.start(runtime.app.chat)
        assert secrets.app_token is not None
        handler = await connect_socket_mode(app, secrets.app_token)
        _log.info("bot.socket_mode_connected")
        try:
            await asyncio.Event().wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await session.close()
            await runtime.close()

    asyncio.run(main())
    return 0
