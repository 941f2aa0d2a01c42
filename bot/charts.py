"""A chart (handlers.core.charts) drawn with matplotlib, as a PNG for a Slack thread or an SVG for a
page: one panel per check, stacked on one UTC time axis, so that a person sees at a glance what the
metrics did around a change (its bounds dashed, its changes, steps and aborts as vertical lines).

Only matplotlib's object API is used (a Figure of its own, no pyplot): nothing global is drawn on,
so charts may be rendered in worker threads. The same chart gives the same bytes (no timestamps in
the files' metadata).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke
from matplotlib.transforms import ScaledTranslation, Transform, blended_transform_factory

from bot.chart_axes import time_format, time_label, value_formatter, with_gaps
from handlers.core.charts import Bound, Chart, Mark, Panel, Unit

__all__ = ["DPI", "HEADER_IN", "PANEL_HEIGHT_IN", "WIDTH_IN", "render_png", "render_svg"]

WIDTH_IN = 10.0  # 1000 px at DPI: Slack shows it full width without scaling text down much
PANEL_HEIGHT_IN = 3.0  # per check
HEADER_IN = 0.6  # the chart's title
DPI = 100
SERIES_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22")
BOUND_COLOUR = "#e67e22"  # orange: never one of the series' colours, nor an abort's red
MARK_STYLES: dict[str, tuple[str, str]] = {  # kind → (colour, line style)
    "change": ("#222222", "-"),
    "step": ("#555555", ":"),
    "abort": ("#d62728", "-"),
    "watch": ("#777777", "-."),
}
# The top of an axis whose values are all zero (or missing): a flat line at the bottom, not in the middle.
EMPTY_TOP: dict[Unit, float] = {"ratio": 0.01, "seconds": 0.1, "number": 1.0}
_GRID = "#dddddd"
_MUTED = "#888888"
# Labels are outlined in white, not boxed: readable over a line without hiding it.
_MERGE_SHARE = 0.02  # marks closer than this share of the time axis are drawn as one
_MARK_LABEL_CHARS = 34  # a mark's label runs up the panel: longer ones are cut
_LABEL_GAP_PT = 3.0  # between a line and its label, so that the outline never cuts the line
_OUTLINE = [withStroke(linewidth=3.5, foreground="white")]
# Labels come from data (flag names, states): text between two "$" is text, never maths to typeset
# (a label with a "$" pair would fail to draw). This module is the process' only use of matplotlib.
mpl.rcParams["text.parse_math"] = False
_SVG_LOCK = threading.Lock()  # rc_context changes matplotlib's global settings while it is open


def render_png(chart: Chart) -> bytes:
    """The chart as a PNG, WIDTH_IN by (PANEL_HEIGHT_IN per panel + HEADER_IN) inches at DPI."""
    out = io.BytesIO()
    _figure(chart).savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def render_svg(chart: Chart) -> str:
    """The chart as an SVG document (text left as text, for the page's own fonts)."""
    out = io.StringIO()
    figure = _figure(chart)
    with _SVG_LOCK, mpl.rc_context({"svg.hashsalt": "chatops", "svg.fonttype": "none"}):  # stable ids, text as text
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out.getvalue()


def _figure(chart: Chart) -> Figure:
    panels = chart.panels or (Panel("No checks", "number", ()),)
    size = (WIDTH_IN, PANEL_HEIGHT_IN * len(panels) + HEADER_IN)
    figure = Figure(figsize=size, dpi=DPI, layout="constrained", facecolor="white")
    axes: list[Axes] = list(figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0])
    figure.suptitle(chart.title, x=0.01, ha="left", fontsize=15, fontweight="bold")
    for ax, panel in zip(axes, panels, strict=True):
        _draw_panel(ax, panel)
    _draw_marks(axes, [m for m in chart.marks if chart.start <= m.at <= chart.end], chart)
    _time_axis(axes[-1], chart)
    return figure


