"""Local HTTP servers for the safety tests: a production-check endpoint and GitLab's API.

Both validate the shape of what they receive (form fields, headers) and record it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ChecksAndGitLab:
    check_answer: Any = field(default_factory=lambda: {"safe": True, "reasons": []})
    check_status: int = 200
    check_delay: float = 0.0
    trigger_status: int = 201
    requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _issues: int = 0

    async def start(self) -> ChecksAndGitLab:
        app = web.Application()
        app.router.add_get("/check", self._check)
        app.router.add_get("/never", self._never)
        app.router.add_post("/api/v4/projects/{project}/trigger/pipeline", self._trigger)
        app.router.add_post("/api/v4/projects/{project}/issues", self._create_issue)
        app.router.add_put("/api/v4/projects/{project}/issues/{iid}", self._close_issue)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append((request.method, request.raw_path, dict(request.headers), form))
        return form

    def of(self, path_part: str) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
        return [r for r in self.requests if path_part in r[1]]

    async def _check(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.check_delay)
        if isinstance(self.check_answer, str):
            return web.Response(text=self.check_answer, status=self.check_status)
        return web.json_response(self.check_answer, status=self.check_status)

    async def _never(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3600)
        return web.Response(text="too late")

    async def _trigger(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if request.content_type != "application/x-www-form-urlencoded" and not request.content_type.startswith(
            "multipart"
        ):
            self.problems.append(f"trigger sent as {request.content_type}")
        for needed in ("token", "ref"):
            if not form.get(needed):
                self.problems.append(f"trigger without {needed}")
        if self.trigger_status >= 300:
            return web.json_response({"message": "500 Internal Server Error"}, status=self.trigger_status)
        project = request.match_info["project"]
        return web.json_response(
            {"id": 4242, "web_url": f"https://gitlab.example.com/{project}/-/pipelines/4242"}, status=201
        )

    async def _create_issue(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if not request.headers.get("PRIVATE-TOKEN"):
            self.problems.append("issue created without PRIVATE-TOKEN")
        if not form.get("title"):
            self.problems.append("issue without a title")
        self._issues += 1
        return web.json_response(
            {"iid": self._issues, "web_url": f"https://gitlab.example.com/log/-/issues/{self._issues}"}, status=201
        )

    async def _close_issue(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if form.get("state_event") != "close":
            self.problems.append(f"issue update without state_event=close: {form}")
        return web.json_response({"iid": int(request.match_info["iid"]), "state": "closed"})
