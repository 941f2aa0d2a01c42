"""The dashboard's HTTP answers: every page (errors too) is HTML in the page layout, sent with the
same security headers, so a 404 or a 500 is no weaker a page than the flags page.

``errors_middleware`` turns what goes wrong under ``/ui`` into such pages: a ``PageError`` a page
raises (an unknown flag), the router's own 404 and 405, a body too large, and any exception (500,
logged, without its details on the page).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.dashboard_layout import error_page
from handlers.dashboard.signin import Visitor

__all__ = ["HEADERS", "PageError", "cross_site", "errors_middleware", "html_response"]

_log = structlog.get_logger("bot")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_SAID = {
    404: "There is no page at this address.",
    405: "This address does not take that kind of request.",
    413: "The request was too large.",
}

VisitorOf = Callable[[web.Request], Awaitable[Visitor | None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageError(Exception):
    """An answer other than the page: its HTTP status and what to tell the visitor."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def html_response(text: str, status: int = 200) -> web.Response:
    """A page as the dashboard sends every page: compressed, with the security headers."""
    response = web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)
    response.enable_compression()
    return response


def cross_site(request: web.Request) -> bool:
    """Whether the browser says this request comes from another site's page (``Sec-Fetch-Site``):
    the dashboard's forms are posted from its own pages only."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")


def errors_middleware(visitor_of: VisitorOf) -> Middleware:
    """The middleware answering every failure under ``/ui`` with an error page in the layout
    (``visitor_of``: who is signed in, for the page's header; None when that cannot be told)."""

    @web.middleware
    async def dashboard_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/ui" and not request.path.startswith("/ui/"):
            return await handler(request)
        allow = ""
        try:
            return await handler(request)
        except PageError as error:
            status, message = error.status, error.message
        except web.HTTPException as error:
            if error.status < 400:
                raise
            status, message = error.status, _SAID.get(error.status, error.reason)
            allow = error.headers.get("Allow", "")  # a 405 says which methods the address takes
        except Exception:  # any failure of a page: logged; the visitor sees a page, not a traceback
            _log.exception("bot.dashboard_failed", path=request.path)
            status, message = 500, "The dashboard failed to show this page; the bot's log says why."
        response = html_response(error_page(status, message, await visitor_of(request)), status)
        if allow:
            response.headers["Allow"] = allow
        return response

    return dashboard_errors
