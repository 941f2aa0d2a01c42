"""The rollout guard between steps: alerts pushed by Alertmanager's webhook, and a periodic poll.

A firing alert matching a running (or paused) rollout's guard aborts it at once: each environment
is restored to its state before the rollout. Aborting is idempotent (the first abort wins), so
any process may act on a pushed alert, and repeated notifications do nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

import structlog

from handlers.checks.matchers import InvalidMatcher, matches
from handlers.core.charts import Chart
from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application, Context
from handlers.core.reply import Code, Line, line
from handlers.rollouts.control import abort
from handlers.rollouts.message import alerted, progress_posts
from handlers.rollouts.store import ROLLOUT_STORE, Rollout, RolloutStore

__all__ = ["abort_and_tell", "alerts_pushed", "poll_guards"]

_log = structlog.get_logger("chatops.guard")


def _describe(labels: Mapping[str, str]) -> str:
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "alertname")
    return f"{labels.get('alertname', 'unnamed alert')} {{{rest}}}"


async def alerts_pushed(app: Application, chat: ChatBackend, alerts: Sequence[Mapping[str, str]]) -> list[str]:
    """Abort every active rollout whose guard one of these firing alerts (their labels) matches;
    the ids of the rollouts aborted."""
    store = _store(app)
    if store is None or not alerts:
        return []
    aborted = []
    for rollout in await store.all():
        if not rollout.active or not rollout.guard:
            continue
        try:
            hit = next((a for a in alerts if matches(rollout.guard, a)), None)
        except InvalidMatcher as error:
            _log.error("guard.invalid_matcher", rollout=rollout.id, error=str(error))
            continue
        if hit is not None and await _abort(app, chat, store, rollout, _describe(hit), "pushed by Alertmanager"):
            aborted.append(rollout.id)
    return aborted


async def poll_guards(app: Application, chat: ChatBackend) -> list[str]:
    """Ask Alertmanager about every active rollout's guard; abort those with a firing match."""
    store = _store(app)
    if store is None or app.services is None:
        return []
    aborted = []
    asked: dict[tuple[str, ...], list[str]] = {}  # one question per distinct guard
    for rollout in await store.all():
        if rollout.status != "running" or not rollout.guard:
            continue
        if rollout.guard not in asked:
            asked[rollout.guard] = await app.services.firing_alerts(rollout.guard)
        firing = asked[rollout.guard]
        if firing and await _abort(app, chat, store, rollout, firing[0], "polled"):
            aborted.append(rollout.id)
    return aborted


async def _abort(
    app: Application, chat: ChatBackend, store: RolloutStore, rollout: Rollout, alert: str, how: str
) -> bool:
    title = line(
        f"Rollout {rollout.id} of ",
        Code(rollout.flag),
        f" aborted: alert {alert} is firing ({how}) — ",
        *alerted(app, rollout),
    )
    return await abort_and_tell(app, chat, store, rollout, f"alert {alert} is firing", title)


async def abort_and_tell(
    app: Application,
    chat: ChatBackend,
    store: RolloutStore,
    rollout: Rollout,
    reason: str,
    title: Line,
    chart: Callable[[Rollout], Awaitable[Chart | None]] | None = None,
) -> bool:
    """Abort ``rollout`` (restoring each environment) because of what a guard saw, and say so in its
    thread with ``title`` (and ``chart``'s picture); False when it was aborted already."""
    context = Context(app, rollout.who, chat, origin=f" (rollout {rollout.id})")
    outcome = await abort(store, rollout, reason, context)
    if outcome is None:
        return False  # aborted already (another process, or an earlier notification)
    _log.warning("guard.aborted", rollout=rollout.id, flag=rollout.flag, reason=reason)
    posts = progress_posts(outcome[0], app.config, title, outcome[1])
    drawn = await chart(outcome[0]) if chart is not None else None
    if drawn is not None:
        posts[0] = replace(posts[0], chart=drawn)
    for post in posts:
        try:
            await chat.post(post)
        except PostFailed as error:
            _log.error("guard.post_failed", rollout=rollout.id, error=str(error)[:200])
    return True


def _store(app: Application) -> RolloutStore | None:
    return app.ports.get(ROLLOUT_STORE)
