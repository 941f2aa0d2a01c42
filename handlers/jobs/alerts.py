"""Alerts pushed by Alertmanager's webhook: they abort guarded rollouts, and freeze changes while
an alert matching ``incident.freeze_matchers`` fires (lifted when it resolves)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from handlers.checks.matchers import InvalidMatcher, matches
from handlers.core.chat import ChatBackend
from handlers.core.context import Application
from handlers.core.freezes import Freeze
from handlers.jobs.guard import alerts_pushed

__all__ = ["Alert", "alerts_arrived"]

_log = structlog.get_logger("chatops.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    status: str  # "firing" or "resolved"
    labels: dict[str, str]
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed alert")


async def alerts_arrived(app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
    """Act on one notification; what was done, for the webhook's answer."""
    firing = [a for a in alerts if a.status == "firing"]
    aborted = await alerts_pushed(app, chat, [a.labels for a in firing])
    frozen, lifted = await _freezes(app, alerts)
    return {"firing": len(firing), "aborted": aborted, "frozen": frozen, "unfrozen": lifted}


async def _freezes(app: Application, alerts: Sequence[Alert]) -> tuple[list[str], list[str]]:
    store, matchers = app.freezes, app.config.incident.freeze_matchers
    if store is None or not matchers:
        return [], []
    frozen: list[str] = []
    lifted: list[str] = []
    for alert in alerts:
        try:
            if not matches(matchers, alert.labels):
                continue
        except InvalidMatcher as error:
            _log.error("alerts.invalid_freeze_matcher", error=str(error))
            return [], []
        named = [e for e in app.config.environments if e.name == alert.labels.get("env")]
        options = [e.option for e in (named or app.config.environments)]
        source = f"alert:{alert.fingerprint or alert.name}"
        if alert.status == "firing":
            for option in options:
                await store.put(Freeze(option, source, f"alert {alert.name} is firing", alert.name, time.time()))
            frozen += options
            _log.warning("alerts.frozen", alert=alert.name, environments=options)
        else:
            if await store.lift(options, source):
                lifted += options
                _log.info("alerts.unfrozen", alert=alert.name, environments=options)
    return frozen, lifted
