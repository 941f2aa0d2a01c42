"""Freezes as the flags page shows them: on every cell of a frozen environment."""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import RedisError

from handlers.core.context import Application
from handlers.core.flag_activity import Activities, Activity
from handlers.core.freezes import describe_freeze
from handlers.freezes.store import FREEZE_STORE

__all__ = ["FreezeActivity"]


class FreezeActivity:
    """``FLAG_ACTIVITY`` for freezes: each freeze in force on one of the environments asked about."""

    async def about(self, app: Application, flags: Sequence[str], options: Sequence[str]) -> Activities:
        try:
            freezes = await app.ports.need(FREEZE_STORE).of(list(options))
        except (RedisError, OSError, ValueError, KeyError) as error:
            return Activities(unread=f"Could not read the freezes: {error}")
        config = app.config
        return Activities(
            tuple(
                Activity("freeze", f.option, "", "frozen", describe_freeze(f, config.environment_name(f.option)))
                for f in freezes
            )
        )
