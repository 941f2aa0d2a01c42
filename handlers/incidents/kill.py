"""``feature kill NAME [environments] [--reason TEXT]``: the flag off everywhere, now.

It only reduces exposure, so no safety rule runs; each environment is written on its own and at
once, so one that is down never holds up the others, and the answer names it loudly. Where the
flag is already off nothing is written (off everywhere: the answer says so). An active rollout of
the flag is paused and its pending schedules are cancelled, so nothing turns it back on.
"""

from __future__ import annotations

from flags import StoreUnavailable
from handlers.changes import apply_everywhere
from handlers.core.context import Context
from handlers.core.reply import Line, Reply, line
from handlers.core.standing import STANDING_WORK
from handlers.incidents.plans import KillPlan

__all__ = ["kill"]


async def kill(plan: KillPlan, context: Context) -> Reply:
    reply = await apply_everywhere(plan.change_request(context), context, {})
    notes = await _stop_what_would_undo_it(plan.name, context)
    return reply.with_notes(*notes) if notes else reply


async def _stop_what_would_undo_it(flag: str, context: Context) -> list[Line]:
    """Pause its running rollout, cancel its pending schedules: whatever would turn it back on."""
    notes: list[Line] = []
    why = f"the flag was killed by {context.caller.who}"
    try:
        for work in context.app.ports.all(STANDING_WORK):
            notes += await work.stop_for(flag, why, context)
    except (StoreUnavailable, OSError) as error:
        notes.append(
            line(f":warning: Could not check its rollouts and schedules ({error}): check `feature rollout list`.")
        )
    return notes
