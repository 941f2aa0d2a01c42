"""Actor names that look like others: mixed scripts (a Cyrillic a, U+0430, in "alice") or
full-width forms (U+FF41...). They are valid ids: the answer warns, or, with
``safety.lookalike_actors: refuse``, the command is refused."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["lookalike_warnings", "lookalikes"]

_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC")


def _script(char: str) -> str | None:
    name = unicodedata.name(char, "")
    return next((s for s in _SCRIPTS if name.startswith(s)), None) if char.isalpha() else None


def _why(name: str) -> str | None:
    if unicodedata.normalize("NFKC", name) != name:
        plain = unicodedata.normalize("NFKC", name)
        return f"uses full-width or compatibility characters (it reads like `{plain}`)"
    scripts = {s for c in name if (s := _script(c))}
    if len(scripts) > 1:
        odd = next(c for c in name if _script(c) not in (None, "LATIN"))
        mixed = " and ".join(sorted(s.title() for s in scripts))
        return f"mixes {mixed} letters (`{odd}` is {unicodedata.name(odd).lower()})"
    return None


def lookalikes(actor_ids: Iterable[str]) -> list[str]:
    """For each actor id whose name could be mistaken for another: the id and why."""
    found = []
    for actor in actor_ids:
        why = _why(actor.partition(":")[2] or actor)
        if why:
            found.append(f"{actor} {why}")
    return found


def lookalike_warnings(actor_ids: Iterable[str]) -> list[str]:
    """A warning for each actor id whose name could be mistaken for another."""
    return [f":warning: {found}: check it is the one you mean." for found in lookalikes(actor_ids)]
