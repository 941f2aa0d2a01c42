"""Change freezes as the rest of the application sees them: which environments are frozen, by
whom and why. The freezes capability keeps them (and offers them as ``FREEZES``); the pipeline
names them with every refusal, help lists them, and the freeze rule refuses raising exposure."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from handlers.core.ports import PortKey
from handlers.core.timefmt import utc

__all__ = ["FREEZES", "Freeze", "FreezeView", "describe_freeze"]


@dataclass(frozen=True, slots=True)
class Freeze:
    option: str  # the environment
    source: str  # "manual" or "alert:FINGERPRINT"
    reason: str
    who: str  # a person's name, or the alert's name
    since: float
    until: float | None = None  # None: until lifted

    @property
    def active(self) -> bool:
        return self.until is None or self.until > time.time()

    def to_json(self) -> str:
        return json.dumps(
            {
                "option": self.option,
                "source": self.source,
                "reason": self.reason,
                "who": self.who,
                "since": self.since,
                "until": self.until,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Freeze:
        data: dict[str, Any] = json.loads(text)
        until = data.get("until")
        return cls(
            str(data["option"]),
            str(data["source"]),
            str(data["reason"]),
            str(data["who"]),
            float(data["since"]),
            float(until) if until is not None else None,
        )


def describe_freeze(freeze: Freeze, name: str) -> str:
    """``gstg is frozen since … by alice: incident 4521, until …`` (to the second when it lasts under an hour)."""
    short = freeze.until is not None and freeze.until - freeze.since < 3600
    until = f", until {utc(freeze.until, seconds=short)}" if freeze.until is not None else ""
    return f"{name} is frozen since {utc(freeze.since, seconds=short)} by {freeze.who}: {freeze.reason}{until}"


class FreezeView(Protocol):
    """The freezes in force (Redis errors are raised as they come)."""

    async def active(self) -> list[Freeze]: ...

    async def of(self, options: list[str]) -> list[Freeze]:
        """The active freezes of these environments."""


FREEZES: PortKey[FreezeView] = PortKey("change freezes")
