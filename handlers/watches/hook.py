"""The change engine's call after a change is told: each change in a watched environment waits to
be watched (a push to the bot's Redis; the driver's job does the rest)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from redis.exceptions import RedisError

from flags import ChangeResult
from handlers.changes.request import ChangeRequest
from handlers.config import Environment
from handlers.core.context import Context
from handlers.watches.store import WATCH_STORE, Watched

__all__ = ["WatchChanges"]

_log = structlog.get_logger("chatops.watch")


class WatchChanges:
    async def changed(
        self, request: ChangeRequest, done: Sequence[tuple[Environment, ChangeResult]], post: str, context: Context
    ) -> None:
        store = context.app.ports.get(WATCH_STORE)
        if store is None:
            return
        now = time.time()
        for environment, result in done:
            if not context.config.watched(environment.option):
                continue
            who = request.who
            change = Watched(
                request.flag,
                environment.option,
                who.who,
                who.user_id,
                now,
                result.before.describe(),
                result.after.describe(),
                result.entry_id,
                post,
            )
            try:
                await store.push(change)
            except (RedisError, OSError) as error:  # the change stands; only its watch is lost
                _log.error("watch.not_recorded", flag=request.flag, environment=environment.name, error=str(error))
