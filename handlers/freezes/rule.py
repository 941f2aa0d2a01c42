"""A change freeze: no change that raises exposure on a frozen environment, whoever asks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from redis.exceptions import RedisError

from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import NOTHING_CHANGED, Verdict
from handlers.core.context import Context
from handlers.core.freezes import describe_freeze
from handlers.core.reply import error_reply
from handlers.freezes.store import FREEZE_STORE

__all__ = ["FreezeRule"]


class FreezeRule:
    name: ClassVar[str] = "freeze"

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        return context.app.ports.get(FREEZE_STORE) is not None and any(t.increases for t in targets)

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        store = context.app.ports.need(FREEZE_STORE)
        raising = [t for t in targets if t.increases]
        try:
            frozen = await store.of([t.environment.option for t in raising])
        except (RedisError, OSError) as error:  # fail closed: a freeze may be on
            return Verdict(refusal=error_reply(f"Could not check for a change freeze ({error}). {NOTHING_CHANGED}"))
        if not frozen:
            return Verdict()
        names = {t.environment.option: t.environment.name for t in raising}
        lines = "; ".join(describe_freeze(f, names.get(f.option, f.option)) for f in frozen)
        return Verdict(
            refusal=error_reply(
                f"This change raises exposure during a change freeze: {lines}. {NOTHING_CHANGED} "
                "Changes that reduce exposure (false, a lower percentage, `feature kill`) still work; "
                "`/chatops run freeze status` shows every freeze."
            )
        )
