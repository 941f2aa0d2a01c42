"""Ten thousand flags on the example's six environments for the flags page's tests, written as
Ruby's Flipper writes them (the feature set and one hash per flag; no audit entry, no time), in a
few pipelined round trips; definitions for some of them; and what the page should show of each.

Flag ``i`` on the ``j``-th environment is ``KINDS[(i + j) % 5]``: not set, off, a percentage of
actors (twice), or on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from flags.keys import Keys

__all__ = ["ENVIRONMENTS", "Many", "flag_name", "shown_state", "write_definitions", "write_flags"]

ENVIRONMENTS = ("dev", "pre", "gstg", "gstg-ref", "ops", "gprd")  # the example's names, in its order
KINDS = ("not set", "off", "percent", "percent", "on")
GROUPS = ("group::alpha", "group::beta", "group::gamma")
TYPES = ("beta", "wip", "ops", "gitlab_com_derisk")


def flag_name(i: int) -> str:
    return f"many_flag_{i:05d}"


def shown_state(i: int, environment: int) -> str:
    """What the state filter calls flag ``i``'s state there: on, off (not set too) or partly."""
    kind = KINDS[(i + environment) % 5]
    return {"on": "on", "percent": "partly"}.get(kind, "off")


def _fields(i: int, environment: int) -> dict[str, str] | None:
    kind = KINDS[(i + environment) % 5]
    if kind == "not set":
        return None
    if kind == "percent":
        return {"percentage_of_actors": str((i * 7 + environment) % 99 + 1)}
    return {"boolean": "true"} if kind == "on" else {}


async def write_flags(targets: Sequence[tuple[aioredis.Redis, str]], count: int) -> None:
    """Flags 0 … count-1 on each environment, given as its Redis and key prefix (in the example's order)."""
    for environment, (client, prefix) in enumerate(targets):
        keys = Keys(prefix)
        pipe = client.pipeline(transaction=False)
        for i in range(count):
            fields = _fields(i, environment)
            if fields is None:
                continue
            pipe.sadd(keys.features, flag_name(i))
            if fields:
                pipe.hset(keys.flag(flag_name(i)), mapping=fields)
        await pipe.execute()


@dataclass(frozen=True, slots=True)
class Many:
    """What was written: how many flags, and the definitions of the first ``defined``."""

    count: int
    defined: int

    def group(self, i: int) -> str:
        return GROUPS[i % len(GROUPS)] if i < self.defined else ""

    def type(self, i: int) -> str:
        return TYPES[i % len(TYPES)] if i < self.defined else ""

    def milestone(self, i: int) -> str:
        return f"16.{i % 10}" if i < self.defined else ""


def write_definitions(folder: Path, many: Many) -> str:
    """A definition file for each of the first ``many.defined`` flags; the folder, for the config."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(many.defined):
        name = flag_name(i)
        (folder / f"{name}.yml").write_text(
            f"---\nname: {name}\nintroduced_by_url: https://gitlab.com/gitlab-org/gitlab/-/merge_requests/{i + 1}\n"
            f"rollout_issue_url: https://gitlab.com/gitlab-org/gitlab/-/issues/{i + 1}\n"
            f"milestone: '{many.milestone(i)}'\ngroup: {many.group(i)}\ntype: {many.type(i)}\ndefault_enabled: false\n"
        )
    return str(folder)
