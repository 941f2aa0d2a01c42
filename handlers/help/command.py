"""``/chatops help [COMMAND]``: the commands, and what this person may change in this channel.

The list is the registry's: every registered command and subcommand, one line each with an
example, grouped by what people do with it (changes · incidents · reading · deployments); one
no group names yet is listed under "Other", never left out. The channel and access verdicts come
from the policy's own functions, so help never says "can be changed here" where the policy would
refuse.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from redis.exceptions import RedisError

from handlers.config import Environment
from handlers.core.command import Command
from handlers.core.context import Context
from handlers.core.freezes import FREEZES, describe_freeze
from handlers.core.grammar import CommandSpec, SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.policy import access_rule, channel_allows, may_change
from handlers.core.reply import Code, Line, Reply, Section, Strong, line
from handlers.core.usage import command_help

__all__ = ["OTHER", "TOPICS", "HelpCommand", "HelpPlan", "overview"]

#: What top-level help groups the commands under, in its order; each (command, subcommand) by name.
TOPICS: dict[str, frozenset[tuple[str, str]]] = {
    "Changes": frozenset({("feature", "set"), ("feature", "delete"), ("feature", "rollout"), ("feature", "schedule")}),
    "Incidents": frozenset(
        {("feature", "kill"), ("feature", "changes"), ("freeze", "on"), ("freeze", "off"), ("freeze", "status")}
    ),
    "Reading": frozenset(
        {("feature", "get"), ("feature", "list"), ("feature", "history"), ("dashboard", ""), ("help", "")}
    ),
    "Deployments": frozenset({("auto_deploy", "status"), ("release", "check")}),
    "News": frozenset({("subscribe", ""), ("unsubscribe", ""), ("subscriptions", "")}),
}
OTHER = "Other"  # a registered command no topic names yet

HELP = CommandSpec(
    name="help",
    summary="list the commands and the channel rules of this channel",
    direct=SubcommandSpec("", ("[COMMAND]",), "list the commands, or every option of one", environments=False),
    examples=("/chatops help", "/chatops help feature"),
)


@dataclass(frozen=True, slots=True)
class HelpPlan:
    topic: str = ""
    targets: tuple[Environment, ...] = ()
    writes: bool = False


class HelpCommand(Command[HelpPlan]):
    spec: ClassVar[CommandSpec] = HELP

    def plan(self, invocation: Invocation, context: Context) -> HelpPlan:
        grammar = context.app.commands.grammar
        if not invocation.arguments:
            return HelpPlan()
        topic = invocation.arguments[0]
        if topic not in grammar or len(invocation.arguments) > 1:
            valid = ", ".join(f"`{name}`" for name in grammar)
            raise UsageError(f"`help` takes one command name ({valid}), e.g. `/chatops help feature`.")
        return HelpPlan(topic)

    async def handle(self, plan: HelpPlan, context: Context) -> Reply:
        grammar = context.app.commands.grammar
        if plan.topic:
            return command_help(grammar[plan.topic], context.config)
        rules = await channel_rules(context)
        return Reply(
            True,
            "chatops commands",
            (*overview(grammar), Section(rules, title=line(Strong(f"Rules in {context.caller.channel_label}")))),
        )


def overview(grammar: Mapping[str, CommandSpec]) -> tuple[Section, ...]:
    """Every way to call every registered command, one line each with an example, by topic."""
    by_topic: dict[str, list[Line]] = {}
    for command in grammar.values():
        for form in command.forms:
            topic = next((t for t, forms in TOPICS.items() if (command.name, form.name) in forms), OTHER)
            by_topic.setdefault(topic, []).append(_entry(command, form))
    order = [*TOPICS, OTHER]
    return tuple(Section(tuple(by_topic[t]), title=line(Strong(t))) for t in order if t in by_topic)


def _entry(command: CommandSpec, form: SubcommandSpec) -> Line:
    """``feature set`` — what it does, e.g. ``/chatops run feature set my_flag true --dev --staging``."""
    direct = form is command.direct
    call = command.name if direct else f"{command.name} {form.name}"
    summary = command.summary if direct else form.summary
    examples = form.examples or (command.examples if direct else ())
    example = examples[0] if examples else f"/chatops run {command.name} {form.usage}".strip()
    return line(Code(call), f" — {summary}{' ' if summary.endswith('?') else ', '}e.g. ", Code(example))


async def channel_rules(context: Context) -> tuple[Line, ...]:
    config, caller, chat = context.config, context.caller, context.chat
    lines: list[Line] = []
    for environment in config.environments:
        allowed = config.channels_for(environment)
        where = "anywhere" if not allowed else " or ".join(allowed)
        here = await channel_allows(caller, environment, config, chat)
        verdict = "can be changed here" if here else f"cannot be changed here (only in {where})"
        rule = access_rule(environment, config)
        if config.access is None or (rule and rule.anyone):
            who = "by anyone"
        elif rule is None:
            who = "by no one (no access rule matches)"
        else:
            names = [f"@{g}" for g in rule.usergroups] + list(rule.users)
            you = "you may" if await may_change(caller, environment, config, chat) is None else "you may not"
            who = "by " + ", ".join(names) + f" ({you})"
        label = f" (--{environment.option}" + (", default)" if environment.default else ")")
        lines.append(line(Strong(environment.name), label, f": {verdict}, {who}"))
    lines.append(line("Reading flags (get, list, history) works in any channel."))
    freezes = context.app.ports.get(FREEZES)
    if freezes is not None:
        with contextlib.suppress(RedisError, OSError):  # help still answers without the freezes
            for freeze in await freezes.active():
                lines.append(line(":snowflake: ", describe_freeze(freeze, config.environment_name(freeze.option))))
    return tuple(lines)
