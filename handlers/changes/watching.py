"""After a change: what watches it (the metric checks of the watched environments, for a while), as
a port the change engine calls once the change is told, and the name under which the change's post
is remembered, so that the watch can reply in its thread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flags import ChangeResult
from handlers.changes.request import ChangeRequest
from handlers.config import Config, Environment
from handlers.core.context import Context
from handlers.core.ports import PortKey

__all__ = ["CHANGE_WATCH", "ChangeWatch", "watch_key"]


class ChangeWatch(Protocol):
    async def changed(
        self, request: ChangeRequest, done: Sequence[tuple[Environment, ChangeResult]], post: str, context: Context
    ) -> None:
        """A change was written in these environments (those watched among them are watched); its
        post in the log channel is remembered as ``post``. Never raises."""


def watch_key(done: Sequence[tuple[Environment, ChangeResult]], config: Config) -> str:
    """The name the change's post is remembered by, when one of its environments is watched; else ''."""
    watched = [result for environment, result in done if config.watched(environment.option)]
    return f"change:{watched[0].entry_id}" if watched else ""


CHANGE_WATCH: PortKey[ChangeWatch] = PortKey("change watch")
