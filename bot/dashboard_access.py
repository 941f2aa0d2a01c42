"""Who may see the dashboard, and getting in and out.

Signing in: ``GET /ui/signin?token=…`` (the link ``/chatops run dashboard`` answers with) shows
who the link is for and a Sign in button, spending nothing, so link unfurlers and mail scanners
that fetch it leave it working; the button's ``POST /ui/signin`` spends the link and opens a
session cookie (HttpOnly, SameSite=Lax, Secure behind https). With ``ui.trusted_header`` a
request carrying that header from one of ``ui.trusted_proxies`` is signed in as its value.

Signing out: ``POST /ui/signout`` with the session's form token (every page's Sign out button
carries it) deletes the session in Redis and clears the cookie; without that token it is refused
and changes nothing. ``GET /ui/signout`` only shows a page.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from bot.dashboard_http import HEADERS, PageError, cross_site, html_response
from bot.dashboard_layout import refusal_page, signed_out_page, signin_page
from bot.runtime import Runtime
from handlers.config import Dashboard
from handlers.dashboard.signin import SIGN_IN, SignIn, SignInRefused, Visitor

__all__ = ["COOKIE", "Access", "Page"]

_log = structlog.get_logger("bot")
COOKIE = "chatops_session"
Page = Callable[[web.Request, Visitor], Awaitable[str]]
_UNCHECKED = "The bot cannot reach its own Redis to check sign-ins just now; try again in a minute."
_NO_KEY = "Sign-in is not set up: the bot has no key to sign links with."
_OTHER_SITE = "This form was sent from another site's page: nothing was changed."
_NOT_YOURS = (
    "This sign-out form is not from your session (it carries no token, or another one): nothing was "
    "changed. Use the Sign out button at the top of a dashboard page."
)


class Access:
    """Who may see the dashboard: a request with the trusted proxy's header, or with the session
    cookie a sign-in link opened; and the routes that open and close sessions."""

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
                return html_response(refusal_page(_UNCHECKED), 503)
            if visitor is None:
                return html_response(refusal_page("You are not signed in (or your session has expired)."), 401)
            return html_response(await page(request, visitor))

        return handler

    async def visitor_or_none(self, request: web.Request) -> Visitor | None:
        """Who is signed in, or None when nobody is or it cannot be told: for an error page's
        header, which must not fail in turn."""
        try:
            return await self._visitor_of(request)
        except Exception:  # whatever failed, the error page is still shown (without the name)
            return None

    async def signin_form(self, request: web.Request) -> web.Response:
        """``GET /ui/signin?token=…``: who the link is for and a Sign in button; spends nothing."""
        token = request.query.get("token", "")[:2000]
        try:
            visitor = await self._sign_in().check(token)
        except SignInRefused as refused:
            return html_response(refusal_page(str(refused)), 401)
        except (RedisError, OSError) as error:
            _log.warning("bot.dashboard_session_unchecked", error=str(error))
            return html_response(refusal_page(_UNCHECKED), 503)
        return html_response(signin_page(visitor, token))

    async def signin(self, request: web.Request) -> web.StreamResponse:
        """``POST /ui/signin``: redeem the link's token, open a session and set its cookie."""
        if cross_site(request):
            raise PageError(403, _OTHER_SITE)
        service = self._sign_in()
        token = str((await request.post()).get("token", ""))[:2000]
        try:
            visitor = await service.redeem(token)
            session = await service.open_session(visitor)
        except SignInRefused as refused:
            return html_response(refusal_page(str(refused)), 401)
        except (RedisError, OSError) as error:  # nobody is signed in; ask for a new link if this one was spent
            _log.warning("bot.dashboard_session_unchecked", error=str(error))
            return html_response(refusal_page(_UNCHECKED), 503)
        _log.info("bot.dashboard_signin", user=visitor.name)
        response = web.HTTPSeeOther("/ui/", headers=HEADERS)
        response.set_cookie(
            COOKIE,
            session,
            max_age=service.session_seconds,
            path="/ui",
            httponly=True,
            samesite="Lax",
            secure=self._secure(request),
        )
        raise response

    async def signed_out(self, request: web.Request) -> web.Response:
        """``GET /ui/signout``: signed out, or the button that signs out. Changes nothing."""
        try:
            visitor = await self._visitor_of(request)
        except (RedisError, OSError):
            return html_response(refusal_page(_UNCHECKED), 503)
        return html_response(signed_out_page(visitor))

    async def signout(self, request: web.Request) -> web.StreamResponse:
        """``POST /ui/signout``: with the session's form token, delete the session and its cookie."""
        if cross_site(request):
            raise PageError(403, _OTHER_SITE)
        service = self._sign_in()
        form_token = str((await request.post()).get("token", ""))
        session = request.cookies.get(COOKIE, "")
        if session:  # without one there is nothing to end: the signed-out page says so
            try:
                closed = await service.close_session(session, form_token)
            except (RedisError, OSError) as error:
                _log.warning("bot.dashboard_session_unchecked", error=str(error))
                return html_response(refusal_page(_UNCHECKED), 503)
            if not closed:
                raise PageError(403, _NOT_YOURS)
            _log.info("bot.dashboard_signout")
        response = web.HTTPSeeOther("/ui/signout", headers=HEADERS)
        response.del_cookie(COOKIE, path="/ui", secure=self._secure(request), httponly=True, samesite="Lax")
        raise response

    def _sign_in(self) -> SignIn:
        service = self._runtime.app.ports.get(SIGN_IN)  # set when the application is built with a key
        if service is None:
            raise PageError(503, _NO_KEY)
        return service

    def _secure(self, request: web.Request) -> bool:
        return self._ui.base_url.startswith("https://") or request.secure

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
