"""The ``--help`` text of a command or subcommand: every option with one line."""

from __future__ import annotations

from handlers.config import Config
from handlers.core.grammar import CommandSpec, SubcommandSpec
from handlers.core.reply import Code, Line, Reply, Section, line

__all__ = ["command_help"]


def command_help(command: CommandSpec, config: Config, sub: SubcommandSpec | None = None) -> Reply:
    sections: list[Section] = []
    for form in (sub,) if sub else command.forms:
        call = f"{command.name} {form.usage}".strip()
        lines: list[Line] = [line(Code(f"/chatops run {call}"), f" — {form.summary}")]
        for option in form.options:
            value = f"={option.metavar or 'VALUE'}" if option.kind != "flag" else ""
            lines.append(line("  ", Code(f"--{option.name}{value}"), f" — {option.help}"))
        if form.environments:
            envs = " ".join(f"--{e.option}" for e in config.environments)
            default = config.default_environment
            lines.append(
                line("  ", Code(envs), f" — target these environments (default: --{default.option}, {default.name})")
            )
        lines += [line("  e.g. ", Code(e)) for e in form.examples[:2]]
        sections.append(Section(tuple(lines)))
    return Reply(True, f"help for {command.name}", tuple(sections))
