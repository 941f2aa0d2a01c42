"""What a production check is: a kind of check with its own settings, and the probes it runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import aiohttp
from pydantic import BaseModel

__all__ = ["CheckKind", "CheckResult", "Probe", "ProbeDeps"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbeDeps:
    """What every probe may use: one shared HTTP session. A kind that needs more (the running-deployments
    kind, the deployment registry) is built with it."""

    session: aiohttp.ClientSession


@dataclass(frozen=True, slots=True)
class Probe:
    """One thing to ask, named for the person reading why the check failed."""

    name: str
    run: Callable[[], Awaitable[CheckResult]]


class CheckKind(Protocol):
    """A kind of production check. ``key`` is its key under ``safety.production_check`` in the
    configuration (a field of ``handlers.config.ProductionCheckSettings``) and ``Settings`` the model of
    that field (in ``handlers.config.checks``); the composition root registers it
    (``handlers.composition.checks.production_checks``)."""

    key: ClassVar[str]
    Settings: ClassVar[type[BaseModel]]

    def probes(self, settings: Any, deps: ProbeDeps) -> Sequence[Probe]: ...
