"""The read-only dashboard's routes under ``/ui/`` (only with a ``ui`` section).

Signing in: ``/ui/signin?token=…`` (the link ``/chatops run dashboard`` answers with) opens a
session cookie (HttpOnly, SameSite=Lax, Secure behind https). With ``ui.trusted_header`` a
request carrying that header (set by an authenticating proxy) is signed in as its value. Any other
request gets 401 and how to sign in, and nothing else. No route writes anything but the session.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from bot.dashboard_activity import message_links, with_links
from bot.dashboard_charts import chart_figure
from bot.dashboard_html import (
    STYLE,
    RowHtml,
    approvals_reply,
    board_page,
    flag_html,
    flags_html,
    refusal_page,
    table_rows,
)
from bot.runtime import Runtime
from flags import FlagName
from handlers.approvals.store import APPROVAL_STORE
from handlers.config import Dashboard
from handlers.core import pipeline
from handlers.core.caller import Caller
from handlers.core.context import Plan
from handlers.core.reply import Reply, error_reply
from handlers.dashboard.live_rows import LiveRows
from handlers.dashboard.signin import SIGN_IN, SignInRefused, Visitor
from handlers.dashboard.views import flag_page, flags_page
from handlers.deployments.auto_deploy import AutoDeployPlan
from handlers.freezes.command import FreezeStatus
from handlers.rollouts.plans import RolloutList

__all__ = ["COOKIE", "add_dashboard"]

_log = structlog.get_logger("bot")
COOKIE = "chatops_session"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Page = Callable[[web.Request, Visitor], Awaitable[str]]
_UNCHECKED = "The bot cannot reach its own Redis to check sign-ins just now; try again in a minute."


def add_dashboard(app: web.Application, runtime: Runtime, ui: Dashboard) -> None:
    """Serve the dashboard at /ui/ (sign-in, flags, a flag, deployments, activity)."""
    access = _Access(runtime, ui)
    pages = _Pages(runtime)
    app.router.add_get("/ui", _to_index)
    app.router.add_get("/ui/signin", access.signin)
    app.router.add_get("/ui/style.css", _style)
    app.router.add_get("/ui/", access.signed_in(pages.flags))
    app.router.add_get("/ui/flags/{name}", access.signed_in(pages.flag))
    app.router.add_get("/ui/deployments", access.signed_in(pages.deployments))
    app.router.add_get("/ui/activity", access.signed_in(pages.activity))


class _Access:
    """Who may see the dashboard: a request with the trusted proxy's header, or with the session
    cookie a sign-in link opened."""

    def __init__(self, runtime: Runtime, ui: Dashboard) -> None:
        self._runtime = runtime
        self._ui = ui

    def signed_in(self, page: Page) -> Callable[[web.Request], Awaitable[web.Response]]:
        """``page`` for a signed-in visitor; 401 (or 503 when sessions cannot be checked) for anyone else."""

        async def handler(request: web.Request) -> web.Response:
            try:
                visitor = await self._visitor_of(request)
            except (RedisError, OSError) as error:
                _log.warning("bot.dashboard_session_unchecked", error=str(error))
                return _html(refusal_page(_UNCHECKED), 503)
            if visitor is None:
                return _html(refusal_page("You are not signed in (or your session has expired)."), 401)
            return _html(await page(request, visitor))

        return handler

    async def signin(self, request: web.Request) -> web.StreamResponse:
        """``/ui/signin?token=…``: redeem the link's token, open a session and set its cookie."""
        service = self._runtime.app.ports.get(SIGN_IN)  # set when the application is built with a key
        if service is None:
            return _html(refusal_page("Sign-in is not set up: the bot has no key to sign links with."), 503)
        try:
            visitor = await service.redeem(request.query.get("token", ""))
            session = await service.open_session(visitor)
        except SignInRefused as refused:
            return _html(refusal_page(str(refused)), 401)
        except (RedisError, OSError) as error:  # nobody is signed in; ask for a new link if this one was spent
            _log.warning("bot.dashboard_session_unchecked", error=str(error))
            return _html(refusal_page(_UNCHECKED), 503)
        _log.info("bot.dashboard_signin", user=visitor.name)
        response = web.HTTPSeeOther("/ui/", headers=_HEADERS)
        response.set_cookie(
            COOKIE,
            session,
            max_age=service.session_seconds,
            path="/ui",
            httponly=True,
            samesite="Lax",
            secure=self._ui.base_url.startswith("https://") or request.secure,
        )
        raise response

    async def _visitor_of(self, request: web.Request) -> Visitor | None:
        header = self._ui.trusted_header
        if header and (who := request.headers.get(header, "").strip()) and self._from_proxy(request):
            return Visitor("", who[:200])
        service = self._runtime.app.ports.get(SIGN_IN)
        cookie = request.cookies.get(COOKIE, "")
        return await service.visitor(cookie) if service is not None and cookie else None

    def _from_proxy(self, request: web.Request) -> bool:
        try:
            address = ipaddress.ip_address(request.remote or "")
        except ValueError:
            return False
        return any(address in network for network in self._ui.trusted_proxies)


