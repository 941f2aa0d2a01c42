"""Malformed Slack requests get 401 or 400 (never 500, no traceback); GitLab bodies in several TCP segments."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from structlog.testing import capture_logs

from bot.webhooks import MAX_WEBHOOK_BODY
from tests.bot.conftest import SIGNING_SECRET, BotUnderTest
from tests.bot.deployments.conftest import WEBHOOK_TOKEN, DeployBot, deploy_bot, deployment_event, history
from tests.helpers import keyspace

__all__ = ["deploy_bot", "history"]  # the deployment fixtures, used here too

FORM = "application/x-www-form-urlencoded"
BLOCK_ACTIONS: dict[str, Any] = {
    "type": "block_actions",
    "team": {"id": "T0TEST", "domain": "test"},
    "user": {"id": "U0SRE", "username": "u0sre", "team_id": "T0TEST"},
    "channel": {"id": "C0PROD", "name": "production"},
    "response_url": "http://127.0.0.1:9/respond/x",
    "actions": [{"action_id": "rollback", "block_id": "b1", "value": "x", "type": "button", "action_ts": "1.1"}],
}


def sign(body: bytes, timestamp: str | None = None, content_type: str = FORM) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes (whatever they are) and the timestamp as given."""
    ts = str(int(time.time())) if timestamp is None else timestamp
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}


def payload_form(payload: object) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": text}).encode()


def with_fields(**fields: object) -> bytes:
    return payload_form({**BLOCK_ACTIONS, **fields})


COMMAND = urlencode({"command": "/chatops", "text": "run feature list", "user_id": "U0SRE"}).encode()
NOW = int(time.time())

UNAUTHENTICATED: dict[str, tuple[bytes, dict[str, str]]] = {
    "no-signature": (COMMAND, {"Content-Type": FORM}),
    "wrong-signature": (COMMAND, {**sign(COMMAND), "X-Slack-Signature": "v0=" + "0" * 64}),
    "signature-not-ascii": (COMMAND, {**sign(COMMAND), "X-Slack-Signature": "v0=é"}),
    "timestamp-not-a-number": (COMMAND, sign(COMMAND, "soon")),
    "timestamp-fractional": (COMMAND, sign(COMMAND, f"{NOW}.5")),
    "timestamp-negative": (COMMAND, sign(COMMAND, f"-{NOW}")),
    "timestamp-huge": (COMMAND, sign(COMMAND, "9" * 40)),
    "timestamp-stale": (COMMAND, sign(COMMAND, str(NOW - 3600))),
    "non-utf8-body-unsigned": (b"text=\xff\xfe", {"Content-Type": FORM}),
}

MALFORMED: dict[str, tuple[bytes, str]] = {
    "body-not-utf8": (b"command=/chatops&text=\xff\xfe", FORM),
    "payload-not-json": (payload_form("{not json"), FORM),
    "payload-json-array": (payload_form([1, 2]), FORM),
    "payload-json-string": (payload_form('"block_actions"'), FORM),
    "actions-null": (with_fields(actions=None), FORM),
    "actions-empty": (with_fields(actions=[]), FORM),
    "action-not-an-object": (with_fields(actions=["rollback"]), FORM),
    "action-without-action-id": (with_fields(actions=[{"value": "x"}]), FORM),
    "user-a-number": (with_fields(user=5), FORM),
    "user-a-string": (with_fields(user="U0SRE"), FORM),  # an ID where a click has an object: the listener crashed
    "channel-a-string": (with_fields(channel="C0PROD"), FORM),
    "response-url-a-number": (with_fields(response_url=5), FORM),
    "event-null": (with_fields(event=None), FORM),
    "view-without-type": (with_fields(view={"id": "V1"}), FORM),
    "authorizations-not-objects": (with_fields(authorizations=[None]), FORM),
    "payload-nested-100000-deep": (payload_form("[" * 100_000), FORM),
    "payload-nested-500-deep": (payload_form({**BLOCK_ACTIONS, "state": json.loads("[" * 500 + "]" * 500)}), FORM),
    "json-body-nested-100000-deep": (b'{"a":' + b"[" * 100_000, "application/json"),
    "form-body-labelled-json": (COMMAND, "application/json"),
    "json-body-an-array": (b"[]", "application/json"),
}


