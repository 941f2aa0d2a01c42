"""Kills as the flags page shows them: a flag whose last change on an environment was ``feature
kill`` is shown killed there until something changes it again. A kill is known by its audit
entry (the command it was written with), so kills made before the page asked are found too."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from flags import AuditEntry, FlagsError
from handlers.core.context import Application
from handlers.core.flag_activity import Activities, Activity
from handlers.core.timefmt import utc

__all__ = ["KillActivity", "is_kill"]

#: ``/chatops run feature kill NAME …`` as the audit entry keeps it (``run`` may be left out).
_KILL = re.compile(r"/chatops\s+(?:run\s+)?feature\s+kill(?:\s|$)")


def is_kill(entry: AuditEntry) -> bool:
    """Whether this change was a ``feature kill``."""
    return _KILL.match(entry.command) is not None


class KillActivity:
    """``FLAG_ACTIVITY`` for kills: the flags whose last change on an environment was a kill (one
    round trip per environment for the page's flags)."""

    async def about(self, app: Application, flags: Sequence[str], options: Sequence[str]) -> Activities:
        read = await asyncio.gather(*(self._last(app, option, flags) for option in options))
        found: list[Activity] = []
        unread: list[str] = []
        for option, last in zip(options, read, strict=True):
            if isinstance(last, str):
                unread.append(f"{app.config.environment_name(option)}: {last}")
                continue
            found += [_killed(flag, entry, option) for flag, entry in last.items() if is_kill(entry)]
        return Activities(tuple(found), f"Could not tell the kills on {'; '.join(unread)}" if unread else "")

    @staticmethod
    async def _last(app: Application, option: str, flags: Sequence[str]) -> dict[str, AuditEntry] | str:
        """The last audit entries of those of ``flags`` that may have been killed on ``option``:
        with a live snapshot of it, only the flags it holds fully off (what a kill leaves)."""
        live = app.live.get(option)
        if live is not None:
            flags = [f for f in flags if (state := live.state(f)) is not None and state.is_empty]
        if not flags:
            return {}
        try:
            return await app.stores[option].last_entries(flags)
        except (FlagsError, ValueError) as error:  # ValueError: an audit entry written by hand, malformed
            return str(error)


def _killed(flag: str, entry: AuditEntry, option: str) -> Activity:
    says = f"Killed by {entry.who} at {utc(entry.at)}: {entry.command}"
    return Activity("kill", option, flag, "killed", says)
