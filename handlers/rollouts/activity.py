"""Active rollouts as the flags page shows them in its cells: running (step k of n, and when the
next one is written) or paused (and why)."""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import RedisError

from handlers.core.context import Application
from handlers.core.flag_activity import Activities, Activity
from handlers.core.timefmt import clock, utc
from handlers.rollouts.message import step_text
from handlers.rollouts.store import ROLLOUT_STORE, Rollout

__all__ = ["RolloutActivity", "rollout_activity"]


class RolloutActivity:
    """``FLAG_ACTIVITY`` for rollouts: each running or paused rollout, on each of its environments."""

    async def about(self, app: Application, flags: Sequence[str], options: Sequence[str]) -> Activities:
        try:
            rollouts = await app.ports.need(ROLLOUT_STORE).all()
        except (RedisError, OSError, ValueError, KeyError) as error:
            return Activities(unread=f"Could not read the rollouts: {error}")
        wanted, where = set(flags), set(options)
        return Activities(
            tuple(
                rollout_activity(r, option)
                for r in rollouts
                if r.active and r.flag in wanted
                for option in r.options
                if option in where
            )
        )


def rollout_activity(rollout: Rollout, option: str) -> Activity:
    """``▶ 2/4 · 14:30`` running, ``2/4 paused`` paused; its words name the rollout, the step and the next one."""
    done, steps = rollout.done, len(rollout.steps)
    where = f"Rollout {rollout.id}"
    if rollout.status == "paused":
        why = f": {rollout.reason}" if rollout.reason else ""
        says = f"{where} paused after step {done} of {steps}{why}"
        return Activity("paused", option, rollout.flag, f"{done}/{steps}", says)
    says = f"{where} running: step {done} of {steps} written"
    label = f"{done}/{steps}"
    if done < steps and rollout.due is not None:
        says += f"; next {step_text(rollout, rollout.steps[done])} at {utc(rollout.due)}"
        label += f" · {clock(rollout.due)}"
    return Activity("rollout", option, rollout.flag, label, says)