def _draw_panel(ax: Axes, panel: Panel) -> None:
    ax.set_title(panel.title, loc="left", fontsize=12, pad=8)
    for index, series in enumerate(panel.series):
        times, values = with_gaps(series.points)
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        ax.plot(times, values, color=colour, linewidth=1.8, label=series.label)  # type: ignore[arg-type]
    for bound in panel.bounds:
        _draw_bound(ax, bound)
    _value_axis(ax, panel)
    ax.grid(True, color=_GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if panel.series:  # above the plot, right of the title: it never hides a line
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(panel.series), frameon=False, fontsize=10)
    if not any(series.points for series in panel.series):
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color=_MUTED, fontsize=12)


def _value_axis(ax: Axes, panel: Panel) -> None:
    """Values read in their unit, from zero when none is negative, with room above for the labels."""
    values = [v for series in panel.series for _, v in series.points] + [b.value for b in panel.bounds]
    ax.yaxis.set_major_formatter(value_formatter(panel.unit, values))
    ax.set_ymargin(0.15)
    ax.autoscale_view()
    if all(v >= 0 for v in values):
        top = max(values, default=0.0)
        ax.set_ylim(bottom=0, top=None if top > 0 else EMPTY_TOP[panel.unit])


def _draw_bound(ax: Axes, bound: Bound) -> None:
    ax.axhline(bound.value, color=BOUND_COLOUR, linestyle=(0, (6, 4)), linewidth=1.6)
    at_right = blended_transform_factory(ax.transAxes, ax.transData) + _nudge(ax, 0, _LABEL_GAP_PT)
    ax.text(
        0.995,
        bound.value,
        bound.label,
        transform=at_right,
        ha="right",
        va="bottom",
        fontsize=10,
        fontweight="bold",
        color=BOUND_COLOUR,
        path_effects=_OUTLINE,
    )


def _draw_marks(axes: Sequence[Axes], marks: Sequence[Mark], chart: Chart) -> None:
    """Each mark a vertical line through every panel, labelled once, at the top of the first: to the
    right of its line, or to its left near the right edge (a label never leaves the chart)."""
    top = axes[0]
    blended = blended_transform_factory(top.transData, top.transAxes)
    span = max(chart.end - chart.start, 1e-9)
    for mark in _merged(marks, span * _MERGE_SHARE):
        colour, style = MARK_STYLES.get(mark.kind, MARK_STYLES["change"])
        at = _utc(mark.at)
        for ax in axes:
            ax.axvline(at, color=colour, linestyle=style, linewidth=1.6)  # type: ignore[arg-type]
        near_right = (mark.at - chart.start) / span > 0.85
        gap = -_LABEL_GAP_PT if near_right else _LABEL_GAP_PT
        label = mark.label if len(mark.label) <= _MARK_LABEL_CHARS else mark.label[: _MARK_LABEL_CHARS - 1] + "…"
        top.text(
            at,  # type: ignore[arg-type]
            0.97,
            label,
            transform=blended + _nudge(top, gap, 0),
            rotation=90,
            ha="right" if near_right else "left",
            va="top",
            fontsize=9.5,
            color=colour,
            path_effects=_OUTLINE,
        )


def _merged(marks: Sequence[Mark], within: float) -> list[Mark]:
    """Marks closer than ``within`` seconds drawn as one, labelled with the last and how many: two
    changes a second apart would otherwise write their labels over each other."""
    out: list[Mark] = []
    count = 1
    for mark in sorted(marks, key=lambda m: m.at):
        if out and mark.at - out[-1].at < within:
            count += 1
            out[-1] = Mark(mark.at, f"{count} changes, last {mark.label}", mark.kind)
        else:
            count = 1
            out.append(mark)
    return out


def _time_axis(ax: Axes, chart: Chart) -> None:
    """The shared time axis from chart.start to chart.end, ticks formatted for the span, in UTC."""
    ax.set_xlim(_utc(chart.start), _utc(chart.end))  # type: ignore[arg-type]
    ax.xaxis.set_major_locator(AutoDateLocator(tz=UTC, minticks=4, maxticks=10))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(DateFormatter(time_format(chart.end - chart.start), tz=UTC))  # type: ignore[no-untyped-call]
    ax.set_xlabel(time_label(chart.start, chart.end), fontsize=11)


def _nudge(ax: Axes, x_pt: float, y_pt: float) -> Transform:
    """A shift by points (whatever the scale of the data): a label's distance from its line."""
    return ScaledTranslation(x_pt / 72, y_pt / 72, ax.figure.dpi_scale_trans)


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)
