"""Channel rules and access rules, checked before any command acts.

A filter in the Errbot sense: it sees the validated plan (which environments a command targets
and whether it writes) and either lets it through or refuses it whole. All-or-nothing: one
refused environment refuses the command. ``help`` asks the same functions what they would decide.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from handlers.config import AccessRule, Config, Environment
from handlers.core.caller import Caller
from handlers.core.chat import ChannelUnknown, ChatBackend, MembershipUnknown
from handlers.core.context import Plan

__all__ = ["Refusal", "Writes", "access_rule", "authorize", "channel_allows", "channel_check", "may_change"]


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str  # for the person: what was refused, why, and what to do
    reason: str  # for the security channel
    kind: str  # "channel" or "access"


async def _channel_ids(allowed: tuple[str, ...], chat: ChatBackend) -> dict[str, str | ChannelUnknown | None]:
    """Each allowed channel's ID: a `#name` is resolved (names can be renamed or reused); a name
    that could not be resolved maps to why (ChannelUnknown), one that does not exist to None."""
    ids: dict[str, str | ChannelUnknown | None] = {}
    for channel in allowed:
        try:
            ids[channel] = (await chat.channel_id(channel)) if channel.startswith("#") else channel
        except ChannelUnknown as error:
            ids[channel] = error
    return ids


async def channel_check(caller: Caller, environment: Environment, config: Config, chat: ChatBackend) -> bool:
    """Whether commands changing ``environment`` may run in the caller's channel (by channel ID only).
    Raises ChannelUnknown (its reason naming the channel) when the answer depends on a name that
    could not be resolved: "could not resolve #production" is not "this is another channel"."""
    allowed = config.channels_for(environment)
    if not allowed:
        return True
    ids = await _channel_ids(allowed, chat)
    if caller.channel_id in ids.values():
        return True
    unknown = next(((c, i) for c, i in ids.items() if isinstance(i, ChannelUnknown)), None)
    if unknown is not None:
        raise ChannelUnknown(f"could not resolve {unknown[0]}: {unknown[1].reason}")
    return False


async def channel_allows(caller: Caller, environment: Environment, config: Config, chat: ChatBackend) -> bool:
    """Whether commands changing ``environment`` may run in the caller's channel; False also when
    that cannot be decided (``channel_check`` says why)."""
    try:
        return await channel_check(caller, environment, config, chat)
    except ChannelUnknown:
        return False


def access_rule(environment: Environment, config: Config) -> AccessRule | None:
    return next((r for r in config.access or () if r.matches(environment)), None)


async def may_change(caller: Caller, environment: Environment, config: Config, chat: ChatBackend) -> str | None:
    """None when the caller may change ``environment``, else why not."""
    if config.access is None:
        return None
    rule = access_rule(environment, config)
    if rule is None:
        return f"no access rule covers {environment.name}"
    # By user ID only: Slack's user_name is deprecated and can change.
    if rule.anyone or caller.user_id in rule.users:
        return None
    unknown: str | None = None
    for group in rule.usergroups:
        try:
            if caller.user_id in await chat.usergroup_members(group):
                return None
        except MembershipUnknown as error:  # another group may still let the caller in
            unknown = unknown or f"could not check membership of @{group}: {error.reason}"
    if unknown is not None:
        return unknown
    needed = [f"@{g}" for g in rule.usergroups] + list(rule.users)
    return f"changing {environment.name} needs " + (" or ".join(needed) if needed else "an access rule")


async def _wrong_channel(caller: Caller, environment: Environment, config: Config, chat: ChatBackend) -> Refusal:
    allowed = config.channels_for(environment)
    ids = await _channel_ids(allowed, chat)
    where = " or ".join(allowed)
    here = caller.channel_label
    if here in allowed:  # same name, another channel (e.g. a private channel reusing the name)
        named = " or ".join(f"{c} (channel ID {_shown(ids[c])})" for c in allowed)
        here = f"{here} by name but channel ID {caller.channel_id}, a different channel"
        where_long = named
    else:
        where_long = where
    return Refusal(
        message=(
            f"Commands that change {environment.name} may only run in {where_long}; this is {here}. "
            f"Nothing was changed in any environment. Run it in {where}."
        ),
        reason=f"{environment.name} may only be changed in {where}",
        kind="channel",
    )


def _shown(channel_id: str | ChannelUnknown | None) -> str:
    if isinstance(channel_id, ChannelUnknown):
        return f"unknown: {channel_id.reason}"
    return channel_id or "not found in Slack"


@dataclass(frozen=True, slots=True)
class Writes:
    """A plan that changes ``targets``: to ask ``authorize`` about an action on something already
    planned (cancelling a schedule, steering a rollout)."""

    targets: tuple[Environment, ...]
    writes: bool = True


async def authorize(plan: Plan, caller: Caller, config: Config, chat: ChatBackend) -> Refusal | None:
    """Refuse the whole command if any target environment may not be changed here, by this person.
    A plan that says ``responders_may`` (a kill) is also allowed to an incident responder in the
    production channel or an incident channel."""
    refusal = await _authorize(plan, caller, config, chat)
    if refusal is not None and getattr(plan, "responders_may", False) and await _responder_here(caller, config, chat):
        return None
    return refusal


async def _responder_here(caller: Caller, config: Config, chat: ChatBackend) -> bool:
    incident = config.incident
    here = caller.channel_label
    production = next((e for e in config.environments if e.production), None)
    in_production_channel = False
    if production is not None:
        try:
            in_production_channel = await channel_check(caller, production, config, chat)
        except ChannelUnknown:
            in_production_channel = False
    if not in_production_channel and not any(fnmatch.fnmatchcase(here, p) for p in incident.channels):
        return False
    for group in incident.responders:
        try:
            if caller.user_id in await chat.usergroup_members(group):
                return True
        except MembershipUnknown:
            continue
    return False


async def _authorize(plan: Plan, caller: Caller, config: Config, chat: ChatBackend) -> Refusal | None:
    if not plan.writes:
        return None  # reading flags is harmless and on-call engineers need it everywhere
    for environment in plan.targets:
        try:
            allowed = await channel_check(caller, environment, config, chat)
        except ChannelUnknown as error:
            return Refusal(
                message=(
                    f"This action is not allowed: {error.reason}, so it is not known whether commands changing "
                    f"{environment.name} may run here. Nothing was changed in any environment. Try again in a minute."
                ),
                reason=f"{environment.name}: {error.reason}",
                kind="channel",
            )
        if not allowed:
            return await _wrong_channel(caller, environment, config, chat)
    for environment in plan.targets:
        why = await may_change(caller, environment, config, chat)
        if why is not None:
            return Refusal(
                message=(
                    f"This action is not allowed: {why}. Nothing was changed in any environment. "
                    + (
                        "Try again in a minute."
                        if why.startswith("could not check")
                        else "Ask someone who may, or ask to be added to the group."
                    )
                ),
                reason=why,
                kind="access",
            )
    return None
