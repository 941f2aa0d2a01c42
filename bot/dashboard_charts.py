"""The flag page's metric charts: each one its recent watch posted in Slack, drawn inline as SVG
(no image request, nothing the page's Content-Security-Policy has to allow)."""

from __future__ import annotations

from html import escape

import structlog

from bot.charts import render_svg
from bot.inline_svg import inline_svg
from handlers.core.charts import Chart
from handlers.core.recent_charts import chart_caption

__all__ = ["chart_figure"]

_log = structlog.get_logger("bot")


def chart_figure(chart: Chart, number: int) -> str:
    """A figure: the chart's caption, the chart (an image named by its alt text) and that text in
    words for everyone; a chart without panels is only the line saying why there is none.
    ``number`` tells the charts of one page apart (their ids)."""
    if not chart.panels:
        return f'<p class="warn">{escape(chart.alt)}</p>'
    try:
        svg = inline_svg(render_svg(chart), id_prefix=f"chart{number}-", label=chart.alt)
    except Exception:  # a chart its data breaks must not break the page
        _log.exception("bot.dashboard_chart_failed", chart=chart.title)
        return f'<p class="warn">{escape(chart_caption(chart))}: the chart could not be drawn. {escape(chart.alt)}</p>'
    return (
        f'<figure class="metric-chart"><figcaption>{escape(chart_caption(chart))}</figcaption>{svg}'
        f"<details><summary>In words</summary><p>{escape(chart.alt)}</p></details></figure>"
    )
