"""What rollouts give the driver and the other capabilities: the step of a due rollout (its timer
records are ``R…``), the guard's periodic poll, aborting on a pushed alert, and pausing when the
flag is killed."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.core.alerts import Alert
from handlers.core.chat import ChatBackend
from handlers.core.context import Application, Context
from handlers.core.driver import post_all
from handlers.core.reply import Code, Line, Reply, line
from handlers.rollouts.control import pause
from handlers.rollouts.guard import alerts_pushed, poll_guards
from handlers.rollouts.message import progress_posts
from handlers.rollouts.metric_actions import poll_metric_guards
from handlers.rollouts.step import step
from handlers.rollouts.store import ROLLOUT_STORE, Rollout

__all__ = ["GuardPoll", "MetricGuardPoll", "RolloutAlerts", "RolloutSteps", "RunningRollouts"]


class RolloutSteps:
    """A due rollout: its next step (or its end), through the driver."""

    prefix = "R"

    async def run(self, record_id: str, record: str, token: int, app: Application, chat: ChatBackend) -> None:
        rollout = Rollout.from_json(record)
        posts = await step(rollout, app, chat, app.ports.need(ROLLOUT_STORE), token)
        await post_all(chat, posts, rollout=rollout.id)


class GuardPoll:
    """Every ``safety.rollout_guard_poll_seconds``: abort running rollouts whose guard matches an
    alert firing in Alertmanager (for alerts no webhook pushed)."""

    name = "guard"

    def every(self, app: Application) -> float:
        return app.config.safety.rollout_guard_poll_seconds

    async def run(self, app: Application, chat: ChatBackend) -> None:
        await poll_guards(app, chat)


class MetricGuardPoll:
    """Every ``metrics.every``: read the metric checks of running rollouts; abort, hold, pause or
    resume them by what they say."""

    name = "metric-guard"

    def every(self, app: Application) -> float:
        return app.config.metrics.every if app.config.metrics is not None else 60.0

    async def run(self, app: Application, chat: ChatBackend) -> None:
        await poll_metric_guards(app, chat)


class RolloutAlerts:
    """Alerts pushed by Alertmanager abort the running rollouts whose guard they match."""

    async def alerts_arrived(self, app: Application, chat: ChatBackend, alerts: Sequence[Alert]) -> dict[str, object]:
        firing = [a.labels for a in alerts if a.status == "firing"]
        return {"aborted": await alerts_pushed(app, chat, firing)}


class RunningRollouts:
    """A killed flag's running rollout is paused, so that its next step does not turn it back on;
    its message says so (no Pause or Next step left on it), and so does its thread."""

    async def stop_for(self, flag: str, why: str, context: Context) -> list[Line]:
        store = context.app.ports.need(ROLLOUT_STORE)
        rollout = await store.active_for(flag)
        if rollout is None or rollout.status != "running":
            return []
        paused = await pause(store, rollout, why)
        if paused.status != "paused":  # aborted or done meanwhile: said then
            return []
        title = line(f"Rollout {paused.id} of ", Code(flag), f" paused: {why}")
        posts = tuple(progress_posts(paused, context.config, title))
        told = await context.app.deliveries.deliver(Reply(True, "", cross_posts=posts), context.chat, context.notify)
        return [line(f"Rollout {paused.id} of {flag} is paused."), *told.notes]
