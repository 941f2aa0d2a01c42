"""Real HTTP receivers of the bot's webhooks, for tests and benchmarks: one that checks signatures
and records, one that fails a few times before it takes an event, one that never answers, one that
drops repeated idempotency keys, and a stand-in for Grafana's annotations API (the fields it requires)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.redis_process import free_port

__all__ = ["Received", "Receivers"]


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class Receivers:
    secret: str = "webhook-secret-for-tests"
    grafana_token: str = "glsa_test_token"
    fail_first: int = 3  # /flaky fails this many times per idempotency key, then takes it
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what a receiver refused, and why
    attempts: Counter[str] = field(default_factory=Counter)  # /flaky, per key
    seen_keys: Counter[str] = field(default_factory=Counter)  # /dedupe, every delivery per key
    never_asked: int = 0  # requests /never has held without answering
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [r.body for r in self.received if r.path == path]

    async def start(self) -> Receivers:
        app = web.Application()
        app.router.add_post("/signed", self._signed)
        app.router.add_post("/flaky", self._flaky)
        app.router.add_post("/never", self._never)
        app.router.add_post("/dedupe", self._dedupe)
        app.router.add_post("/api/annotations", self._grafana)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)  # /never never ends
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _record(self, request: web.Request) -> tuple[bytes, dict[str, Any]]:
        raw = await request.read()
        body = json.loads(raw)
        self.received.append(Received(request.path, body, dict(request.headers), time.time()))
        return raw, body

    async def _signed(self, request: web.Request) -> web.Response:
        raw = await request.read()
        timestamp = request.headers.get("X-Chatops-Timestamp", "")
        expected = (
            "v1=" + hmac.new(self.secret.encode(), b"v1:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, request.headers.get("X-Chatops-Signature", "")):
            self.problems.append("/signed: bad signature")
            return web.Response(status=401, text="bad signature")
        if abs(time.time() - int(timestamp)) > 300:
            self.problems.append("/signed: stale timestamp")
            return web.Response(status=401, text="stale")
        body = json.loads(raw)
        self.received.append(Received(request.path, body, dict(request.headers), time.time()))
        return web.Response(status=204)

    async def _flaky(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        self.attempts[key] += 1
        if self.attempts[key] <= self.fail_first:
            return web.Response(status=503, text="try again later")
        await self._record(request)
        return web.Response(status=200, text="ok")

    async def _never(self, request: web.Request) -> web.Response:
        self.never_asked += 1
        await asyncio.sleep(3600)
        return web.Response(status=200)

    async def _dedupe(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        self.seen_keys[key] += 1
        if self.seen_keys[key] == 1:
            await self._record(request)
        return web.Response(status=200)

    async def _grafana(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.grafana_token}":
            self.problems.append("/api/annotations: no or wrong token")
            return web.json_response({"message": "Unauthorized"}, status=401)
        _, body = await self._record(request)
        wrong = _annotation_problems(body)
        if wrong:
            self.problems.append(f"/api/annotations: {wrong}")
            return web.json_response({"message": wrong}, status=400)
        return web.json_response({"id": len(self.received), "message": "Annotation added"})


def _annotation_problems(body: dict[str, Any]) -> str:
    """What Grafana's POST /api/annotations would refuse: time in epoch milliseconds, tags as strings, text."""
    if not isinstance(body.get("time"), int) or body["time"] < 10**12:
        return "time must be epoch milliseconds"
    if "timeEnd" in body and (not isinstance(body["timeEnd"], int) or body["timeEnd"] < body["time"]):
        return "timeEnd must be epoch milliseconds, not before time"
    if not isinstance(body.get("tags"), list) or not all(isinstance(t, str) for t in body["tags"]):
        return "tags must be a list of strings"
    if not isinstance(body.get("text"), str) or not body["text"]:
        return "text is required"
    return ""
