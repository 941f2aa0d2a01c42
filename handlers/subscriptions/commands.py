"""``subscribe``, ``unsubscribe ID`` and ``subscriptions``: a channel (or, with ``--dm``, the person)
asks to hear of some changes. Subscribing a channel is an access rule like the others (by default,
anyone in it); hearing of production changes gives no right to change production."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import ClassVar

from handlers.config import Environment
from handlers.core.chat import MembershipUnknown
from handlers.core.command import Command
from handlers.core.context import Context
from handlers.core.grammar import CommandSpec, OptionSpec, SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.reply import Code, Reply, Section, error_reply, line, refused_reply
from handlers.subscriptions.store import EVENTS, SUBSCRIPTION_STORE, Subscription, SubscriptionStore

__all__ = ["SubscribeCommand", "SubscriptionsCommand", "UnsubscribeCommand"]

_OPTIONS = (
    OptionSpec("flag", "value", "only this flag", "NAME"),
    OptionSpec("group", "value", 'only flags of this definition group, e.g. "group::database frameworks"', "GROUP"),
    OptionSpec("match", "value", "only flags whose name contains this text", "TEXT"),
    OptionSpec("events", "list", "changes, rollouts, alerts (default: changes, rollouts)", "KIND"),
    OptionSpec("dm", "flag", "to you, by direct message, rather than to this channel"),
)
SUBSCRIBE = CommandSpec(
    name="subscribe",
    summary="hear of flag changes here (or by direct message): a flag, a group, names matching a text",
    direct=SubcommandSpec("", (), "subscribe this channel (or you, with --dm) to matching events", _OPTIONS),
    examples=(
        "/chatops run subscribe --flag my_flag --production",
        '/chatops run subscribe --group "group::database frameworks" --events changes,alerts --dm',
    ),
)
UNSUBSCRIBE = CommandSpec(
    name="unsubscribe",
    summary="stop a subscription",
    direct=SubcommandSpec("", ("ID",), "stop subscription ID (its posts name it)", environments=False),
    examples=("/chatops run unsubscribe N3",),
)
SUBSCRIPTIONS = CommandSpec(
    name="subscriptions",
    summary="this channel's subscriptions (yours with --dm)",
    direct=SubcommandSpec("", (), "list them", (OptionSpec("dm", "flag", "yours, by direct message"),), False),
    examples=("/chatops run subscriptions",),
)


@dataclass(frozen=True, slots=True)
class SubscribePlan:
    flag: str | None
    group: str | None
    match: str | None
    environments: tuple[Environment, ...]
    events: tuple[str, ...]
    dm: bool
    targets: tuple[Environment, ...] = ()  # it changes no flag: no environment's rules apply
    writes: bool = False


def _text(invocation: Invocation, name: str) -> str | None:
    value = invocation.options.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


class SubscribeCommand(Command[SubscribePlan]):
    spec: ClassVar[CommandSpec] = SUBSCRIBE

    def plan(self, invocation: Invocation, context: Context) -> SubscribePlan:
        if invocation.arguments:
            raise UsageError(f"Unexpected `{invocation.arguments[0][:40]}`: filters are options, e.g. `--flag NAME`.")
        events = invocation.options.get("events")
        chosen = events if isinstance(events, tuple) else ("changes", "rollouts")
        if unknown := [e for e in chosen if e not in EVENTS]:
            raise UsageError(
                f"`--events {','.join(chosen)}`: `{unknown[0][:40]}` is not one of changes, rollouts, alerts."
            )
        environments = invocation.environments if invocation.explicit_environments else ()
        return SubscribePlan(
            _text(invocation, "flag"),
            _text(invocation, "group"),
            _text(invocation, "match"),
            environments,
            tuple(dict.fromkeys(chosen)),
            invocation.flag("dm"),
        )

    async def handle(self, plan: SubscribePlan, context: Context) -> Reply:
        store = context.app.ports.need(SUBSCRIPTION_STORE)
        caller = context.caller
        if not plan.dm:
            refusal = await _may_subscribe_channel(context)
            if refusal is not None:
                return refusal
            if why := await context.chat.cannot_post(caller.channel_id):
                return error_reply(
                    f"I cannot post in {caller.channel_label}: {why}. Invite me first (`/invite @chatops` in the "
                    "channel), then subscribe again. Nothing was subscribed."
                )
        target, label = (caller.user_id, f"@{caller.who}") if plan.dm else (caller.channel_id, caller.channel_label)
        subscription = Subscription(
            "",
            target,
            label,
            plan.dm,
            plan.flag,
            plan.group,
            plan.match,
            tuple(e.option for e in plan.environments),
            plan.events,
            caller.who,
            time.time(),
        )
        return await _add(store, subscription, context)


async def _add(store: SubscriptionStore, subscription: Subscription, context: Context) -> Reply:
    same = next((s for s in await store.all() if s.same_as(subscription)), None)
    if same is not None:
        return error_reply(f"Already subscribed: {same.describe()}. Nothing was added.")
    subscription = replace(subscription, id=await store.new_id())
    await store.add(subscription)
    lines = [line(f"Subscribed {subscription.describe()}.")]
    if not await _matches_anything(subscription, context):
        lines.append(line("Nothing matches it yet (no such flag or group now): it will once something does."))
    lines.append(line("Stop it with ", Code(f"/chatops run unsubscribe {subscription.id}"), "."))
    return Reply(True, f"subscribed {subscription.id}", (Section(tuple(lines)),))


async def _matches_anything(subscription: Subscription, context: Context) -> bool:
    names = set(context.definitions)
    if subscription.flag:
        if subscription.flag in names:
            return True
        return any([await _exists(context, e.option, subscription.flag) for e in context.config.environments])
    if subscription.group:
        return any(d.group.lower() == subscription.group.lower() for d in context.definitions.values())
    if subscription.match:
        return any(subscription.match.lower() in n.lower() for n in names)
    return True


async def _exists(context: Context, option: str, flag: str) -> bool:
    try:
        return (await context.stores[option].get(flag)).exists
    except Exception:  # a store that cannot be read says nothing either way
        return False


async def _may_subscribe_channel(context: Context) -> Reply | None:
    rule, caller = context.config.subscriptions, context.caller
    if not rule.usergroups and not rule.users:
        return None
    if caller.user_id in rule.users or caller.user_name in rule.users:
        return None
    for group in rule.usergroups:
        try:
            if caller.user_id in await context.chat.usergroup_members(group):
                return None
        except MembershipUnknown as error:
            return error_reply(f"Could not check membership of @{group} ({error.reason}); nothing was subscribed.")
    who = ", ".join([f"@{g}" for g in rule.usergroups] + list(rule.users))
    return refused_reply(
        f"Only {who} may subscribe or unsubscribe a channel; you may subscribe yourself with `--dm`. "
        "Nothing was changed.",
        f"subscribing {caller.channel_label} needs {who}",
    )


@dataclass(frozen=True, slots=True)
class UnsubscribePlan:
    subscription_id: str
    targets: tuple[Environment, ...] = ()
    writes: bool = False


class UnsubscribeCommand(Command[UnsubscribePlan]):
    spec: ClassVar[CommandSpec] = UNSUBSCRIBE

    def plan(self, invocation: Invocation, context: Context) -> UnsubscribePlan:
        if len(invocation.arguments) != 1:
            raise UsageError("`unsubscribe` takes one subscription ID, e.g. `/chatops run unsubscribe N3`.")
        return UnsubscribePlan(invocation.arguments[0].upper())

    async def handle(self, plan: UnsubscribePlan, context: Context) -> Reply:
        store = context.app.ports.need(SUBSCRIPTION_STORE)
        found = await store.get(plan.subscription_id)
        if found is None:
            return error_reply(
                f"There is no subscription {plan.subscription_id[:20]}: `/chatops run subscriptions` lists them."
            )
        caller = context.caller
        mine = found.target == caller.user_id if found.dm else found.target == caller.channel_id
        if not mine:
            where = "by its owner" if found.dm else f"in {found.label}"
            return refused_reply(
                f"{found.id} sends to {found.label}: it can be stopped only {where}. Nothing was changed.",
                f"unsubscribing {found.id} ({found.label}) from {caller.channel_label}",
            )
        refusal = None if found.dm else await _may_subscribe_channel(context)
        if refusal is not None:
            return refusal
        await store.remove(found.id)
        return Reply(True, f"unsubscribed {found.id}", (Section((line(f"Stopped {found.describe()}."),)),))


@dataclass(frozen=True, slots=True)
class SubscriptionsPlan:
    dm: bool
    targets: tuple[Environment, ...] = ()
    writes: bool = False


class SubscriptionsCommand(Command[SubscriptionsPlan]):
    spec: ClassVar[CommandSpec] = SUBSCRIPTIONS

    def plan(self, invocation: Invocation, context: Context) -> SubscriptionsPlan:
        if invocation.arguments:
            raise UsageError(f"Unexpected `{invocation.arguments[0][:40]}`: `subscriptions` takes only `--dm`.")
        return SubscriptionsPlan(invocation.flag("dm"))

    async def handle(self, plan: SubscriptionsPlan, context: Context) -> Reply:
        store = context.app.ports.need(SUBSCRIPTION_STORE)
        caller = context.caller
        target, label = (
            (caller.user_id, "you (by direct message)") if plan.dm else (caller.channel_id, caller.channel_label)
        )
        mine = [s for s in await store.all() if s.target == target]
        if not mine:
            how = "`/chatops run subscribe --dm …`" if plan.dm else "`/chatops run subscribe …`"
            return Reply(
                True, "no subscriptions", (Section((line(f"No subscriptions for {label}: add one with {how}."),)),)
            )
        lines = tuple(line(s.describe()) for s in mine)
        return Reply(True, f"{len(mine)} subscriptions", (Section(lines, title=line(f"Subscriptions for {label}")),))