def assert_no_traceback(logs: list[MutableMapping[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    assert not [e for e in logs if e.get("exc_info") or e.get("log_level") in ("error", "critical")], logs
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.records


async def post(
    bot: BotUnderTest, body: bytes, headers: dict[str, str]
) -> tuple[int, str, list[MutableMapping[str, Any]]]:
    with capture_logs() as logs:
        async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=headers) as response:
            status, text = response.status, await response.text()
    # The bot's background work (the timer driver, recovery) logs on its own schedule, not the request's.
    background = ("driver.", "recovery.", "journal.", "guard.", "alerts.")
    return status, text, [e for e in logs if not str(e.get("event", "")).startswith(background)]


@pytest.mark.parametrize("case", list(UNAUTHENTICATED), ids=list(UNAUTHENTICATED))
async def test_unauthenticated_requests_are_401(bot: BotUnderTest, case: str, caplog: pytest.LogCaptureFixture) -> None:
    body, headers = UNAUTHENTICATED[case]
    before = await keyspace(bot.redis, bot.prefix)
    status, text, logs = await post(bot, body, headers)
    assert status == 401, text
    assert [e["event"] for e in logs] == ["bot.bad_request"] and logs[0]["status"] == 401
    assert_no_traceback(logs, caplog)
    assert await keyspace(bot.redis, bot.prefix) == before


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
async def test_signed_but_malformed_requests_are_400_with_a_reason(
    bot: BotUnderTest, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, content_type = MALFORMED[case]
    before = await keyspace(bot.redis, bot.prefix)
    status, text, logs = await post(bot, body, sign(body, content_type=content_type))
    assert status == 400, text
    reason = json.loads(text)["error"]
    assert reason.startswith("bad request: ") and len(reason) > len("bad request: ") and len(reason) < 200
    assert [(e["event"], e["reason"]) for e in logs] == [("bot.bad_request", reason.removeprefix("bad request: "))]
    assert_no_traceback(logs, caplog)
    await asyncio.sleep(0.1)  # nothing runs afterwards either
    assert await keyspace(bot.redis, bot.prefix) == before
    assert not bot.slack.responses


async def test_a_valid_command_still_works_after_malformed_ones(bot: BotUnderTest) -> None:
    for body, content_type in MALFORMED.values():
        async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=sign(body, None, content_type)) as r:
            assert r.status == 400
    _, text = await bot.text("run feature list")
    assert text


async def raw_http(url: str, head: str, pieces: list[bytes]) -> tuple[int, dict[str, Any]]:
    """One HTTP/1.1 request over a plain TCP connection, its body in separate writes 50 ms apart."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode())
        await writer.drain()
        for piece in pieces:
            await asyncio.sleep(0.05)
            try:
                writer.write(piece)
                await writer.drain()
            except ConnectionError:  # the server answered early (413) and closed
                break
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # Connection: close
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body) if body else {}


def webhook_head(length: int) -> str:
    return (
        "POST /webhooks/gitlab HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"X-Gitlab-Token: {WEBHOOK_TOKEN}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )


def thirds(body: bytes) -> list[bytes]:
    third = len(body) // 3
    return [body[:third], body[third : 2 * third], body[2 * third :]]


async def test_a_webhook_body_in_three_segments_is_recorded(deploy_bot: DeployBot) -> None:
    body = json.dumps(deployment_event("gstg", "c" * 40, "success", "2026-11-26 06:00:00 +0000")).encode()
    status, answer = await raw_http(deploy_bot.url, webhook_head(len(body)), thirds(body))
    assert (status, answer["message"]) == (200, "recorded")
    current = await deploy_bot.redis.hgetall(f"{deploy_bot.prefix}chatops:deploy:gstg:current")
    assert current["sha"] == "c" * 40


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_webhook_body_in_segments_is_413(deploy_bot: DeployBot, framing: str) -> None:
    before = await keyspace(deploy_bot.redis, deploy_bot.prefix)
    event = deployment_event("gstg", "d" * 40, "success", "2026-11-26 06:00:00 +0000", padding="x" * MAX_WEBHOOK_BODY)
    body = json.dumps(event).encode()
    head, pieces = webhook_head(len(body)), thirds(body)
    if framing == "chunked":  # no length announced: only counting what arrives can tell
        head = head.replace(f"Content-Length: {len(body)}", "Transfer-Encoding: chunked")
        pieces = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]
    status, answer = await raw_http(deploy_bot.url, head, pieces)
    assert status == 413 and "larger than" in answer["message"]
    assert await keyspace(deploy_bot.redis, deploy_bot.prefix) == before
