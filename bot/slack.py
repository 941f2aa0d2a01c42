"""The Slack adapter: the only module that imports slack_bolt.

It builds the Bolt AsyncApp (ack first, work after), the aiohttp handler for
``/slack/events`` and the Socket Mode runner. The slash command and every button
action the registered commands declare are routed to the same pipeline the shell uses.
A request already handled (the same signature again, or Slack's own retry) is answered
200 and does nothing; user group events drop the cached membership of that group.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.metrics import ACK_SECONDS
from bot.replays import SLACK_WINDOW_S, ReplayCheckFailed
from bot.runtime import Runtime
from bot.slack_api import SlackBackend, respond, web_client
from bot.slack_permalinks import SlackPermalinks
from bot.slack_requests import BadRequest, check_request
from handlers.config import Secrets
from handlers.core import pipeline
from handlers.core.caller import Caller
from handlers.core.context import Notify
from handlers.core.reply import Reply, Section, error_reply, line

__all__ = ["build_app", "connect_socket_mode", "events_handler"]

_log = structlog.get_logger("bot")


def build_app(
    runtime: Runtime, secrets: Secrets, session: aiohttp.ClientSession, *, socket_mode: bool = False
) -> AsyncApp:
    """The Bolt app; every Slack call shares ``session`` (create it in the running loop)."""
    client = web_client(secrets.bot_token, secrets.api_url, session)
    config = runtime.app.config
    backend = SlackBackend(client, config.production_usergroups(), config.slack.production_group_cache_seconds)
    runtime.app.chat = backend  # background work talks through it once the application starts
    runtime.permalinks = SlackPermalinks(client)  # the dashboard links to rollouts' and approvals' messages
    app = AsyncApp(
        client=client,
        signing_secret=None if socket_mode else secrets.signing_secret,
        request_verification_enabled=not socket_mode,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    app.middleware(_handled_once(runtime))
    _add_usergroup_events(app, backend)
    _add_command_and_buttons(app, runtime, backend, session)
    return app


def _handled_once(runtime: Runtime) -> Callable[..., Awaitable[BoltResponse]]:
    """The middleware that runs before every listener: a replayed signature or a Slack retry is
    answered 200, doing nothing."""

    async def once(req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[None]]) -> BoltResponse:
        retry = _header(req, "x-slack-retry-num")
        signature = _header(req, "x-slack-signature")  # absent in Socket Mode
        if retry:
            _log.info(
                "bot.replay",
                reason="slack retry",
                retry_num=retry[:8],
                retry_reason=_header(req, "x-slack-retry-reason")[:40],
            )
            return BoltResponse(status=200, body="")
        if signature and runtime.replays is not None:
            try:
                first = await runtime.replays.first_time("slack", signature, SLACK_WINDOW_S)
            except ReplayCheckFailed as error:  # let it through: the change path checks Redis itself
                _log.warning("bot.replay_check_failed", error=str(error)[:200])
                first = True
            if not first:
                _log.warning("bot.replay", reason="signature seen before")
                return BoltResponse(status=200, body="")
        await next()
        return resp

    return once


def _add_usergroup_events(app: AsyncApp, backend: SlackBackend) -> None:
    """User group events drop the cached membership (and handles) of that group."""

    @app.event("subteam_members_changed")
    async def members_changed(event: dict[str, Any]) -> None:
        backend.forget_usergroup(str(event.get("subteam_id", "")))
        _log.info("bot.usergroup_changed", usergroup=str(event.get("subteam_id", ""))[:40])

    @app.event("subteam_updated")
    async def group_updated(event: dict[str, Any]) -> None:
        subteam = event.get("subteam")
        group_id = str(subteam.get("id", "")) if isinstance(subteam, dict) else ""
        backend.forget_usergroup(group_id, handles=True)  # the handle may have changed too
        _log.info("bot.usergroup_changed", usergroup=group_id[:40])


def _add_command_and_buttons(
    app: AsyncApp, runtime: Runtime, backend: SlackBackend, session: aiohttp.ClientSession
) -> None:
    """The slash command and every button action the registered commands declare, acknowledged at
    once and then run through the pipeline; the answer goes to the request's response URL."""

    @app.command("/chatops")
    async def chatops(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()  # within Slack's 3 seconds, before any work
        caller = Caller(
            user_id=command.get("user_id", ""),
            user_name=command.get("user_name", ""),
            channel_id=command.get("channel_id", ""),
            channel_name=command.get("channel_name", ""),
        )
        text = command.get("text", "")
        await _answer(
            runtime,
            session,
            command.get("response_url", ""),
            lambda notify: pipeline.run(text, caller, runtime.app, backend, notify),
        )

    async def button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user, channel = body.get("user") or {}, body.get("channel") or {}
        caller = Caller(
            user_id=str(user.get("id", "")),
            user_name=str(user.get("username") or user.get("name") or ""),
            channel_id=str(channel.get("id", "")),
            channel_name=str(channel.get("name", "")),
        )
        actions = body.get("actions") or [{}]
        action_id, value = str(actions[0].get("action_id", "")), str(actions[0].get("value", ""))
        await _answer(
            runtime,
            session,
            body.get("response_url", ""),
            lambda notify: pipeline.press(action_id, value, caller, runtime.app, backend, notify),
        )

    for action_id in runtime.app.commands.action_ids:
        app.action(action_id)(button)


async def _answer(
    runtime: Runtime,
    session: aiohttp.ClientSession,
    response_url: str,
    work: Callable[[Notify], Awaitable[Reply]],
) -> None:
    """Run ``work`` and send its reply to ``response_url`` (its notices go there as they come)."""

    async def notify(text: str) -> None:
        await respond(response_url, Reply(True, text, (Section((line(text),)),)), session)

    async with runtime.inflight.track():  # a shutdown waits for this answer
        try:
            reply = await work(notify)
        except Exception:  # dispatch does not raise; this is the last line of defence
            _log.exception("bot.dispatch_failed")
            reply = error_reply("Something went wrong on our side; check the flag with `feature get`.")
        try:
            await respond(response_url, reply, session)
        except Exception:
            _log.exception("bot.respond_failed")


def events_handler(app: AsyncApp, signing_secret: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /slack/events``: the signature is checked and the body's shape validated here,
    so Bolt only ever sees authenticated, well-formed requests (401/400, never a 500)."""

    async def handle(request: web.Request) -> web.Response:
        with ACK_SECONDS.time():  # Bolt answers as soon as the listener acks
            headers: dict[str, str] = {}
            for name, value in request.headers.items():
                headers.setdefault(name.lower(), value)  # the first of repeated headers, for us and Bolt
            body = await request.read()  # bounded by the application's client_max_size (413)
            try:
                text = check_request(headers, body, signing_secret, time.time())
                bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
                bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=bolt_headers)
            except BadRequest as error:
                return _refuse(request, error.status, error.reason)
            except Exception as error:  # a shape Bolt cannot read that the checks above missed
                return _refuse(request, 400, f"malformed request ({type(error).__name__})")
            bolt_response = await app.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

    return handle


def _header(req: AsyncBoltRequest, name: str) -> str:
    values = req.headers.get(name) or ()
    return str(values[0]) if values else ""


def _refuse(request: web.Request, status: int, reason: str) -> web.Response:
    _log.warning("bot.bad_request", status=status, reason=reason, path=request.path, peer=request.remote)
    if status == 401:  # as Bolt answers; the reason is only logged
        return web.json_response({"error": "invalid request"}, status=401)
    return web.json_response({"error": f"bad request: {reason}"}, status=status)


async def connect_socket_mode(app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Open the Socket Mode connection (apps.connections.open, then the WebSocket)."""
    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler
