"""Signing in to the dashboard through Slack: a one-time link, then a session.

``/chatops run dashboard`` answers its caller with a link that names them and its expiry, signed
with HMAC-SHA256 under the dashboard key. Following it opens a session (a random id kept in the
bot's Redis for ``ui.session_hours``) and spends the link's nonce, so a link works once, for the
person it was made for, within ``ui.link_seconds``. A forged, altered, expired or spent link is
refused, each with its own reason. Looking at a link (``check``) spends nothing: link unfurlers
and scanners fetch links, so only the person's own POST redeems one.

Each session has a form token (an HMAC of the session id under the same key): the sign-out form
carries it, so another site cannot end a session by posting to the dashboard.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from handlers.core.ports import PortKey

__all__ = ["SIGN_IN", "SignIn", "SignInRefused", "Visitor"]

_SPENT = "This sign-in link was used already: each works once."


@dataclass(frozen=True, slots=True)
class Visitor:
    user_id: str  # the Slack user id ("" behind a trusted proxy)
    name: str
    form_token: str = field(default="", repr=False)  # what their forms carry ("" behind a trusted proxy)


class SignInRefused(Exception):
    """A sign-in link that does not sign anyone in; the message says why and what to do."""


class SignIn:
    def __init__(
        self, client: aioredis.Redis, prefix: str, key: bytes, *, link_seconds: float, session_hours: float
    ) -> None:
        self._redis = client
        self._key = key
        self._spent = f"{prefix}chatops:ui:spent:"
        self._sessions = f"{prefix}chatops:ui:session:"
        self.link_seconds = link_seconds
        self.session_seconds = int(session_hours * 3600)

    def token(self, visitor: Visitor, now: float | None = None) -> str:
        """A one-time sign-in token for ``visitor``."""
        expires = int((now if now is not None else time.time()) + self.link_seconds)
        body = {"u": visitor.user_id, "n": visitor.name, "e": expires, "x": secrets.token_urlsafe(12)}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    async def check(self, token: str) -> Visitor:
        """The person a token would sign in, spending nothing; SignInRefused says why it would not."""
        body = self._body(token)
        if await self._redis.exists(self._spent + str(body["x"])):
            raise SignInRefused(_SPENT)
        return Visitor(str(body["u"]), str(body["n"]))

    async def redeem(self, token: str) -> Visitor:
        """The person a token signs in (spending it); SignInRefused says why it does not."""
        body = self._body(token)
        spent: Any = await self._redis.set(self._spent + str(body["x"]), "1", nx=True, ex=int(self.link_seconds) + 60)
        if not spent:
            raise SignInRefused(_SPENT)
        return Visitor(str(body["u"]), str(body["n"]))

    async def open_session(self, visitor: Visitor) -> str:
        session = secrets.token_urlsafe(32)
        value = json.dumps({"u": visitor.user_id, "n": visitor.name})
        await self._redis.set(self._sessions + session, value, ex=self.session_seconds)
        return session

    async def visitor(self, session: str) -> Visitor | None:
        """Who a session cookie belongs to; None when it is unknown or has expired."""
        if not session or len(session) > 100:
            return None
        value: Any = await self._redis.get(self._sessions + session)
        if not value:
            return None
        try:
            data = json.loads(value)
            return Visitor(str(data["u"]), str(data["n"]), self.form_token(session))
        except (ValueError, KeyError, TypeError):  # not a session this bot wrote: nobody is signed in by it
            return None

    async def close_session(self, session: str, form_token: str) -> bool:
        """End ``session`` when ``form_token`` is its own (False, changing nothing, when it is not)."""
        if (
            not session
            or len(session) > 100
            or not hmac.compare_digest(form_token.encode(), self.form_token(session).encode())
        ):
            return False
        await self._redis.delete(self._sessions + session)
        return True

    def form_token(self, session: str) -> str:
        """The token the forms of ``session`` carry (derived from it: nothing more to keep)."""
        return self._sign("form:" + session)

    def _body(self, token: str) -> dict[str, Any]:
        """A token's fields, once its signature and expiry hold."""
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise SignInRefused("This sign-in link is not one this bot made (it is altered or forged).")
        body = _unb64(payload)
        if time.time() > float(body["e"]):
            raise SignInRefused("This sign-in link has expired.")
        return body

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return data
    except (ValueError, binascii.Error) as error:  # signed by us, so never; but never a 500 either
        raise SignInRefused("This sign-in link cannot be read.") from error


SIGN_IN: PortKey[SignIn] = PortKey("dashboard sign-in")
