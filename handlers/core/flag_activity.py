"""What is going on with a flag on an environment right now: a rollout running or paused, an
approval waiting, a freeze, a kill. Each capability that knows one of these offers it under
``FLAG_ACTIVITY`` (several offer together); the dashboard's flags page asks them all for its page
of flags and shows the answers in the cells, without importing any capability.

An answer says what it is in a few words (``label``, beside an icon) and in a whole sentence
(``says``, for a title and for screen readers), so a page needs no knowledge of rollouts or kills.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from handlers.core.context import Application
from handlers.core.ports import PortKey

__all__ = ["FLAG_ACTIVITY", "Activities", "Activity", "ActivityKind", "FlagActivity", "of_flags"]

ActivityKind = Literal["rollout", "paused", "approval", "freeze", "kill"]


@dataclass(frozen=True, slots=True)
class Activity:
    kind: ActivityKind
    option: str  # the environment it is on
    flag: str = ""  # "": every flag of the environment (a freeze)
    label: str = ""  # a few words shown beside the icon: "2/4 · next 14:30"
    says: str = ""  # the whole of it in words: "Rollout R3 running: step 2 of 4 written, …"


@dataclass(frozen=True, slots=True)
class Activities:
    """One capability's answer: what it found, and what it could not read (then found is partial)."""

    found: tuple[Activity, ...] = ()
    unread: str = ""  # "" when everything was read; else why not, in words


class FlagActivity(Protocol):
    async def about(self, app: Application, flags: Sequence[str], options: Sequence[str]) -> Activities:
        """What is going on with ``flags`` on the environments ``options`` now (freezes of those
        environments too). Never raises: what could not be read is said in ``unread``."""
        ...


FLAG_ACTIVITY: PortKey[FlagActivity] = PortKey("flag activity")


def of_flags(found: Sequence[Activity], flags: Sequence[str], options: Sequence[str]) -> tuple[Activity, ...]:
    """Those of ``found`` about one of ``flags`` (or a whole environment) on one of ``options``."""
    wanted, where = set(flags), set(options)
    return tuple(a for a in found if a.option in where and (not a.flag or a.flag in wanted))
