"""The flag page's exposure chart: an SVG drawn here from the flag's audit entries (no script, no
image request: the page's Content-Security-Policy allows neither).

One lane per environment that changed, each with its own 0 to 100 % axis and gridlines, on one time
axis whose ticks suit the span; each step is labelled with its value where there is room, and each
change is a link to its row in the history table below, named in words ("gprd: off → 25% of actors
by alice at 12:04 UTC") so that a keyboard and a screen reader reach what a mouse hovers. A
rollout's steps are diamonds, a freeze in force a shaded band. Environments that never changed
share one line of text. When the flag has been quiet for far longer than its changes took, the
quiet tail is drawn short after a break, so that the changes are not squeezed against the left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from bot.time_ticks import DAY, MINUTE, moment_label, tick_label, time_ticks
from flags import AuditEntry
from handlers.core.freezes import Freeze, describe_freeze
from handlers.core.timefmt import span, utc
from handlers.dashboard.cells import exposure
from handlers.dashboard.views import FlagPage, Point

__all__ = ["checks_text", "entry_anchor", "timeline_svg"]

_COLORS = ("#2f6fdf", "#1a7f37", "#bf3989", "#9a6700", "#8250df", "#cf222e", "#0969da", "#57606a")
WIDTH = 900
LEFT, RIGHT = 44, WIDTH - 24  # the plot's edges (y-axis labels to the left)
TITLE, PLOT, GAP = 18, 64, 12  # a lane: its name, its 0 to 100 % plot, the space under it
NOW_ZONE = 72  # after a break, the quiet tail up to now
_GRID = (0, 25, 50, 75, 100)
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]")
_Share = Callable[[float], float]  # a share in percent to its height in a lane


def checks_text(entry: AuditEntry) -> str:
    """An entry's production checks in one line (the history table and the chart's marks)."""
    return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(entry.checks.items()))


def entry_anchor(entry: AuditEntry) -> str:
    """The id of the entry's history row: its environment and its stream id (one write to several
    environments gives each stream the same id)."""
    return f"entry-{_NOT_ID.sub('_', entry.environment)}-{_NOT_ID.sub('_', entry.entry_id)}"


class _Axis:
    """Time to x: linear from ``start`` to ``cut``; with a break (``cut`` before ``now``) the quiet
    tail from ``cut`` to ``now`` is squeezed into the last NOW_ZONE pixels."""

    def __init__(self, start: float, cut: float, now: float) -> None:
        self.start, self.cut, self.now = start, cut, now
        self.broken = cut < now
        self.linear_right = RIGHT - NOW_ZONE if self.broken else RIGHT
        self._scale = (self.linear_right - LEFT) / (cut - start)
        self._tail_scale = NOW_ZONE / (now - cut) if self.broken else 0.0

    def x(self, at: float) -> float:
        at = min(max(at, self.start), self.now)
        if at <= self.cut:
            return round(LEFT + (at - self.start) * self._scale, 1)
        return round(self.linear_right + (at - self.cut) * self._tail_scale, 1)


def _axis(points: Sequence[Point], now: float) -> _Axis:
    """From a little before the first change to now; broken when the flag has been quiet for more
    than three times as long as its changes took."""
    first, last = min(p.at for p in points), max(p.at for p in points)
    body = max(last - first, 60.0)
    start = first - body * 0.04
    now = max(now, last)
    if now - last > 3 * body:
        return _Axis(start, last + body * 0.1, now)
    return _Axis(start, now, now)


@dataclass(frozen=True, slots=True)
class _Words:
    """How the chart says a moment: with seconds when ticks are seconds apart, dated when it spans days."""

    seconds: bool
    dated: bool

    def when(self, at: float) -> str:
        return moment_label(at, seconds=self.seconds, dated=self.dated)


def timeline_svg(page: FlagPage) -> str:
    """The chart as a figure: the SVG, then a caption saying the span and how to use it (and,
    when the freezes could not be read, that the chart shows none)."""
    unread = page.freezes_unread and f"Freezes could not be read, so none is marked: {page.freezes_unread}"
    return _figure(page) + (f'<p class="warn">{escape(unread)}</p>' if unread else "")


def _figure(page: FlagPage) -> str:
    points = [p for lane in page.series.values() for p in lane]
    if not points:
        return f'<p class="quiet">No change recorded. {escape(_quiet_line(page, {}))}.</p>'
    lanes = {n: s for n, s in page.series.items() if s or n in page.freezes}
    quiet = _quiet_line(page, lanes)
    axis = _axis(points, page.now)
    step, ticks = time_ticks(axis.start, axis.cut, int((axis.linear_right - LEFT) // 96))
    words = _Words(step < MINUTE, axis.now - axis.start > DAY)
    lane_height = TITLE + PLOT + GAP
    height = lane_height * len(lanes) + 64 + (18 if quiet else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'role="group" aria-labelledby="exposure-caption">'
    ]
    for index, (name, lane) in enumerate(lanes.items()):
        top = index * lane_height
        parts += _lane(name, lane, page.freezes.get(name, []), top, _COLORS[index % len(_COLORS)], axis, ticks, words)
    bottom = lane_height * len(lanes)
    parts += _time_axis(axis, step, ticks, bottom)
    parts += _legend(bottom + 46, quiet)
    parts.append("</svg>")
    caption = (
        f"Exposure per environment (0 to 100 %) from {utc(axis.start, seconds=words.seconds)} "
        f"to now ({utc(axis.now, seconds=words.seconds)})"
        + (f", the {span(axis.now - axis.cut)} without a change after the break drawn short" if axis.broken else "")
        + ". Each mark is a change: follow it (or Tab to it) for its row in the history below."
    )
    return f'<figure class="exposure">{"".join(parts)}<p class="caption" id="exposure-caption">{caption}</p></figure>'


def _quiet_line(page: FlagPage, lanes: dict[str, list[Point]]) -> str:
    """The environments without a lane, in one line: ``dev, pre, ops: off throughout``."""
    by_state: dict[str, list[str]] = {}
    for environment, cell in zip(page.environments, page.cells, strict=True):
        if environment.name in lanes:
            continue
        state = "could not be read" if cell.kind == "unknown" else f"{cell.words} throughout"
        by_state.setdefault(state, []).append(environment.name)
    return "; ".join(f"{', '.join(names)}: {state}" for state, names in by_state.items())


def _lane(
    name: str,
    lane: list[Point],
    freezes: list[Freeze],
    top: int,
    color: str,
    axis: _Axis,
    ticks: list[float],
    words: _Words,
) -> list[str]:
    """One environment: its name, its 0 to 100 % grid, its freezes, its steps, labels and marks."""

    def y(share: float) -> float:
        return round(top + TITLE + PLOT * (1 - share / 100), 1)

    parts = [f'<text class="lane" x="{LEFT}" y="{top + 12}">{escape(name)}</text>']
    for share in _GRID:
        stroke = "#b8b8b8" if share in (0, 100) else "#e6e6e6"
        parts.append(f'<line x1="{LEFT}" y1="{y(share)}" x2="{RIGHT}" y2="{y(share)}" stroke="{stroke}"/>')
        if share % 50 == 0:
            parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y(share) + 4}" text-anchor="end">{share}%</text>')
    parts += [f'<line x1="{axis.x(t)}" y1="{y(100)}" x2="{axis.x(t)}" y2="{y(0)}" stroke="#eeeeee"/>' for t in ticks]
    parts += [_freeze_band(freeze, name, y(100), axis) for freeze in freezes]
    if lane:
        parts += _steps(lane, y, color, axis)
        parts += _labels(lane, y, axis)
        parts += [_mark(point, name, axis.x(point.at), y(point.share), color, words) for point in lane]
    return parts


def _steps(lane: list[Point], y: _Share, color: str, axis: _Axis) -> list[str]:
    """The exposure as a step line: from the state before the first change, to the last change's
    state up to now (dashed across the break)."""
    _, before = exposure(lane[0].entry.before)
    path = [f"M{axis.x(axis.start)},{y(before)}"]
    path += [f"H{axis.x(point.at)}V{y(point.share)}" for point in lane]
    path.append(f"H{axis.x(axis.cut)}")
    parts = [f'<path d="{"".join(path)}" fill="none" stroke="{color}" stroke-width="2"/>']
    if axis.broken:
        last = y(lane[-1].share)
        parts.append(
            f'<path d="M{axis.x(axis.cut)},{last}H{RIGHT}" fill="none" stroke="{color}" stroke-width="2" '
            'stroke-dasharray="4 3"/>'
        )
    return parts


def _value(kind: str, share: float) -> str:
    """A step's value as its label says it: ``on``, ``off``, ``25%``, ``some`` (actors or groups only)."""
    return {"on": "on", "off": "off", "some": "some"}.get(kind, f"{share:g}%")


