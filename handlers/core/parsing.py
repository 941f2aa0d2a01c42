"""From the text people type to an invocation: normalise, tokenise, parse.

``parse`` raises ``UsageError`` with a message naming the offending word, the
valid alternatives and examples. It never touches Redis or Slack.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from handlers.config import Config, Environment
from handlers.core.grammar import CommandSpec, OptionSpec, SubcommandSpec

__all__ = ["HELP_COMMAND", "MAX_TEXT", "Invocation", "UsageError", "normalise", "parse", "tokenise"]

#: What ``/chatops help`` and a bare ``/chatops run`` run.
HELP_COMMAND = "help"

#: Longest command text accepted; Slack's own limit is about 4,000 characters.
MAX_TEXT = 4000

_DASHES = re.compile(r"(^|(?<=\s))[\u2014\u2013\u2012\u2212\u2010\u2011]+")
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'", "\u201a": "'"})
_NBSP = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u202f": " "})


class UsageError(ValueError):
    """A command that cannot run as typed; the message says why and how to fix it."""


@dataclass(frozen=True, slots=True)
class Invocation:
    command: str
    subcommand: str
    arguments: tuple[str, ...]
    options: Mapping[str, str | bool | tuple[str, ...]]
    environments: tuple[Environment, ...]
    explicit_environments: bool
    text: str
    help: bool = False

    def flag(self, name: str) -> bool:
        return bool(self.options.get(name))


def normalise(text: str) -> str:
    """Typographic dashes at a word's start → ``--``; curly quotes → straight; odd spaces → space."""
    return _DASHES.sub("--", text.translate(_QUOTES).translate(_NBSP))


def _unbacktick(token: str) -> str:
    if len(token) >= 2 and token[0] == "`" and token[-1] == "`":
        return token[1:-1]
    if token.startswith("--") and "=`" in token and token.endswith("`"):
        name, _, value = token.partition("=")
        return f"{name}={value[1:-1]}"
    return token


def tokenise(text: str) -> list[str]:
    try:
        tokens = shlex.split(normalise(text), posix=True)
    except ValueError as error:
        raise UsageError(f"Could not read the command: {error} (a quote is not closed?).") from error
    return [_unbacktick(t) for t in tokens]


def _suggest(word: str, choices: list[str], lead: str = "") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" Did you mean `{lead}{close[0]}`?" if close else ""


def _examples(examples: tuple[str, ...]) -> str:
    return "\nExamples:\n" + "\n".join(f"  {e}" for e in examples[:3]) if examples else ""


def _show(word: str) -> str:
    return word if len(word) <= 60 else word[:57] + "..."


def parse(text: str, config: Config, grammar: Mapping[str, CommandSpec]) -> Invocation:
    """Parse the text after ``/chatops`` (``run feature set x true --staging``, ``help``)
    against the grammar of the registered commands."""
    examples = next(iter(grammar.values())).examples
    if len(text) > MAX_TEXT:
        raise UsageError(
            f"The command is {len(text):,} characters long; the limit is {MAX_TEXT:,}. "
            "Nothing was run." + _examples(examples)
        )
    tokens = tokenise(text)
    if not tokens:
        raise UsageError("Empty command. Try `/chatops help`." + _examples(examples))
    if tokens[0] == HELP_COMMAND:
        tokens = ["run", *tokens]
    if tokens[0] != "run":
        raise UsageError(
            f"Unknown word `{_show(tokens[0])}`: commands start with `run` (or `help`)." + _examples(examples)
        )
    rest = tokens[1:]
    if not rest or rest[0] in ("--help", "-h"):
        rest = [HELP_COMMAND]
    name = rest[0]
    command = grammar.get(name)
    if command is None:
        valid = ", ".join(f"`{c}`" for c in grammar)
        raise UsageError(
            f"Unknown command `{_show(name)}`.{_suggest(name, list(grammar))} Valid commands: {valid}."
            + _examples(examples)
        )
    return _parse_command(command, rest[1:], text, config)


