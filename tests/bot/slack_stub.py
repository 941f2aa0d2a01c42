"""A local Slack Web API server for tests: records every call, answers like Slack,
and can be told to fail (429 with Retry-After, 500, channel_not_found).

Also serves response_url endpoints (/respond/<id>) and a Socket Mode WebSocket
(/socket) for apps.connections.open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class SlackStub:
    channels: dict[str, str] = field(default_factory=dict)  # name → id
    usergroups: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # handle → (id, members)
    missing_channels: set[str] = field(default_factory=set)  # chat.postMessage → channel_not_found
    calls: list[Call] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    scripted: dict[str, deque[tuple[int, dict[str, str], dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # messages that break the rules every message keeps
    url: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    # -- control ------------------------------------------------------------------------------

    def fail_next(
        self, method: str, status: int, *, retry_after: int | None = None, body: dict[str, Any] | None = None
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.scripted[method].append((status, headers, body or {"ok": False, "error": f"http_{status}"}))

    def posts(self, channel: str) -> list[dict[str, Any]]:
        """chat.postMessage calls that succeeded, for a channel given as #name or ID."""
        wanted = {channel, self.channels.get(channel.lstrip("#"), channel)}
        return [
            c.params
            for c in self.calls
            if c.method == "chat.postMessage" and c.params.get("channel") in wanted and c.params.get("_ok")
        ]

    def post_texts(self, channel: str) -> list[str]:
        return [message_text(p) for p in self.posts(channel)]

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method == method)

    async def wait_for(self, condition: Any, timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not condition():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.05)

        await asyncio.wait_for(loop(), timeout)

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        for ws in self._sockets:
            await ws.send_str(json.dumps(envelope))

    # -- server -------------------------------------------------------------------------------

    async def start(self) -> SlackStub:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for ws in self._sockets:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.close(), 2)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        body = await request.text()
        if request.content_type == "application/json" and body:
            data = json.loads(body)
            return data if isinstance(data, dict) else {"_": data}
        params: dict[str, Any] = dict(parse_qsl(body))
        params.update(request.query)
        for key in ("blocks", "attachments"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    def _record(self, call: Call) -> None:
        if call.method in ("chat.postMessage", "chat.update", "response_url", "chat.postEphemeral"):
            self.problems += button_problems(call.params)
        self.calls.append(call)
        self.changed.set()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, dict(request.headers))
        if self.scripted[method]:
            status, headers, body = self.scripted[method].popleft()
            self._record(call)
            return web.json_response(body, status=status, headers=headers)
        answer = self._answer(method, params)
        params["_ok"] = answer.get("ok", False)
        self._record(call)
        return web.json_response(answer)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "chatops",
                "team_id": "T0TEST",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        if method == "conversations.list":
            channels = [{"id": i, "name": n} for n, i in self.channels.items()]
            return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
        if method == "usergroups.list":
            return {
                "ok": True,
                "usergroups": [{"id": i, "handle": h} for h, (i, _) in self.usergroups.items()],
            }
        if method == "usergroups.users.list":
            for group_id, members in self.usergroups.values():
                if group_id == params.get("usergroup"):
                    return {"ok": True, "users": members}
            return {"ok": False, "error": "no_such_subteam"}
        if method == "chat.postMessage":
            channel = str(params.get("channel", ""))
            if channel.lstrip("#") in self.missing_channels or channel in self.missing_channels:
                return {"ok": False, "error": "channel_not_found"}
            ts = f"{len(self.calls)}.000100"
            params["_ts"] = ts
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            known = any(c.method == "chat.postMessage" and c.params.get("_ts") == params.get("ts") for c in self.calls)
            return (
                {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
                if known
                else {
                    "ok": False,
                    "error": "message_not_found",
                }
            )
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http", "ws") + "/socket"}
        return {"ok": False, "error": "unknown_method"}

    async def _respond(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if self.scripted["response_url"]:
            status, headers, body = self.scripted["response_url"].popleft()
            self._record(Call("response_url (failed)", params, dict(request.headers)))
            return web.json_response(body, status=status, headers=headers)
        self.responses[request.match_info["id"]].append(params)
        self._record(Call("response_url", params, dict(request.headers)))
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
                self.changed.set()
        return ws


def button_problems(message: dict[str, Any]) -> list[str]:
    """What breaks the rules every message keeps: a sentence said twice, two buttons with one
    label, a danger button that asks nothing first."""
    blocks = message.get("blocks") or []
    sentences = [
        s.strip().lower()
        for s in re.split(r"(?<=[.!?])\s+|\n", message_text(message))
        if len(s.strip()) > 24 and not s.strip().startswith("`")  # a list of changes may repeat a line
    ]
    found = [f"says twice: {s!r}" for s in sorted(set(sentences)) if sentences.count(s) > 1]
    buttons = [e for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])]
    buttons += [b["accessory"] for b in blocks if b.get("accessory", {}).get("type") == "button"]
    labels = [str(b.get("text", {}).get("text", "")) for b in buttons]
    found += [f"two buttons named {label!r}" for label in sorted(set(labels)) if labels.count(label) > 1]
    for button in buttons:
        confirm = button.get("confirm") or {}
        if button.get("style") == "danger" and not str(confirm.get("text", {}).get("text", "")).strip():
            found.append(f"danger button {button.get('text', {}).get('text')!r} asks nothing first")
    return found


def message_text(message: dict[str, Any]) -> str:
    """All the mrkdwn text of a message: its blocks' texts, or its text."""
    blocks = message.get("blocks") or []
    texts = []
    for block in blocks:
        if block.get("type") == "section":
            texts.append(block["text"]["text"])
        elif block.get("type") == "context":
            texts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(texts) if texts else str(message.get("text", ""))


@dataclass
class HangingSlackStub(SlackStub):
    """A Slack stub that never answers the Web API methods in ``hanging`` (until it stops)."""

    hanging: set[str] = field(default_factory=set)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method in self.hanging:
            self._record(Call(method, await self._params(request), dict(request.headers)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), 60)
        return await super()._api(request)

    async def stop(self) -> None:
        self._release.set()
        await super().stop()
