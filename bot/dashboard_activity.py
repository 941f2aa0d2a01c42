"""The activity page's links into Slack: each active rollout's message and each pending approval's
card, by their permalinks. A link Slack cannot give (or not in time) is left out; the page shows
the rest as it would without any."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import structlog
from redis.exceptions import RedisError

from bot.runtime import Runtime
from handlers.approvals.store import ApprovalRequest
from handlers.core.reply import Line, Link, Reply, Strong
from handlers.rollouts.store import ROLLOUT_STORE

__all__ = ["message_links", "with_links"]

_log = structlog.get_logger("bot")


async def message_links(runtime: Runtime, pending: Sequence[ApprovalRequest]) -> dict[str, str]:
    """Rollout and approval ids (``R1``, ``A1``) → the permalink of their message in Slack."""
    if runtime.permalinks is None:
        return {}
    references = {a.id: a.card for a in pending if a.card}
    store = runtime.app.ports.get(ROLLOUT_STORE)
    try:
        rollouts = await store.all() if store is not None else []
    except (RedisError, OSError) as error:  # the page says so in the rollouts' own section
        _log.warning("bot.dashboard_rollouts_unread", error=str(error))
        rollouts = []
    references.update({r.id: r.message for r in rollouts if r.active and r.message})
    found = await runtime.permalinks.of(references.values())
    return {name: found[reference] for name, reference in references.items() if reference in found}


def with_links(reply: Reply, links: Mapping[str, str], label: str) -> Reply:
    """``reply`` with a link labelled ``label`` at the end of each line that begins with an id in
    bold (``R1 · flag · running …``) that ``links`` has."""

    def linked(segments: Line) -> Line:
        first = segments[0] if segments else None
        if isinstance(first, Strong) and first.text in links:
            return (*segments, " · ", Link(links[first.text], label))
        return segments

    sections = tuple(replace(s, lines=tuple(linked(line) for line in s.lines)) for s in reply.sections)
    return replace(reply, sections=sections)
