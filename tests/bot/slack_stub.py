"""A local Slack Web API server for tests: records every call, answers like Slack,
and can be told to fail (429 with Retry-After, 500, channel_not_found).

chat.getPermalink answers with a link for the messages posted here (message_not_found for others).
Also serves response_url endpoints (/respond/<id>), a Socket Mode WebSocket
(/socket) for apps.connections.open, and the external file upload: files.getUploadURLExternal
hands out an upload URL on the stub itself (/upload/<file id>), which takes the bytes (raw or
multipart, as Slack does), and files.completeUploadExternal shares them (``uploads``).
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

from aiohttp import BodyPartReader, WSMsgType, web


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Upload:
    """A file given to files.getUploadURLExternal, its bytes once sent to its upload URL, and where
    files.completeUploadExternal shared it."""

    file_id: str
    filename: str
    length: int
    alt_txt: str = ""
    data: bytes | None = None
    title: str = ""
    channel_id: str = ""
    thread_ts: str = ""
    initial_comment: str = ""
    completed: bool = False


@dataclass
class SlackStub:
    channels: dict[str, str] = field(default_factory=dict)  # name → id
    usergroups: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # handle → (id, members)
    missing_channels: set[str] = field(default_factory=set)  # chat.postMessage → channel_not_found
    not_member: set[str] = field(default_factory=set)  # channel IDs conversations.info says the bot is not in
    calls: list[Call] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    scripted: dict[str, deque[tuple[int, dict[str, str], dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Upload] = field(default_factory=dict)  # file id → upload, in the order asked
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

    def uploads(self, channel: str) -> list[Upload]:
        """Files shared by files.completeUploadExternal in a channel (#name or ID), oldest first."""
        wanted = {channel, self.channels.get(channel.lstrip("#"), channel)}
        return [u for u in self.files.values() if u.completed and u.channel_id in wanted]

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
        app.router.add_post("/upload/{file_id}", self._upload)
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
        if method == "conversations.info":
            channel = str(params.get("channel", ""))
            if channel in self.not_member:
                return {"ok": True, "channel": {"id": channel, "is_member": False}}
            return {"ok": True, "channel": {"id": channel, "is_member": True}}
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
            # Slack answers with the channel's ID, also when it was named
            return {
                "ok": True,
                "channel": self.channels.get(channel[1:], channel) if channel[:1] == "#" else channel,
                "ts": ts,
            }
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
        if method == "chat.getPermalink":
            return self._permalink(params)
        if method.startswith("files."):
            return self._files_answer(method, params)
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http", "ws") + "/socket"}
        return {"ok": False, "error": "unknown_method"}

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        """A message's link, as Slack gives it: only for a message posted (and so known) here."""
        channel, ts = str(params.get("channel", "")), str(params.get("message_ts", ""))
        if not channel or not ts:
            return {"ok": False, "error": "invalid_arguments"}
        known = any(c.method == "chat.postMessage" and c.params.get("_ts") == ts for c in self.calls)
        if not known:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _files_answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "files.getUploadURLExternal":
            if not params.get("filename") or not str(params.get("length", "")).isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{len(self.files) + 1:08d}"
            self.files[file_id] = Upload(
                file_id, str(params["filename"]), int(params["length"]), str(params.get("alt_txt", ""))
            )
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        return {"ok": False, "error": "unknown_method"}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """Shares uploaded files: every one named must have been sent to its upload URL, in full."""
        files = params.get("files")
        listed = json.loads(files) if isinstance(files, str) else files
        if not isinstance(listed, list) or not listed:
            return {"ok": False, "error": "invalid_arguments"}
        uploads = [self.files.get(str(f.get("id"))) for f in listed]
        if any(u is None or u.data is None or u.completed for u in uploads):
            return {"ok": False, "error": "file_not_found"}
        for upload, item in zip(uploads, listed, strict=True):
            assert upload is not None
            upload.title = str(item.get("title") or upload.filename)
            upload.channel_id = str(params.get("channel_id", ""))
            upload.thread_ts = str(params.get("thread_ts", ""))
            upload.initial_comment = str(params.get("initial_comment", ""))
            upload.completed = True
        return {"ok": True, "files": [{"id": u.file_id, "title": u.title} for u in uploads if u is not None]}

    async def _upload(self, request: web.Request) -> web.Response:
        """An upload URL: the bytes, raw or as the file of a multipart form; Slack answers in plain text."""
        upload = self.files.get(request.match_info["file_id"])
        call = Call("upload", {"file_id": request.match_info["file_id"]}, dict(request.headers))
        if self.scripted["upload"]:
            status, _, body = self.scripted["upload"].popleft()
            self._record(call)
            return web.Response(text=json.dumps(body), status=status, content_type="text/plain")
        if upload is None:
            self._record(call)
            return web.Response(text="Not Found", status=404, content_type="text/plain")
        upload.data = await _uploaded_bytes(request)
        if len(upload.data) != upload.length:
            self.problems.append(f"{upload.file_id}: {len(upload.data)} bytes sent, {upload.length} announced")
        self._record(call)
        return web.Response(text=f"OK - {len(upload.data)}", content_type="text/plain")

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


async def _uploaded_bytes(request: web.Request) -> bytes:
    if request.content_type != "multipart/form-data":
        return await request.read()
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.filename is not None:
            return bytes(await part.read())
    return b""


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