def _parse_command(command: CommandSpec, words: list[str], text: str, config: Config) -> Invocation:
    if command.direct is not None:
        return _parse_subcommand(command, command.direct, words, text, config)
    if not words or words[0] in ("--help", "-h"):
        return Invocation(command.name, "", (), {}, (), False, text, help=True)
    names = [s.name for s in command.subcommands]
    sub = command.subcommand(words[0])
    if sub is None:
        raise UsageError(
            f"Unknown subcommand `{_show(words[0])}` for `{command.name}`.{_suggest(words[0], names)} "
            f"Valid subcommands: {', '.join(f'`{n}`' for n in names)}." + _examples(command.examples)
        )
    return _parse_subcommand(command, sub, words[1:], text, config)


def _parse_subcommand(
    command: CommandSpec, sub: SubcommandSpec, words: list[str], text: str, config: Config
) -> Invocation:
    env_options = {e.option: e for e in config.environments} if sub.environments else {}
    options: dict[str, str | bool | tuple[str, ...]] = {}
    arguments: list[str] = []
    chosen: set[str] = set()
    wants_help = False
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word in ("--help", "-h"):
            wants_help = True
            continue
        if not word.startswith("--") or word == "--":
            if word.startswith("-") and len(word) > 1 and not _looks_numeric(word):
                raise UsageError(
                    f"Unknown option `{_show(word)}`: options start with two dashes, e.g. `--staging`."
                    + _examples(sub.examples)
                )
            arguments.append(word)
            continue
        name, has_value, value = word[2:].partition("=")
        if name in env_options:
            if has_value:
                raise UsageError(f"`--{name}` takes no value; write just `--{name}`.")
            chosen.add(name)
            continue
        spec = sub.option(name)
        if spec is None:
            valid = [o.name for o in sub.options] + list(env_options)
            listed = ", ".join(f"`--{v}`" for v in valid) if valid else "none"
            raise UsageError(
                f"Unknown option `--{_show(name)}` for `{f'{command.name} {sub.name}'.strip()}`."
                f"{_suggest(name, valid, '--')} Valid options: {listed}." + _examples(sub.examples)
            )
        if spec.kind == "flag":
            if has_value:
                raise UsageError(f"`--{name}` takes no value; write just `--{name}`.")
            options[name] = True
            continue
        if not has_value:
            if i >= len(words) or words[i].startswith("--"):
                raise UsageError(
                    f"`--{name}` needs a value, e.g. `--{name}={_placeholder(spec)}`." + _examples(sub.examples)
                )
            value = words[i]
            i += 1
        options[name] = _option_value(spec, value, options.get(name))
    if wants_help:
        return Invocation(command.name, sub.name, (), {}, (), False, text, help=True)
    explicit = tuple(e for e in config.environments if e.option in chosen)
    environments = explicit or ((config.default_environment,) if sub.environments else ())
    return Invocation(command.name, sub.name, tuple(arguments), options, environments, bool(explicit), text)


def _looks_numeric(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _placeholder(spec: OptionSpec) -> str:
    return {"list": "a,b", "count": "5"}.get(spec.kind, "text")


def _option_value(spec: OptionSpec, value: str, previous: str | bool | tuple[str, ...] | None) -> str | tuple[str, ...]:
    name = spec.name
    if spec.kind == "list":
        items = tuple(v.strip() for v in value.split(","))
        if not value.strip() or any(not v for v in items):
            raise UsageError(f"`--{name}` has an empty name in `{_show(value)}`; write e.g. `--{name}=a,b`.")
        earlier = previous if isinstance(previous, tuple) else ()
        return earlier + tuple(v for v in items if v not in earlier)
    if spec.kind == "count":
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 100:
            raise UsageError(f"`--{name}` must be a whole number from 1 to 100, not `{_show(value)}`.")
        return value
    if not value:
        raise UsageError(f"`--{name}` needs a value, e.g. `--{name}=text`.")
    return value
