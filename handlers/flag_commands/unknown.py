"""A name that is no flag: no definition, and no state or history in any environment (a typo, most
likely). ``feature get`` and ``feature set`` answer it with the nearest names among the
definitions and the flags stored anywhere, instead of "off" or a refusal that only names the
definitions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from flags import StoreUnavailable, WrongKeyType
from handlers.core.context import Context
from handlers.core.reply import Reply, error_reply

__all__ = ["nearest", "no_such_flag"]


async def no_such_flag(name: str, context: Context, then: str = "") -> Reply | None:
    """The answer to ``name`` when it names no flag anywhere (``then`` added, e.g. "Nothing was
    changed."); None when it names one, or when an environment cannot be read (then nobody can
    tell, and the command answers as it would)."""
    if name in context.definitions:
        return None
    stored: set[str] = set()
    try:
        for environment in context.config.environments:
            store = context.stores[environment.option]
            record = await store.get(name)
            if record.exists or not record.state.is_empty or await store.history(name, limit=1):
                return None
        for environment in context.config.environments:
            stored.update(r.name for r in await context.stores[environment.option].list())
    except (StoreUnavailable, WrongKeyType):
        return None
    close = nearest(name, [*context.definitions, *stored])
    if close:
        text = f"No flag named `{name}` — did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    else:
        text = (
            f"No flag named `{name}`: it has no definition and no state in any environment. "
            "Check the name with `/chatops run feature list --match PART`."
        )
    return error_reply(f"{text} {then}".strip())


def nearest(name: str, names: Iterable[str]) -> list[str]:
    """Up to three names most like ``name``, the nearest first."""
    return difflib.get_close_matches(name, sorted(set(names)), n=3, cutoff=0.6)
