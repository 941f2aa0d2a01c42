"""The read-only dashboard's routes under ``/ui/`` (only with a ``ui`` section).

Who may see it, signing in and out: ``bot.dashboard_access``. Every answer under ``/ui``, errors
included, is a page in the layout with the same security headers (``bot.dashboard_http``). No
route writes anything but the session.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.exceptions import RedisError

from bot.dashboard_access import COOKIE, Access
from bot.dashboard_activity import message_links, with_links
from bot.dashboard_charts import chart_figure
from bot.dashboard_flags_html import flags_html
from bot.dashboard_html import STYLE, approvals_reply, board_page, flag_html
from bot.dashboard_http import PageError, errors_middleware
from bot.dashboard_layout import LAYOUT_STYLE
from bot.runtime import Runtime
from flags import FlagName
from handlers.approvals.store import APPROVAL_STORE
from handlers.config import Dashboard
from handlers.core import pipeline
from handlers.core.caller import Caller
from handlers.core.context import Plan
from handlers.core.reply import Reply, error_reply
from handlers.dashboard.change_times import ChangeTimes
from handlers.dashboard.live_rows import LiveRows
from handlers.dashboard.query import FlagsQuery
from handlers.dashboard.signin import Visitor
from handlers.dashboard.views import flag_page, flags_page
from handlers.deployments.auto_deploy import AutoDeployPlan
from handlers.freezes.command import FreezeStatus
from handlers.rollouts.plans import RolloutList
from handlers.webhooks.status import status_reply, statuses

__all__ = ["COOKIE", "add_dashboard"]

_STYLESHEET = STYLE + LAYOUT_STYLE


def add_dashboard(app: web.Application, runtime: Runtime, ui: Dashboard) -> None:
    """Serve the dashboard at /ui/ (sign-in and out, flags, a flag, deployments, activity), and
    answer every failure under /ui with an error page (call it before the application starts)."""
    access = Access(runtime, ui)
    pages = _Pages(runtime)
    app.middlewares.append(errors_middleware(access.visitor_or_none))
    app.router.add_get("/ui", _to_index)
    app.router.add_get("/ui/signin", access.signin_form)
    app.router.add_post("/ui/signin", access.signin)
    app.router.add_get("/ui/signout", access.signed_out)
    app.router.add_post("/ui/signout", access.signout)
    app.router.add_get("/ui/style.css", _style)
    app.router.add_get("/ui/", access.signed_in(pages.flags))
    app.router.add_get("/ui/flags/{name}", access.signed_in(pages.flag))
    app.router.add_get("/ui/deployments", access.signed_in(pages.deployments))
    app.router.add_get("/ui/activity", access.signed_in(pages.activity))


class _Pages:
    """The signed-in pages, as HTML: flags, a flag, deployments, activity."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._live_rows = LiveRows(runtime.app.live)  # the rows, kept and brought up to date flag by flag
        self._change_times = ChangeTimes()  # when each flag last changed, kept up to date from the audit streams

    async def flags(self, request: web.Request, visitor: Visitor) -> str:
        """``/ui/?q=&type=&state=gprd:on&since=7d&cleanup=1&sort=changed&order=desc&page=2``."""
        app = self._runtime.app
        query = FlagsQuery.parse(request.query.items(), [e.name for e in app.config.environments])
        page = await flags_page(app, query, live=self._live_rows, times=self._change_times)
        return flags_html(page, visitor, app.config.cleanup)

    async def flag(self, request: web.Request, visitor: Visitor) -> str:
        name = request.match_info["name"]
        try:
            FlagName(name)
        except ValueError:
            raise PageError(404, "No such flag: that is not a flag name.") from None
        page = await flag_page(self._runtime.app, name)
        if page is None:
            raise PageError(404, f"No flag {name} in Redis or in a definition.")
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
        try:
            parts.append(("Webhooks and subscriptions", status_reply(await statuses(self._runtime.app))))
        except (RedisError, OSError) as error:
            parts.append(("Webhooks and subscriptions", error_reply(f"Could not read the deliveries: {error}")))
        return board_page("Rollouts, freezes, approvals and news", parts, visitor)

    async def _read(self, command: str, subcommand: str, plan: Plan, visitor: Visitor) -> Reply:
        """A read-only command's answer, invoked through the pipeline as the visitor (and logged)."""
        runtime = self._runtime
        caller = Caller(visitor.user_id or visitor.name, visitor.name, "", "dashboard")
        assert runtime.app.chat is not None, "serve starts the background work (and its chat) before serving"
        invocation = pipeline.Invoke(command, subcommand, plan, caller)
        return await pipeline.invoke(invocation, runtime.app, runtime.app.chat)


async def _to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


async def _style(request: web.Request) -> web.Response:
    return web.Response(
        text=_STYLESHEET,
        content_type="text/css",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
