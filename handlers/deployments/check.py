"""The production check's running deployments: a deployment in progress to any of the configured
deployment environments blocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel

from handlers.checks.base import CheckResult, Probe, ProbeDeps
from handlers.config.checks import DeploymentsSettings
from handlers.deployments.registry import DeploymentRegistry, RegistryUnavailable

__all__ = ["RunningDeploymentsCheck"]


class RunningDeploymentsCheck:
    """Asks ``registry``; without one (no ``deployments`` section), a configured check fails saying so."""

    key: ClassVar[str] = "deployments"
    Settings: ClassVar[type[BaseModel]] = DeploymentsSettings

    def __init__(self, registry: DeploymentRegistry | None) -> None:
        self.registry = registry

    def probes(self, settings: DeploymentsSettings, deps: ProbeDeps) -> Sequence[Probe]:
        if not settings.root:
            return ()
        registry = self.registry
        if registry is None:
            return (Probe("deployments", _not_configured),)
        return (Probe("deployments", lambda: running_deployments(registry, settings.root)),)


async def running_deployments(registry: DeploymentRegistry, environments: tuple[str, ...]) -> CheckResult:
    name = "deployments"
    try:
        statuses = await registry.status()
    except RegistryUnavailable as error:
        return CheckResult(name, False, (str(error),))
    running = [
        f"a deployment to {s.environment} is running ({s.running.sha[:11]} since {s.running.when:%Y-%m-%d %H:%M} UTC)"
        for s in statuses
        if s.environment in environments and s.running is not None
    ]
    return CheckResult(name, not running, tuple(running))


async def _not_configured() -> CheckResult:
    return CheckResult("deployments", False, ("deployments are not configured, so none can be checked",))
