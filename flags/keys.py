"""Redis key names: Flipper's layout, and the bot's own keys beside it.

Flipper's keys are ``<prefix>flipper_features`` and ``<prefix><name>``. The bot's
keys all contain a colon after ``chatops``, which no valid flag name can, so
they can never collide with a flag's hash.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = ""

    @property
    def features(self) -> str:
        return f"{self.prefix}flipper_features"

    def flag(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def meta(self, name: str) -> str:
        return f"{self.prefix}chatops:meta:{name}"

    def audit(self, name: str) -> str:
        return f"{self.prefix}chatops:audit:{name}"

    @property
    def audit_all(self) -> str:
        return f"{self.prefix}chatops:audit"

    @property
    def changes_channel(self) -> str:
        return f"{self.prefix}chatops:changes"
