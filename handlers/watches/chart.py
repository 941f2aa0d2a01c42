"""A watch's chart: its checks in its environment from before its first change to ``end``, each
change marked and each bound drawn from the baselines read before the first change. The watch's
final reply posts it; the dashboard's flag page shows the same chart."""

from __future__ import annotations

from handlers.checks.prometheus import PrometheusClient
from handlers.config.metrics import Metrics
from handlers.core.charts import Chart, Mark
from handlers.core.metric_charts import BEFORE_S, metric_chart
from handlers.watches.store import Watch

__all__ = ["watch_chart"]


async def watch_chart(client: PrometheusClient, metrics: Metrics, watch: Watch, *, end: float) -> Chart:
    """The chart of ``watch`` up to ``end`` (never raises for Prometheus: its alt text says what it could not read)."""
    first = watch.changes[0].flag
    one_flag = len({c.flag for c in watch.changes}) == 1  # then the title names it, and each mark need not
    marks = [Mark(c.at, f"→ {c.after}" if one_flag else f"{c.flag}: → {c.after}", "change") for c in watch.changes]
    baselines = {f"{name}@{watch.environment}": value for name, value in watch.baselines.items()}
    return await metric_chart(
        client,
        metrics,
        watch.checks,
        [watch.environment],
        first,
        start=watch.started - BEFORE_S,
        end=end,
        marks=marks,
        baselines=baselines,
        title=f"After {first} on {watch.environment}",
    )
