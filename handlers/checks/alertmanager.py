"""Firing, unsilenced, uninhibited alerts in Alertmanager (API v2) matching the configured matchers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import aiohttp
from pydantic import BaseModel

from handlers.checks.base import CheckResult, Probe, ProbeDeps
from handlers.config.checks import AlertmanagerSettings

__all__ = ["AlertmanagerCheck", "alerts_firing"]


class AlertmanagerCheck:
    key: ClassVar[str] = "alertmanager"
    Settings: ClassVar[type[BaseModel]] = AlertmanagerSettings

    def probes(self, settings: AlertmanagerSettings, deps: ProbeDeps) -> Sequence[Probe]:
        return (Probe("Alertmanager", lambda: firing_alerts(deps.session, settings.url, settings.matchers)),)


async def firing_alerts(session: aiohttp.ClientSession, url: str, matchers: tuple[str, ...]) -> CheckResult:
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


async def alerts_firing(session: aiohttp.ClientSession, url: str, matchers: tuple[str, ...]) -> list[str]:
    """Firing, unsilenced, uninhibited alerts matching every matcher, as ``NAME {k="v", ...}``.
    An Alertmanager that cannot be asked counts as a firing alert (a guard fails closed)."""
    params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
    params += [("filter", m) for m in matchers]
    try:
        async with session.get(f"{url}/api/v2/alerts", params=params) as response:
            if response.status != 200:
                return [f"(Alertmanager answered HTTP {response.status})"]
            alerts: Any = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return [f"(Alertmanager could not be asked: {type(error).__name__})"]
    if not isinstance(alerts, list):
        return ["(Alertmanager answered something that is not a list of alerts)"]
    found = []
    for alert in alerts:
        labels: dict[str, Any] = {}
        if isinstance(alert, dict) and isinstance(alert.get("labels"), dict):
            labels = alert["labels"]
        name = str(labels.get("alertname", "unnamed alert"))
        rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "alertname")
        found.append(f"{name} {{{rest}}}")
    return found
