"""The production check: configured checks in parallel under one time limit.

A check that errors, answers garbage or does not answer in time counts as failed, with the
reason. Firing alerts in Alertmanager (v2 API) matching the configured matchers, a generic HTTP
JSON endpoint (``{"safe": bool, "reasons": [...]}``), and a production deployment in progress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.config import ProductionCheck
from bot.deployments.registry import DeploymentRegistry, RegistryUnavailable

__all__ = ["CheckResult", "run_production_check"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    reasons: tuple[str, ...] = ()


async def _alertmanager(session: aiohttp.ClientSession, url: str, matchers: tuple[str, ...]) -> CheckResult:
    name = "Alertmanager"
    params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
    params += [("filter", m) for m in matchers]
    async with session.get(f"{url}/api/v2/alerts", params=params) as response:
        if response.status != 200:
            return CheckResult(name, False, (f"Alertmanager answered HTTP {response.status}",))
        try:
            alerts: Any = await response.json(content_type=None)
        except ValueError:
            return CheckResult(name, False, ("Alertmanager answered something that is not JSON",))
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        return CheckResult(name, False, ("Alertmanager answered something that is not a list of alerts",))
    firing = []
    for alert in alerts:
        labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
        annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
        summary = annotations.get("summary") or annotations.get("title") or ""
        label = str(labels.get("alertname", "unnamed alert"))
        firing.append(f"alert {label} is firing" + (f": {summary}" if summary else ""))
    return CheckResult(name, not firing, tuple(firing))


async def _http(session: aiohttp.ClientSession, url: str) -> CheckResult:
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


async def _deployments(registry: DeploymentRegistry, environments: tuple[str, ...]) -> CheckResult:
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


async def run_production_check(
    settings: ProductionCheck, session: aiohttp.ClientSession, registry: DeploymentRegistry | None
) -> list[CheckResult]:
    """Every configured check, run together; each failed, erroring or late one says why."""
    checks: list[tuple[str, Callable[[], Awaitable[CheckResult]]]] = []
    if settings.alertmanager_url:
        url = settings.alertmanager_url
        checks.append(("Alertmanager", lambda: _alertmanager(session, url, settings.alertmanager_matchers)))
    for http_url in settings.http_urls:
        checks.append((f"HTTP check {http_url}", lambda u=http_url: _http(session, u)))  # type: ignore[misc]
    if settings.deployments:
        if registry is None:
            checks.append(("deployments", lambda: _missing_registry()))
        else:
            checks.append(("deployments", lambda: _deployments(registry, settings.deployments)))

    async def guarded(name: str, check: Callable[[], Awaitable[CheckResult]]) -> CheckResult:
        try:
            return await check()
        except (aiohttp.ClientError, OSError) as error:
            return CheckResult(name, False, (f"{name} could not be reached: {error or type(error).__name__}",))

    tasks = [asyncio.create_task(guarded(name, check)) for name, check in checks]
    done, pending = await asyncio.wait(tasks, timeout=settings.timeout) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    results = []
    for (name, _), task in zip(checks, tasks, strict=True):
        if task in done:
            results.append(task.result())
        else:
            results.append(CheckResult(name, False, (f"{name} did not answer within {settings.timeout:g} s",)))
    return results


async def _missing_registry() -> CheckResult:
    return CheckResult("deployments", False, ("deployments are not configured, so none can be checked",))
