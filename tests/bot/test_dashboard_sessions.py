"""The dashboard's sessions and error pages over HTTP, against the real server and Redis.

A sign-in link looked at (by an unfurler, then by its person) is not spent; only its POST signs
in, once. Sign out is a POST carrying the session's form token: without it, with another
session's or from another site it changes nothing; with it the session is gone from Redis and
its cookie no longer opens a page; a GET of the sign-out address changes nothing. A 404 (an
unknown flag, an unknown address), a 403, a 405 and a 500 are pages in the layout with the same
security headers as the flags page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

import bot.dashboard
from bot.dashboard import COOKIE
from bot.server import RUNTIME
from handlers.dashboard.signin import SIGN_IN, SignIn, Visitor
from tests.bot.conftest import FLAG, start_bot, write_config
from tests.bot.slack_stub import SlackStub
from tests.redis_process import free_port

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control")
FORM_TOKEN = re.compile(r'<form method="post" action="/ui/signout"><input type="hidden" name="token" value="([^"]+)">')


class Served:
    """The bot serving the dashboard, its sign-in service and a client for its own Redis."""

    def __init__(self, url: str, sign_in: SignIn, redis: aioredis.Redis, prefix: str) -> None:
        self.url, self.sign_in, self.redis, self.prefix = url, sign_in, redis, prefix

    def token(self, name: str = "sre") -> str:
        return self.sign_in.token(Visitor("U0SRE", name))

    async def signed_in(self, name: str = "sre") -> aiohttp.ClientSession:
        """A client signed in through a fresh link's POST (the caller closes it)."""
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies of 127.0.0.1
        async with session.post(f"{self.url}/ui/signin", data={"token": self.token(name)}) as signed:
            assert signed.status == 200 and name in await signed.text()  # followed to the flags page
        return session


@pytest.fixture
async def served(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> AsyncIterator[Served]:
    port = free_port()
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, ui={"base_url": f"http://127.0.0.1:{port}"})
    runner, url = await start_bot(config, slack, tmp_path / ".chatops", port=port)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        yield Served(url, runner.app[RUNTIME].app.ports.need(SIGN_IN), client, prefix)
    finally:
        await runner.cleanup()
        await client.aclose()


def session_of(client: aiohttp.ClientSession) -> str:
    (cookie,) = [c for c in client.cookie_jar if c.key == COOKIE]
    return cookie.value


async def test_looking_at_a_sign_in_link_spends_nothing_and_its_post_signs_in_once(served: Served) -> None:
    token = served.token("ada")
    link = f"{served.url}/ui/signin?token={token}"
    async with aiohttp.ClientSession() as unfurler:
        for _ in range(2):  # Slack's unfurler, a mail scanner... then the person
            async with unfurler.get(link, allow_redirects=False) as looked:
                page = await looked.text()
                assert looked.status == 200 and "Set-Cookie" not in looked.headers, page
                assert "ada" in page and '<form method="post" action="/ui/signin">' in page
                assert f'name="token" value="{token}"' in page
    assert not [k async for k in served.redis.scan_iter(f"{served.prefix}chatops:ui:session:*")]
    async with aiohttp.ClientSession() as person:
        async with person.post(f"{served.url}/ui/signin", data={"token": token}, allow_redirects=False) as signed:
            assert signed.status == 303 and signed.headers["Location"] == "/ui/"
            assert f"{COOKIE}=" in signed.headers["Set-Cookie"]
        async with person.post(f"{served.url}/ui/signin", data={"token": token}, allow_redirects=False) as again:
            assert again.status == 401 and "was used already" in await again.text()
        async with person.get(link, allow_redirects=False) as looked:
            assert looked.status == 401 and "was used already" in await looked.text()
    cross_site = {"Sec-Fetch-Site": "cross-site"}  # a form on another site posting someone's link
    signin = f"{served.url}/ui/signin"
    async with (
        aiohttp.ClientSession() as other,
        other.post(signin, data={"token": served.token()}, headers=cross_site) as sent,
    ):
        assert sent.status == 403 and "another site" in await sent.text()
        assert "Set-Cookie" not in sent.headers


