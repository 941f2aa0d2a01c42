"""Channel rules and access rules, checked before any handler runs (SPEC §5).

A filter in the Errbot sense: it sees the validated plan (which environments a
command targets and whether it writes) and either lets it through or refuses
it whole. All-or-nothing: one refused environment refuses the command.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat import ChatBackend
from bot.config import Config, Environment
from handlers.context import Caller, Plan

__all__ = ["Refusal", "authorize"]


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str  # for the person: what was refused, why, and what to do
    reason: str  # for the security channel
    kind: str  # "channel" or "access"


async def _in_channel(caller: Caller, allowed: tuple[str, ...], chat: ChatBackend) -> bool:
    """By channel ID only: a `#name` is resolved to its ID (names can be renamed or reused)."""
    for channel in allowed:
        if channel.startswith("#"):
            if await chat.channel_id(channel) == caller.channel_id:
                return True
        elif channel == caller.channel_id:
            return True
    return False


async def _may_change(caller: Caller, environment: Environment, config: Config, chat: ChatBackend) -> str | None:
    """None when allowed, else why not."""
    if config.access is None:
        return None
    rule = next((r for r in config.access if r.matches(environment)), None)
    if rule is None:
        return f"no access rule covers {environment.name}"
    # By user ID only: Slack's user_name is deprecated and can change.
    if rule.anyone or caller.user_id in rule.users:
        return None
    for group in rule.usergroups:
        if caller.user_id in await chat.usergroup_members(group):
            return None
    needed = [f"@{g}" for g in rule.usergroups] + list(rule.users)
    return f"changing {environment.name} needs " + (" or ".join(needed) if needed else "an access rule")


async def authorize(plan: Plan, caller: Caller, config: Config, chat: ChatBackend) -> Refusal | None:
    """Refuse the whole command if any target environment may not be changed here, by this person."""
    if not plan.writes:
        return None  # reading flags is harmless and on-call engineers need it everywhere
    for environment in plan.targets:
        allowed = config.channels_for(environment)
        if allowed and not await _in_channel(caller, allowed, chat):
            where = " or ".join(allowed)
            return Refusal(
                message=(
                    f"Commands that change {environment.name} may only run in {where}; this is "
                    f"{caller.channel_label}. Nothing was changed in any environment. Run it in {where}."
                ),
                reason=f"{environment.name} may only be changed in {where}",
                kind="channel",
            )
    for environment in plan.targets:
        why = await _may_change(caller, environment, config, chat)
        if why is not None:
            return Refusal(
                message=(
                    f"This action is not allowed: {why}. Nothing was changed in any environment. "
                    "Ask someone who may, or ask to be added to the group."
                ),
                reason=why,
                kind="access",
            )
    return None
