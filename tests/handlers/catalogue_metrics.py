"""The metric guards' and watches' messages for the catalogue, made from records as the driver keeps
them (the tests against a real Prometheus drive the same functions end to end)."""

from __future__ import annotations

from dataclasses import replace

from flags import FlagState
from handlers.checks.metric_checks import Reading
from handlers.core.caller import Caller
from handlers.core.reply import Code, line
from handlers.rollouts.message import progress_posts
from handlers.rollouts.metric_actions import abort_title
from handlers.rollouts.metric_guard import held_text
from handlers.rollouts.store import Rollout
from handlers.watches.message import watch_post
from handlers.watches.store import Watch, Watched
from tests.handlers.catalogue import Catalogue
from tests.handlers.conftest import FLAG, MakeChatops

__all__ = ["METRICS", "metric_messages"]

QUERY = 'sum(rate(http_requests_total{env="{env}",code=~"5.."}[2m])) / sum(rate(http_requests_total{env="{env}"}[2m]))'
METRICS = {
    "prometheus": {"url": "http://prometheus.monitoring:9090"},
    "checks": {"error_ratio": {"query": QUERY, "max_increase": "1.5x", "unit": "ratio"}},
    "watch": {"checks": ["error_ratio"], "minutes": 15, "every": "30s"},
}
T0 = 1796300000.0


async def metric_messages(make: MakeChatops, catalogue: Catalogue) -> None:
    bot = await make(metrics=METRICS)
    app, alice = bot.app, Caller("U0ALICE", "alice", "C0DEV", "development")
    rollout = Rollout(
        "R1",
        FLAG,
        ("staging",),
        (50.0, 100.0),
        600.0,
        alice,
        T0,
        metrics=("error_ratio",),
        baselines={"error_ratio@gstg": 0.0041},
        done=1,
        before={"staging": (FlagState(), False)},
        message="C0DEV|1.0",
        stepped_at=(T0 + 1,),
    )
    query = QUERY.replace("{env}", "gstg")
    title = abort_title(app, rollout, Reading("error_ratio", "gstg", query, 0.031, at=T0 + 60), 2)
    aborted = replace(rollout, status="aborted")
    catalogue.posts("feature rollout: aborted by a metric check", progress_posts(aborted, app.config, title)[:1])
    assert app.config.metrics is not None
    said = held_text(app.config.metrics, [Reading("error_ratio", "gstg", query, None, "Prometheus did not answer")])
    paused = replace(rollout, status="paused", held=True, reason=said)
    held = line("Rollout R1 of ", Code(FLAG), f" paused: {said}")
    catalogue.posts("feature rollout: paused, a metric check cannot be read", progress_posts(paused, app.config, held))
    _watches(bot.app.config, catalogue)


def _watches(config: object, catalogue: Catalogue) -> None:
    change = Watched(FLAG, "production", "alice", "U0ALICE", T0, "off", "on", "1796300000000-0", "change:1")
    watch = Watch(
        "W1",
        "production",
        "gprd",
        ("error_ratio",),
        T0,
        T0 + 900,
        (change,),
        baselines={"error_ratio": 0.0041},
        last={"error_ratio": 0.0043},
        read_at=T0 + 60,
    )
    where = {"channel": "C0LOG", "thread": "C0LOG|1.0"}
    post = watch_post(watch, change, config, **where, final=False, chart=None)  # type: ignore[arg-type]
    catalogue.posts("watch after a change: while it runs", [post])
    quiet = watch_post(watch, change, config, **where, final=True, chart=None)  # type: ignore[arg-type]
    catalogue.posts("watch after a change: final, nothing moved", [quiet])
    other = replace(change, flag="other_flag", before="25% of actors", after="on", entry_id="1796300000001-0")
    bad = replace(
        watch,
        changes=(change, other),
        last={"error_ratio": 0.029},
        worst={"error_ratio": 0.031},
        failing=("error_ratio",),
    )
    warned = watch_post(bad, change, config, **where, final=True, chart=None)  # type: ignore[arg-type]
    catalogue.posts("watch after a change: a check broke its bound (watched with another change)", [warned])
