"""Small builders every message uses, so that each says things the same way: environments that
moved alike on one line, each explanation once, the flag's definition as one line of small print,
the flag as a link to its dashboard page, the channel as a channel link."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar
from urllib.parse import quote

from flags import Definition
from handlers.config import Config
from handlers.core.caller import Caller
from handlers.core.reply import Channel, Code, Line, Link, Segment, Strong, line, plain

__all__ = [
    "alike",
    "channel_of",
    "definition_note",
    "flag_segment",
    "grouped",
    "issue_link",
    "moves",
    "once",
    "shortened",
]

K = TypeVar("K", bound=Hashable)


def grouped(named: Iterable[tuple[str, K]]) -> list[tuple[list[str], K]]:
    """``(environment, what)`` pairs grouped by what, in the order first seen: each explanation
    once, with the environments it holds for (``[(["dev", "pre"], why), ...]``)."""
    groups: dict[K, list[str]] = {}
    for environment, what in named:
        groups.setdefault(what, []).append(environment)
    return [(names, what) for what, names in groups.items()]


def alike(moved: Iterable[tuple[str, str, str]]) -> list[tuple[list[str], str, str]]:
    """``(environment, before, after)`` grouped by (before, after), in the order first seen:
    ``[(["dev", "pre"], "off", "50% of actors"), ...]``."""
    return [(names, before, after) for names, (before, after) in grouped((e, (b, a)) for e, b, a in moved)]


def moves(moved: Iterable[tuple[str, str, str]]) -> list[Line]:
    """Before → after, one line per group of environments that moved alike:
    ``dev, pre, gstg: off → 50% of actors``."""
    return [
        line(Strong(", ".join(names)), ": ", Code(before), " → ", Code(after)) for names, before, after in alike(moved)
    ]


def once(lines: Iterable[Line]) -> tuple[Line, ...]:
    """The lines without repeats (by their words), in order."""
    seen: set[str] = set()
    kept: list[Line] = []
    for entry in lines:
        words = plain(entry).strip()
        if words and words not in seen:
            seen.add(words)
            kept.append(entry)
    return tuple(kept)


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def definition_note(name: str, definitions: Mapping[str, Definition]) -> Line | None:
    """``gitlab_com_derisk · group::database frameworks · milestone 16.7 · rollout issue #431866``."""
    definition = definitions.get(name)
    if definition is None:
        return None
    facts: list[Segment] = [f"{definition.type} · {definition.group} · milestone {definition.milestone}"]
    if definition.rollout_issue_url:
        facts += [" · ", issue_link(definition.rollout_issue_url)]
    return line(*facts)


def issue_link(url: str) -> Link:
    """A rollout issue as a short link: ``rollout issue #431866``, not its URL as text."""
    number = url.rstrip("/").rsplit("/", 1)[-1]
    return Link(url, f"rollout issue #{number}" if number.isdigit() else "rollout issue")


def flag_segment(name: str, config: Config) -> Segment:
    """The flag's name, linked to its dashboard page when there is a dashboard."""
    if config.ui is None:
        return Code(name)
    return Link(f"{str(config.ui.base_url).rstrip('/')}/ui/flags/{quote(name, safe='')}", name)


def channel_of(caller: Caller) -> Segment:
    """Where the caller typed, as a channel link (a direct message or the bot's own work: its label)."""
    return Channel(caller.channel_id, caller.channel_label)
