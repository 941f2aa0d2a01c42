"""Who asks, where: a person in a channel (or the bot itself, for its own timed work)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    user_name: str
    channel_id: str
    channel_name: str

    @property
    def channel_label(self) -> str:
        name = self.channel_name
        if name and not name.startswith("#") and not name.startswith(("directmessage", "privategroup")):
            name = f"#{name}"
        return name or self.channel_id

    @property
    def who(self) -> str:
        return self.user_name or self.user_id

    def to_list(self) -> list[str]:
        """As kept in Redis records (the journal, schedules)."""
        return [self.user_id, self.user_name, self.channel_id, self.channel_name]

    @classmethod
    def from_list(cls, values: list[object]) -> Caller:
        user_id, user_name, channel_id, channel_name = (str(v) for v in values)
        return cls(user_id, user_name, channel_id, channel_name)
