"""``chatops flags-api`` as the tests run it: a configuration with keys of every kind, definitions
with a front-end flag, the server as a real process, and the bot's own store writing flags."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from flags import AuditInfo, FlagStore, build_change
from tests.configs import ROOT, write_config
from tests.redis_process import free_port

__all__ = [
    "BACKEND",
    "FRONTEND",
    "KEYS",
    "ORIGIN",
    "FlagsApiServer",
    "flags_api_config",
    "flags_api_server",
    "gprd_store",
    "until",
]

#: Each key's environment variable and value: back-end keys for gprd and gstg, a front-end key for gprd.
KEYS = {
    "FLAGS_API_KEY_GPRD": "gprd-backend-key-0123456789abcdef",
    "FLAGS_API_KEY_GSTG": "gstg-backend-key-0123456789abcdef",
    "FLAGS_API_KEY_WEB": "gprd-frontend-key-0123456789abcdef",
}
ORIGIN = "https://gitlab.example.com"  # the one origin browsers may call from
FRONTEND = "new_navigation"  # defined with frontend: true (default off)
BACKEND = "checkout_v2"  # defined without it (default on)
WHO = AuditInfo(who="flags-api tests")
_DEFINITION = """\
---
name: {name}
introduced_by_url: https://gitlab.com/gitlab-org/gitlab/-/merge_requests/1
rollout_issue_url: https://gitlab.com/gitlab-org/gitlab/-/issues/2
milestone: '17.0'
group: group::foundations
type: beta
default_enabled: {default}
"""


def flags_api_config(
    directory: Path, redis_url: str | None, prefix: str, *, frontend_flags: Iterable[str] = (), **settings: Any
) -> Path:
    """The example configuration on the test's Redis and prefix, with definitions for FRONTEND and
    BACKEND (and ``frontend_flags``, for front ends, default on: a stored state must overrule it)
    and a flags_api section (``settings`` replaces its keys)."""
    definitions = directory / "feature_flags"
    definitions.mkdir(exist_ok=True)
    (definitions / f"{FRONTEND}.yml").write_text(
        _DEFINITION.format(name=FRONTEND, default="false") + "frontend: true\n"
    )
    (definitions / f"{BACKEND}.yml").write_text(_DEFINITION.format(name=BACKEND, default="true"))
    for name in frontend_flags:
        (definitions / f"{name}.yml").write_text(_DEFINITION.format(name=name, default="true") + "frontend: true\n")
    flags_api: dict[str, Any] = {
        "keys": [
            {"name": "rails-gprd", "environment": "gprd", "env": "FLAGS_API_KEY_GPRD"},
            {"name": "rails-gstg", "environment": "gstg", "env": "FLAGS_API_KEY_GSTG"},
            {"name": "web-gprd", "environment": "gprd", "env": "FLAGS_API_KEY_WEB", "frontend": True},
        ],
        "cors_origins": [ORIGIN],
        **settings,
    }
    return write_config(directory, redis_url, prefix, definitions=[str(definitions)], flags_api=flags_api)


@dataclass
class FlagsApiServer:
    url: str
    process: subprocess.Popen[str]
    stderr: list[str] = field(default_factory=list)

    def stop(self) -> str:
        """SIGTERM, wait, and its stderr (JSON log lines)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
        self.stderr.append(err)
        return err


def start_process(config: Path, port: int, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bot.cli", "--log-format", "json", "flags-api", "--config", str(config)]
    return subprocess.Popen(
        [*command, "--port", str(port), *args],
        cwd=config.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT), **KEYS},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_ready(session: aiohttp.ClientSession, url: str, process: subprocess.Popen[str]) -> None:
    """Until ``/readyz`` answers 200 (every environment read), at most 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"flags-api exited {process.returncode}: {process.communicate()[1][-2000:]}")
        try:
            async with session.get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready")


@asynccontextmanager
async def flags_api_server(config: Path, session: aiohttp.ClientSession) -> AsyncIterator[FlagsApiServer]:
    """``chatops flags-api`` on a free port, ready; stopped afterwards (its log lines in ``stderr``)."""
    port = free_port()
    server = FlagsApiServer(f"http://127.0.0.1:{port}", start_process(config, port))
    try:
        await wait_ready(session, server.url, server.process)
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def gprd_store(redis_url: str, prefix: str) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """``set(name, value, **scopes)`` as the bot writes production (the example's gprd prefix)."""
    store = FlagStore.from_url(redis_url, prefix=f"{prefix}gprd:", environment="gprd")

    async def set_flag(name: str, value: str, **scopes: Any) -> None:
        await store.apply(name, build_change(value, **scopes), WHO)

    try:
        yield set_flag
    finally:
        await store.close()


async def until(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Ask ``condition`` until it holds; how long that took (AssertionError after ``seconds``)."""
    started = time.perf_counter()
    while not await condition():
        if time.perf_counter() - started > seconds:
            raise AssertionError(f"not within {seconds * 1000:.0f} ms: {what}")
    return time.perf_counter() - started
