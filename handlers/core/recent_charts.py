"""The charts of a flag's recent watched changes, as the watch posted them: what the dashboard's
flag page shows. The watches capability offers them (``RECENT_METRIC_CHARTS``); the dashboard asks
without importing it.

A chart without panels is no chart: its ``alt`` says why there is none (the watches could not be
read), and a page shows that line instead of an image."""

from __future__ import annotations

from typing import Protocol

from handlers.core.charts import Chart
from handlers.core.ports import PortKey
from handlers.core.timefmt import utc

__all__ = ["RECENT_METRIC_CHARTS", "RecentMetricCharts", "chart_caption", "no_chart"]


class RecentMetricCharts(Protocol):
    async def for_flag(self, flag: str, limit: int) -> list[Chart]:
        """The charts of at most ``limit`` recent watches whose changes include ``flag``, newest
        first; never raises (what could not be read is said in a chart's ``alt``, or by ``no_chart``)."""
        ...


RECENT_METRIC_CHARTS: PortKey[RecentMetricCharts] = PortKey("recent metric charts")


def no_chart(title: str, why: str) -> Chart:
    """In place of the charts that could not be made: ``why``, in words."""
    return Chart(title, 0.0, 0.0, (), alt=why)


def chart_caption(chart: Chart) -> str:
    """``Error ratio after my_flag on gprd, 2026-12-01 12:04 UTC``: what the chart's checks show
    after which change, and when that change was (its first change mark)."""
    checks = [panel.title for panel in chart.panels]
    shown = ", ".join(checks[:-1]) + " and " + checks[-1] if len(checks) > 1 else "".join(checks)
    title = chart.title
    if shown and title.startswith("After "):
        title = f"{shown[:1].upper()}{shown[1:]} after {title.removeprefix('After ')}"
    elif shown:
        title = f"{title}: {shown}"
    changes = [mark.at for mark in chart.marks if mark.kind == "change"]
    return f"{title}, {utc(min(changes, default=chart.start))}"
