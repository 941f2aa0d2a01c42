"""``/chatops help [COMMAND]``: the commands, and what this person may change in this channel.

The channel and access verdicts come from the policy's own functions, so help never says
"can be changed here" where the policy would refuse.
"""

from __future__ import annotations

import contextlib
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

__all__ = ["HelpCommand", "HelpPlan"]

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
        commands = (
            *(line(Code(f"/chatops run {c.name}"), f" — {c.summary}") for c in grammar.values() if c is not HELP),
            line(Code("/chatops run COMMAND --help"), " — every option of a command"),
        )
        rules = await channel_rules(context)
        return Reply(
            True,
            "chatops commands",
            (
                Section(commands, title=line(Strong("Commands"))),
                Section(rules, title=line(Strong(f"Rules in {context.caller.channel_label}"))),
            ),
        )


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
