"""The chart of metric checks around a change: each check's values in each environment over a span
(read from Prometheus), its bound, and the moments that matter (the change, each rollout step, an
abort). Rollouts and watches attach it to what they post; the dashboard draws the same."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from handlers.checks.metric_checks import display_name, fill, limit_of, shown
from handlers.checks.prometheus import PrometheusClient, PrometheusError
from handlers.config.metrics import Metrics
from handlers.core.charts import Bound, Chart, Mark, Panel, Series

__all__ = ["BEFORE_S", "metric_chart"]

BEFORE_S = 1800.0  # a chart starts this long before the first change


async def metric_chart(
    client: PrometheusClient,
    metrics: Metrics,
    names: Sequence[str],
    environments: Sequence[str],
    flag: str,
    *,
    start: float,
    end: float,
    marks: Sequence[Mark],
    baselines: Mapping[str, float | None],
    title: str,
) -> Chart:
    """Each check (a panel) in each environment (a line) from ``start`` to ``end``; a series
    Prometheus could not give is left out, and the alternative text says so."""
    panels, said = [], []
    for name in names:
        check = metrics.checks.get(name)
        if check is None:
            continue
        series: list[Series] = []
        bounds: list[Bound] = []
        for environment in environments:
            try:
                points = await client.values(fill(check.query, environment, flag), start, end)
            except PrometheusError as error:
                said.append(f"{display_name(name)} on {environment}: not shown ({error})")
                continue
            series.append(Series(environment, tuple(points)))
            limit = limit_of(check, baselines.get(f"{name}@{environment}"))
            if limit is not None and all(b.value != limit for b in bounds):
                bounds.append(Bound(f"bound {shown(check, limit)} ({environment})", limit))
            last = f"{shown(check, points[-1][1])} at the end" if points else "no data"
            said.append(f"{display_name(name)} on {environment}: {last}")
        panels.append(Panel(display_name(name), check.unit, tuple(series), tuple(bounds)))
    span = f"{_clock(start)} to {_clock(end)} UTC"
    alt = f"{title}, {span}: " + "; ".join(said) if said else f"{title}, {span}"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(end))
    return Chart(title, start, end, tuple(panels), tuple(marks), alt, f"{flag}-{stamp}.png")


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(moment))