def _labels(lane: list[Point], y: _Share, axis: _Axis) -> list[str]:
    """Each step's value beside it, above the line (below it for the upper half), on the other side
    when the previous label is in the way, and left out when both are (its mark still says it)."""
    ends = {"above": float("-inf"), "below": float("-inf")}  # where the last label of each row ends
    shown = _value(*exposure(lane[0].entry.before))
    parts = []
    for point in lane:
        text = _value(point.kind, point.share)
        if text == shown:
            continue
        shown = text
        width = 6.5 * len(text) + 4
        x = min(axis.x(point.at) + 6, WIDTH - 2 - width)
        rows = ("below", "above") if point.share >= 50 else ("above", "below")
        row = next((r for r in rows if x > ends[r] + 2), None)
        if row is None:
            continue
        ends[row] = x + width
        parts.append(
            f'<text class="value" x="{round(x, 1)}" y="{y(point.share) + (14 if row == "below" else -5)}">'
            f"{escape(text)}</text>"
        )
    return parts


def _said(point: Point, environment: str, words: _Words) -> str:
    """The change in words: ``gprd: off → 25% of actors by alice at 12:04 UTC``."""
    entry = point.entry
    return (
        f"{environment}: {_cut(entry.before.describe())} → {_cut(entry.after.describe())} by {entry.who}"
        + (f", approved by {entry.approved_by}" if entry.approved_by else "")
        + (f", rollout {point.step}" if point.step else "")
        + f" at {words.when(point.at)}"
    )


