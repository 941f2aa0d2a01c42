"""Firing, unsilenced, uninhibited alerts in Alertmanager (API v2) matching the configured matchers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict

from handlers.checks.base import CheckResult, Probe, ProbeDeps
from handlers.config.types import HttpUrl

__all__ = ["AlertmanagerCheck"]


class AlertmanagerSettings(BaseModel):
    """``safety.production_check.alertmanager``: ``url`` and ``matchers`` (e.g. ``env="gprd"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: HttpUrl
    matchers: tuple[str, ...] = ()


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
