"""Work kept for later that would change a flag again (a running rollout, a scheduled change):
a kill stops it, through each capability that keeps such work."""

from __future__ import annotations

from typing import Protocol

from handlers.core.context import Context
from handlers.core.ports import PortKey
from handlers.core.reply import Line

__all__ = ["STANDING_WORK", "StandingWork"]


class StandingWork(Protocol):
    async def stop_for(self, flag: str, why: str, context: Context) -> list[Line]:
        """Stop what would change ``flag`` later; a line for each thing stopped."""


STANDING_WORK: PortKey[StandingWork] = PortKey("standing work")
