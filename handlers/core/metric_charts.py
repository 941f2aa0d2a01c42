"""The chart of metric checks around a change: each check's values in each environment over a span
(read from Prometheus), its bound, and the moments that matter (the change, each rollout step, an
abort). Rollouts and watches attach it to what they post; the dashboard draws the same."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from handlers.checks.metric_checks import display_name, fill, limit_of, shown
from handlers.checks.prometheus import PrometheusClient, PrometheusError
from handlers.config.metrics import Metrics
from handlers.core.charts import Bound, Chart, Mark, Panel, Series

__all__ = ["BEFORE_S", "metric_chart"]

BEFORE_S = 1800.0
POINTS = 240  # values read per series (the PromQL client's default)  # a chart starts this long before the first change


@dataclass(frozen=True, slots=True)
class _Asked:
    client: PrometheusClient
    metrics: Metrics
    names: Sequence[str]
    environments: Sequence[str]
    flag: str
    baselines: Mapping[str, float | None]


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
    Prometheus could not give is left out, and the alternative text says so. When Prometheus has
    nothing for the first part of the span (a new series), the chart starts where its data does, read
    again at that span's own resolution."""
    asked = _Asked(client, metrics, names, environments, flag, baselines)
    panels, said = await _panels(asked, start, end)
    cropped = _from_data(panels, start, end)
    if cropped - start > 0.1 * (end - start):
        start = cropped
        panels, said = await _panels(asked, start, end)
    span = f"{_clock(start)} to {_clock(end)} UTC"
    alt = f"{title}, {span}: " + "; ".join(said) if said else f"{title}, {span}"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(end))
    return Chart(title, start, end, tuple(panels), tuple(marks), alt, f"{flag}-{stamp}.png")


async def _panels(asked: _Asked, start: float, end: float) -> tuple[list[Panel], list[str]]:
    panels, said = [], []
    for name in asked.names:
        check = asked.metrics.checks.get(name)
        if check is None:
            continue
        series: list[Series] = []
        bounds: list[Bound] = []
        for environment in asked.environments:
            try:
                points = await asked.client.values(fill(check.query, environment, asked.flag), start, end)
            except PrometheusError as error:
                said.append(f"{display_name(name)} on {environment}: not shown ({error})")
                continue
            series.append(Series(environment, tuple(points)))
            limit = limit_of(check, asked.baselines.get(f"{name}@{environment}"))
            if limit is not None and all(b.value != limit for b in bounds):
                bounds.append(Bound(f"bound {shown(check, limit)} ({environment})", limit))
            last = f"{shown(check, points[-1][1])} at the end" if points else "no data"
            said.append(f"{display_name(name)} on {environment}: {last}")
        panels.append(Panel(display_name(name), check.unit, tuple(series), tuple(bounds)))
    return panels, said


def _from_data(panels: Sequence[Panel], start: float, end: float) -> float:
    """Where the chart starts: ``start``, or later when Prometheus has nothing before (a new series),
    so that what it has is not squeezed against the right edge: a step (of this reading) before its
    first point, and at least a minute before the end."""
    firsts = [s.points[0][0] for p in panels for s in p.series if s.points]
    if not firsts:
        return start
    step = max(1.0, (end - start) / POINTS)
    return max(start, min(min(firsts) - step, end - 60))


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(moment))
