"""Generic HTTP checks: each URL answers ``{"safe": bool, "reasons": [...]}``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import aiohttp
from pydantic import BaseModel

from handlers.checks.base import CheckResult, Probe, ProbeDeps
from handlers.config.checks import HttpSettings

__all__ = ["HttpCheck"]


class HttpCheck:
    key: ClassVar[str] = "http"
    Settings: ClassVar[type[BaseModel]] = HttpSettings

    def probes(self, settings: HttpSettings, deps: ProbeDeps) -> Sequence[Probe]:
        return tuple(
            Probe(f"HTTP check {url}", functools.partial(says_safe, deps.session, url)) for url in settings.root
        )


async def says_safe(session: aiohttp.ClientSession, url: str) -> CheckResult:
    name = f"HTTP check {url}"
    async with session.get(url) as response:
        if response.status != 200:
            return CheckResult(name, False, (f"{url} answered HTTP {response.status}",))
        try:
            body: Any = await response.json(content_type=None)
        except ValueError:
            return CheckResult(name, False, (f"{url} answered something that is not JSON",))
    if not isinstance(body, dict) or not isinstance(body.get("safe"), bool):
        return CheckResult(name, False, (f'{url} did not answer {{"safe": true|false, "reasons": [...]}}',))
    reasons = body.get("reasons")
    listed = tuple(str(r)[:300] for r in reasons) if isinstance(reasons, list) else ()
    if body["safe"]:
        return CheckResult(name, True)
    return CheckResult(name, False, listed or (f"{url} says it is not safe (no reason given)",))