async def test_sign_out_needs_the_sessions_token_and_ends_the_session(served: Served) -> None:
    client = await served.signed_in("ada")
    other = await served.signed_in("bob")
    try:
        session = session_of(client)
        async with client.get(f"{served.url}/ui/") as flags:
            found = FORM_TOKEN.search(await flags.text())  # every page's Sign out button
            assert found, "no Sign out form on the flags page"
            form_token = found.group(1)
        async with other.get(f"{served.url}/ui/") as flags:
            found = FORM_TOKEN.search(await flags.text())
            assert found and found.group(1) != form_token
            others_token = found.group(1)
        refused = [
            ({}, {}),  # no token
            ({"token": ""}, {}),
            ({"token": others_token}, {}),  # another session's
            ({"token": form_token}, {"Sec-Fetch-Site": "cross-site"}),  # the right one, from another site
        ]
        for form, headers in refused:
            async with client.post(f"{served.url}/ui/signout", data=form, headers=headers) as answer:
                page = await answer.text()
                assert answer.status == 403 and "nothing was changed" in page, (form, headers, page)
                assert "Set-Cookie" not in answer.headers
                assert all(answer.headers.get(h) for h in SECURITY_HEADERS), answer.headers
        async with client.get(f"{served.url}/ui/signout") as looked:  # a GET shows a page, and changes nothing
            assert looked.status == 200 and "You are signed in as" in await looked.text()
        async with client.get(f"{served.url}/ui/") as still:
            assert still.status == 200 and "ada" in await still.text()
        assert await served.redis.exists(f"{served.prefix}chatops:ui:session:{session}")

        async with client.post(
            f"{served.url}/ui/signout", data={"token": form_token}, allow_redirects=False
        ) as signed_out:
            assert signed_out.status == 303 and signed_out.headers["Location"] == "/ui/signout"
            cleared = signed_out.headers["Set-Cookie"]
            assert f'{COOKIE}=""' in cleared and "Max-Age=0" in cleared and "Path=/ui" in cleared, cleared
        assert not await served.redis.exists(f"{served.prefix}chatops:ui:session:{session}")
        async with client.get(f"{served.url}/ui/signout") as page:
            assert page.status == 200 and "You are not signed in" in await page.text()
        kept = aiohttp.ClientSession(cookies={COOKIE: session})  # the old cookie, replayed
        async with kept as replayed, replayed.get(f"{served.url}/ui/") as answer:
            assert answer.status == 401
        async with other.get(f"{served.url}/ui/") as untouched:  # the other session is still open
            assert untouched.status == 200 and "bob" in await untouched.text()
    finally:
        await client.close()
        await other.close()


async def test_errors_are_pages_in_the_layout_with_the_same_headers(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await served.signed_in("ada")
    try:
        async with client.get(f"{served.url}/ui/") as flags:
            assert flags.status == 200
            expected = {h: flags.headers[h] for h in SECURITY_HEADERS}
        assert "frame-ancestors 'none'" in expected["Content-Security-Policy"]
        answers = [
            ("GET", "/ui/flags/no_such_flag_here", 404, "No flag no_such_flag_here in Redis or in a definition."),
            ("GET", "/ui/flags/Not%20A%20Flag", 404, "No such flag"),
            ("GET", "/ui/no/such/page", 404, "There is no page at this address."),
            ("DELETE", "/ui/", 405, "does not take that kind of request"),
        ]
        for method, path, status, said in answers:
            async with client.request(method, f"{served.url}{path}") as answer:
                page = await answer.text()
                assert answer.status == status and said in page, (path, answer.status, page)
                assert {h: answer.headers.get(h) for h in SECURITY_HEADERS} == expected, (path, answer.headers)
                assert answer.content_type == "text/html"
                assert '<a class="skip" href="#main">' in page and '<nav aria-label="Dashboard">' in page
                assert "ada" in page and FORM_TOKEN.search(page), page  # who, and Sign out, as on every page
        async with aiohttp.ClientSession() as anonymous, anonymous.get(f"{served.url}/ui/no/such/page") as answer:
            page = await answer.text()
            assert answer.status == 404 and "/chatops run dashboard" in page and not FORM_TOKEN.search(page)
            assert {h: answer.headers.get(h) for h in SECURITY_HEADERS} == expected

        def broken(*args: object, **kwargs: object) -> str:  # a defect in drawing the flag page
            raise RuntimeError("secret detail of a bug")

        monkeypatch.setattr(bot.dashboard, "flag_html", broken)
        with capture_logs() as logs:
            async with client.get(f"{served.url}/ui/flags/{FLAG}") as failed:
                page = await failed.text()
        assert failed.status == 500 and "failed to show this page" in page and "secret detail" not in page
        assert {h: failed.headers.get(h) for h in SECURITY_HEADERS} == expected
        assert "ada" in page and '<nav aria-label="Dashboard">' in page
        assert [e for e in logs if e["event"] == "bot.dashboard_failed" and e.get("exc_info")], logs
    finally:
        await client.close()
