"""Alerts pushed by Alertmanager's webhook, and what acts on them: each capability that cares
registers a listener (a guarded rollout aborts, an incident freeze starts or lifts, the recent
flag changes are posted), run in the order registered; each says what it did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from handlers.core.chat import ChatBackend
from handlers.core.context import Application
from handlers.core.ports import PortKey

__all__ = ["ALERT_LISTENERS", "Alert", "AlertListener", "alerts_arrived"]


@dataclass(frozen=True, slots=True)
class Alert:
    status: str  # "firing" or "resolved"
    labels: dict[str, str]
    fingerprint: str
    annotations: dict[str, str] = field(default_factory=dict)  # summary, description, runbook_url, …
    source_url: str = ""  # generatorURL: where it fired (its expression's graph)
    alertmanager_url: str = ""  # the Alertmanager that sent it (its external URL)
    starts_at: float = 0.0  # when it started firing (0: not said)
    ends_at: float = 0.0  # when it resolved (0: not said, or still firing)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed alert")

    @property
    def summary(self) -> str:
        """What it is about in a line, as its rule says (its summary, else its description)."""
        return (self.annotations.get("summary") or self.annotations.get("description") or "").strip()


class AlertListener(Protocol):
    async def alerts_arrived(self, app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
        """Act on one notification; what was done, by name, for the webhook's answer."""


ALERT_LISTENERS: PortKey[AlertListener] = PortKey("alert listeners")


async def alerts_arrived(app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
    """Every listener acts on one notification, in the order registered; what they did."""
    done: dict[str, object] = {"firing": sum(1 for a in alerts if a.status == "firing")}
    for listener in app.ports.all(ALERT_LISTENERS):
        done.update(await listener.alerts_arrived(app, chat, alerts))
    return done