def _cut(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _mark(point: Point, environment: str, cx: float, cy: float, color: str, words: _Words) -> str:
    """A change's mark (a diamond for a rollout's step), a link to its history row named in words;
    its tooltip adds the checks."""
    entry = point.entry
    said = escape(_said(point, environment, words))
    tip = said + (escape(f" · {checks_text(entry)}") if entry.checks else "")
    shape = (
        f'<path class="mark" d="M{cx},{round(cy - 6, 1)}l6,6l-6,6l-6,-6z" fill="{color}"/>'
        if point.step
        else f'<circle class="mark" cx="{cx}" cy="{cy}" r="4.5" fill="{color}"/>'
    )
    return (
        f'<a class="change" href="#{entry_anchor(entry)}" aria-label="{said}" data-environment="{escape(environment)}" '
        f'data-entry="{escape(entry.entry_id)}" data-share="{point.share:g}" data-step="{escape(point.step)}">'
        f'<title>{tip}</title><circle class="ring" cx="{cx}" cy="{cy}" r="9"/>{shape}</a>'
    )


def _freeze_band(freeze: Freeze, environment: str, top: float, axis: _Axis) -> str:
    """A freeze in force, shaded from when it began (or the chart's start) to when it ends (or now)."""
    left = axis.x(freeze.since)
    right = axis.x(freeze.until if freeze.until is not None else axis.now)
    return (
        f'<g class="freeze"><title>{escape(describe_freeze(freeze, environment))}</title>'
        f'<rect x="{left}" y="{top}" width="{max(round(right - left, 1), 3)}" height="{PLOT}" fill="#dde7f7"/>'
        f'<text class="frozen" x="{min(left + 3, WIDTH - 42)}" y="{top + 11}">frozen</text></g>'
    )


def _time_axis(axis: _Axis, step: int, ticks: list[float], bottom: int) -> list[str]:
    """The time axis under the lanes: a tick per step, labelled where the label fits (with the date
    where the day changes); after a break, "now" and how much later it is."""
    y = bottom + 2
    parts = [f'<line x1="{LEFT}" y1="{y}" x2="{axis.linear_right}" y2="{y}" stroke="#767676"/>']
    previous: float | None = None
    right_edge = float("-inf")
    for at in ticks:
        x = axis.x(at)
        parts.append(f'<line x1="{x}" y1="{y}" x2="{x}" y2="{y + 5}" stroke="#767676"/>')
        label = tick_label(at, step, previous)
        half = 3.2 * len(label)
        if x - half > right_edge + 8 and x + half <= WIDTH - 2:
            parts.append(f'<text class="tick" x="{x}" y="{y + 18}" text-anchor="middle">{escape(label)}</text>')
            right_edge, previous = x + half, at
    if axis.broken:
        gap = axis.linear_right
        parts.append(
            f'<path d="M{gap - 2},{y + 6}l5,-12M{gap + 4},{y + 6}l5,-12" stroke="#767676" fill="none"/>'
            f'<line x1="{gap + 10}" y1="{y}" x2="{RIGHT}" y2="{y}" stroke="#767676" stroke-dasharray="3 3"/>'
            f'<text class="tick" x="{RIGHT}" y="{y + 32}" text-anchor="end">'
            f"now, {escape(span(axis.now - axis.cut))} later</text>"
        )
    else:
        parts.append(f'<text class="tick" x="{RIGHT}" y="{y + 32}" text-anchor="end">now</text>')
    return parts


def _legend(y: int, quiet: str) -> list[str]:
    """What the marks mean, and the environments that never changed."""
    parts = [
        f'<circle cx="{LEFT + 4}" cy="{y - 4}" r="4.5" fill="#57606a"/>'
        f'<text x="{LEFT + 14}" y="{y}">a change</text>'
        f'<path d="M{LEFT + 104},{y - 10}l6,6l-6,6l-6,-6z" fill="#57606a"/>'
        f'<text x="{LEFT + 114}" y="{y}">a rollout step</text>'
        f'<rect x="{LEFT + 214}" y="{y - 10}" width="14" height="12" fill="#dde7f7"/>'
        f'<text x="{LEFT + 234}" y="{y}">a freeze in force</text>'
    ]
    if quiet:
        parts.append(f'<text class="quiet" x="{LEFT}" y="{y + 20}">{escape(quiet)}</text>')
    return parts
