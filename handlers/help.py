"""``/chatops help`` and ``--help``: the commands, their options, and this channel's rules."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config, Environment
from bot.grammar import COMMANDS, CommandSpec, SubcommandSpec
from bot.parsing import Invocation
from handlers.context import Context
from handlers.reply import Code, Line, Reply, Section, Strong, line

__all__ = ["HelpPlan", "command_help", "handle", "plan"]


@dataclass(frozen=True, slots=True)
class HelpPlan:
    targets: tuple[Environment, ...] = ()
    writes: bool = False


def plan(invocation: Invocation, context: Context) -> HelpPlan:
    return HelpPlan()


async def handle(plan: HelpPlan, context: Context) -> Reply:
    commands = (
        *tuple(line(Code(f"/chatops run {c.name}"), f" — {c.summary}") for c in COMMANDS.values() if c.name != "help"),
        line(Code("/chatops run COMMAND --help"), " — every option of a command"),
    )
    return Reply(
        True,
        "chatops commands",
        (
            Section(commands, title=line(Strong("Commands"))),
            Section(
                channel_rules(context.config, context),
                title=line(Strong(f"Rules in {context.caller.channel_label}")),
            ),
        ),
    )


def channel_rules(config: Config, context: Context) -> tuple[Line, ...]:
    caller = context.caller
    lines: list[Line] = []
    for environment in config.environments:
        allowed = config.channels_for(environment)
        here = not allowed or caller.channel_id in allowed or caller.channel_label in allowed
        where = "anywhere" if not allowed else " or ".join(allowed)
        verdict = "can be changed here" if here else f"cannot be changed here (only in {where})"
        rule = next((r for r in config.access or () if r.matches(environment)), None)
        if config.access is None or (rule and rule.anyone):
            who = "by anyone"
        elif rule is None:
            who = "by no one (no access rule matches)"
        else:
            names = [f"@{g}" for g in rule.usergroups] + list(rule.users)
            who = "by " + ", ".join(names)
        label = f" (--{environment.option}" + (", default)" if environment.default else ")")
        lines.append(line(Strong(environment.name), label, f": {verdict}, {who}"))
    lines.append(line("Reading flags (get, list, history) works in any channel."))
    return tuple(lines)


def command_help(command: CommandSpec, config: Config, sub: SubcommandSpec | None = None) -> Reply:
    """The ``--help`` text of a command or subcommand: every option with one line."""
    subs = (sub,) if sub else command.subcommands
    sections: list[Section] = []
    for s in subs:
        lines: list[Line] = [line(Code(f"/chatops run {command.name} {s.usage}"), f" — {s.summary}")]
        for option in s.options:
            value = f"={option.metavar or 'VALUE'}" if option.kind != "flag" else ""
            lines.append(line("  ", Code(f"--{option.name}{value}"), f" — {option.help}"))
        if s.environments:
            envs = " ".join(f"--{e.option}" for e in config.environments)
            default = config.default_environment
            lines.append(
                line(
                    "  ",
                    Code(envs),
                    f" — target these environments (default: --{default.option}, {default.name})",
                )
            )
        lines += [line("  e.g. ", Code(e)) for e in s.examples[:2]]
        sections.append(Section(tuple(lines)))
    return Reply(True, f"help for {command.name}", tuple(sections))
