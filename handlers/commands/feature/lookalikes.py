"""Actor names that look like others: mixed scripts (a Cyrillic a, U+0430, in "alice") or
full-width forms (U+FF41...). They are valid ids, so they are not refused; the answer warns."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["lookalike_warnings"]

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


def lookalike_warnings(actor_ids: Iterable[str]) -> list[str]:
    """A warning for each actor id whose name could be mistaken for another."""
    warnings = []
    for actor in actor_ids:
        why = _why(actor.partition(":")[2] or actor)
        if why:
            warnings.append(f":warning: {actor} {why}: check it is the one you mean.")
    return warnings
