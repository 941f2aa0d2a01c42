"""The ``webhooks`` section: receivers of the bot's events (a Grafana annotations API, an event bus),
what each receives, how each request is signed or authorised, and how hard delivery tries."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, model_validator

from handlers.config.base import ConfigModel
from handlers.config.types import HttpUrl, fail, in_range

__all__ = ["EVENT_KINDS", "SubscriptionAccess", "Webhook"]

#: What a receiver may ask for, and the event types each name covers.
EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "changes": ("change", "rollback"),
    "rollouts": ("rollout.aborted",),  # a rollout's steps are changes naming it
    "kills": ("kill",),
    "freezes": ("freeze.on", "freeze.off"),
    "rollbacks": ("rollback",),
}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _matching(pattern: re.Pattern[str], what: str) -> BeforeValidator:
    def check(value: object) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise fail(f"{value!r} is not {what}")
        return value

    return BeforeValidator(check)


class Webhook(ConfigModel):
    name: Annotated[str, _matching(_NAME, "a receiver name (lowercase letters, digits, - and _)")]
    url: HttpUrl
    format: Literal["json", "grafana_annotation"] = "json"
    token_env: Annotated[str, _matching(_VARIABLE, "an environment variable's name")] | None = None  # Bearer token
    secret_env: Annotated[str, _matching(_VARIABLE, "an environment variable's name")] | None = None  # HMAC key
    events: tuple[Literal["changes", "rollouts", "kills", "freezes", "rollbacks"], ...] = (
        "changes",
        "rollouts",
        "kills",
        "freezes",
    )
    environments: tuple[str, ...] | None = None  # names or options; default: every environment
    timeout: Annotated[float, in_range("seconds, 0.1-60", lambda s: 0.1 <= s <= 60)] = 5.0
    concurrency: Annotated[int, in_range("1-64", lambda n: 1 <= n <= 64, int)] = 4  # requests at once
    max_attempts: Annotated[int, in_range("1-100", lambda n: 1 <= n <= 100, int)] = 8  # then a dead letter
    backoff_seconds: Annotated[float, in_range("seconds, 0.01-3600", lambda s: 0.01 <= s <= 3600)] = 1.0
    max_backoff_seconds: Annotated[float, in_range("seconds, 0.1-86400", lambda s: 0.1 <= s <= 86400)] = 300.0

    @model_validator(mode="after")
    def _authorised(self) -> Webhook:
        if self.format == "grafana_annotation" and self.token_env is None:
            raise fail("Grafana's annotations API needs a token: give token_env (a service account token)")
        return self

    def types(self) -> frozenset[str]:
        return frozenset(t for kind in self.events for t in EVENT_KINDS[kind])


class SubscriptionAccess(ConfigModel):
    """Who may subscribe a channel to news (anyone may subscribe themselves, by direct message):
    members of these user groups, or these users; with neither, anyone in the channel."""

    usergroups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
