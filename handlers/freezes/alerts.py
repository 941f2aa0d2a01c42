"""Alerts freeze changes: while an alert matching ``incident.freeze_matchers`` fires, changes that
raise exposure on its environment (every environment when it names none) are refused; the freeze
lifts when the alert resolves."""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from handlers.checks.matchers import InvalidMatcher, matches
from handlers.core.alerts import Alert
from handlers.core.chat import ChatBackend
from handlers.core.context import Application
from handlers.core.freezes import Freeze
from handlers.freezes.events import publish_freezes
from handlers.freezes.store import FREEZE_STORE

__all__ = ["AlertFreezes"]

_log = structlog.get_logger("chatops.alerts")


class AlertFreezes:
    async def alerts_arrived(self, app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
        frozen, lifted = await _freezes(app, alerts)
        return {"frozen": frozen, "unfrozen": lifted}


async def _freezes(app: Application, alerts: Sequence[Alert]) -> tuple[list[str], list[str]]:
    store, matchers = app.ports.get(FREEZE_STORE), app.config.incident.freeze_matchers
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
            now = time.time()
            already = {f.option for f in await store.of(options) if f.source == source}  # a repeated notification
            freezes = [Freeze(o, source, f"alert {alert.name} is firing", alert.name, now) for o in options]
            for freeze in freezes:
                await store.put(freeze)
            await publish_freezes(app, "freeze.on", [f for f in freezes if f.option not in already], None)
            frozen += options
            _log.warning("alerts.frozen", alert=alert.name, environments=options)
        else:
            if gone := await store.lift(options, source):
                await publish_freezes(app, "freeze.off", gone, None)
                lifted += options
                _log.info("alerts.unfrozen", alert=alert.name, environments=options)
    return frozen, lifted
