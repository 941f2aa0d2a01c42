"""What delivery keeps beside the application: the commands acknowledged but not answered yet
(a shutdown waits for them), the requests already handled (replays are answered, not run) and,
with Slack, where the dashboard asks for the permalinks of the bot's messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.inflight import InFlight
from bot.replays import ReplayGuard
from flags.embedded import DEFAULT_DIRECTORY
from handlers.composition import build_application
from handlers.config import Config, Secrets
from handlers.core.context import Application

__all__ = ["Permalinks", "Runtime"]


class Permalinks(Protocol):
    """Links to the bot's own chat messages, by their references (``bot.slack_permalinks``)."""

    async def of(self, references: Iterable[str]) -> dict[str, str]: ...


@dataclass
class Runtime:
    app: Application
    replays: ReplayGuard | None = None  # requests already handled, in the bot's own Redis
    inflight: InFlight = field(default_factory=InFlight)
    permalinks: Permalinks | None = None  # set with the Slack client (None in the shell)

    @classmethod
    def start(
        cls, config: Config, embedded_directory: Path = DEFAULT_DIRECTORY, secrets: Secrets | None = None
    ) -> Runtime:
        """Build the application (once) and what delivery needs beside it."""
        app = build_application(config, secrets, embedded_directory=embedded_directory)
        replays = ReplayGuard(app.redis, config.redis_prefix) if app.redis is not None else None
        return cls(app, replays)

    async def close(self) -> None:
        await self.app.close()