class _Pages:
    """The signed-in pages, as HTML: flags, a flag, deployments, activity."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._live_rows = LiveRows(runtime.app.live)  # the rows, kept and brought up to date flag by flag
        self._row_html = RowHtml()  # each row as HTML, kept while the row is the same

    async def flags(self, request: web.Request, visitor: Visitor) -> str:
        filters = {k: request.query.get(k, "")[:100] for k in ("name", "group", "type", "milestone", "cleanup")}
        page = await flags_page(
            self._runtime.app,
            name=filters["name"],
            group=filters["group"],
            kind=filters["type"],
            milestone=filters["milestone"],
            cleanup=bool(filters["cleanup"]),
            live=self._live_rows,
        )
        rows = table_rows(page.rows, self._row_html)
        return flags_html(page, filters, visitor, self._runtime.app.config.cleanup, rows)

    async def flag(self, request: web.Request, visitor: Visitor) -> str:
        name = request.match_info["name"]
        try:
            FlagName(name)
        except ValueError:
            raise web.HTTPNotFound(text="No such flag.") from None
        page = await flag_page(self._runtime.app, name)
        if page is None:
            raise web.HTTPNotFound(text=f"No flag {name} in Redis or in a definition.")
        figures = [await asyncio.to_thread(chart_figure, c, n) for n, c in enumerate(page.charts, 1)]  # off the loop
        return flag_html(page, visitor, figures)

    async def deployments(self, request: web.Request, visitor: Visitor) -> str:
        reply = await self._read("auto_deploy", "status", AutoDeployPlan(None), visitor)
        return board_page("Deployments", [("auto_deploy status", reply)], visitor)

    async def activity(self, request: web.Request, visitor: Visitor) -> str:
        """Rollouts, freezes and pending approvals as chat answers them, each rollout and approval
        with a link to its message in Slack when Slack gives one."""
        rollouts = await self._read("feature", "rollout", RolloutList(), visitor)
        freezes = await self._read("freeze", "status", FreezeStatus(), visitor)
        approvals = self._runtime.app.ports.get(APPROVAL_STORE)
        unread: Reply | None = None
        try:
            pending = await approvals.pending() if approvals else []
        except (RedisError, OSError, ValueError, KeyError) as error:
            pending, unread = [], error_reply(f"Could not read the approval requests: {error}")
        links = await message_links(self._runtime, pending)
        parts = [
            ("Rollouts", with_links(rollouts, links, "its message in Slack")),
            ("Freezes", freezes),
            ("Pending approvals", unread or approvals_reply(pending, links)),
        ]
        return board_page("Rollouts, freezes and approvals", parts, visitor)

    async def _read(self, command: str, subcommand: str, plan: Plan, visitor: Visitor) -> Reply:
        """A read-only command's answer, invoked through the pipeline as the visitor (and logged)."""
        runtime = self._runtime
        caller = Caller(visitor.user_id or visitor.name, visitor.name, "", "dashboard")
        assert runtime.app.chat is not None, "serve starts the background work (and its chat) before serving"
        invocation = pipeline.Invoke(command, subcommand, plan, caller)
        return await pipeline.invoke(invocation, runtime.app, runtime.app.chat)


def _html(text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html", headers=_HEADERS)
    response.enable_compression()
    return response


async def _to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


async def _style(request: web.Request) -> web.Response:
    return web.Response(text=STYLE, content_type="text/css", headers={"Cache-Control": "max-age=3600"})
