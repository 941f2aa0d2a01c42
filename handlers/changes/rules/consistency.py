"""Production needs staging enabled first; staging cannot be disabled while production is enabled.

"Staging" is ``safety.consistency_environment``; the check reads the other environments as
this change would leave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from flags import FlagState, StoreUnavailable
from flags.exposure import percentage
from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import NOTHING_CHANGED, Verdict
from handlers.config import Environment
from handlers.core.context import Context
from handlers.core.reply import error_reply

__all__ = ["ConsistencyRule"]

OVERRIDE = "ignore-feature-flag-consistency-check"


def _pair(targets: Sequence[Target], context: Context) -> tuple[Environment | None, Target | None]:
    option = context.config.safety.consistency_environment
    environment = context.config.environment(option) if option else None
    target = next((t for t in targets if environment and t.environment.option == environment.option), None)
    return environment, target


def _disables(target: Target | None) -> bool:
    return target is not None and target.after.is_empty and not target.record.state.is_empty


class ConsistencyRule:
    name: ClassVar[str] = "consistency_check"

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        pair_env, pair = _pair(targets, context)
        enables_production = any(t.increases for t in targets if t.environment.production)
        return pair_env is not None and (enables_production or _disables(pair))

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        if request.overrides_rule(OVERRIDE):
            return Verdict(record=f"ignored (--{OVERRIDE})")
        try:
            problem = await self._problem(request, targets, context)
        except StoreUnavailable as error:
            return Verdict(
                refusal=error_reply(
                    f"Could not check consistency: could not reach Redis for {error.environment} ({error.reason}). "
                    + NOTHING_CHANGED
                )
            )
        if problem:
            hint = f" Or, if you know why, add `--{OVERRIDE}`. {NOTHING_CHANGED}"
            return Verdict(refusal=error_reply(problem + hint))
        return Verdict(record="passed")

    async def _problem(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> str | None:
        pair_env, pair = _pair(targets, context)
        assert pair_env is not None
        flag = request.flag

        async def state_of(environment: Environment) -> FlagState:
            target = next((t for t in targets if t.environment.option == environment.option), None)
            if target is not None:
                return target.after  # as this command leaves it
            return (await context.stores[environment.option].get(flag)).state

        for production in targets:
            if not (production.environment.production and production.increases):
                continue
            short = _staging_short_of(await state_of(pair_env), production.after)
            if short:
                return (
                    f"{flag} is {short} in {pair_env.name}, so it cannot be enabled this far in "
                    f"{production.environment.name}: roll it out in {pair_env.name} first "
                    f"(`/chatops run feature set {flag} true --{pair_env.option}`)."
                )
        if pair is not None and _disables(pair):
            for environment in context.config.environments:
                state = await state_of(environment) if environment.production else FlagState()
                if not state.is_empty:
                    return (
                        f"{flag} is still on in {environment.name} ({state.describe()}), so it cannot "
                        f"be turned off in {pair.environment.name}: disable it in {environment.name} first."
                    )
        return None


def _staging_short_of(staging: FlagState, production: FlagState) -> str | None:
    """Why ``staging`` is not enabled enough for ``production``, or None."""
    if staging.boolean:
        return None
    if production.boolean:
        return "not fully on" if not staging.is_empty else "off"
    for gate in ("percentage_of_actors", "percentage_of_time"):
        if percentage(getattr(production, gate)) > percentage(getattr(staging, gate)):
            return f"at {percentage(getattr(staging, gate)):g}% of {gate.removeprefix('percentage_of_')}"
    if staging.is_empty:
        return "off"
    return None
