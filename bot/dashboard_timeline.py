"""The flag page's exposure chart: an SVG drawn here from the flag's audit entries, one lane per
environment (no script, no image request: the page's Content-Security-Policy allows neither)."""

from __future__ import annotations

from html import escape

from flags import AuditEntry
from handlers.core.timefmt import utc
from handlers.dashboard.views import Point

__all__ = ["checks_text", "timeline_svg"]


def checks_text(entry: AuditEntry) -> str:
    """An entry's production checks in one line (the history table and the chart's marks)."""
    return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(entry.checks.items()))


_COLORS = ("#2f6fdf", "#1a7f37", "#bf3989", "#9a6700", "#8250df", "#cf222e", "#0969da", "#57606a")


def timeline_svg(series: dict[str, list[Point]], now: float) -> str:
    """One lane per environment: exposure (0 to 100%) as a step line over time, a dot per change
    carrying the audit entry (its id, when, share) and, as its tooltip, who, what and the checks."""
    points = [p for lane in series.values() for p in lane]
    if not points:
        return "<p>No changes recorded.</p>"
    start = min(p.at for p in points)
    end = max(now, start + 60)
    width, left, lane_height = 760, 90, 56
    height = lane_height * len(series) + 24

    def x(at: float) -> float:
        return round(left + (at - start) / (end - start) * (width - left - 10), 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="exposure over time per environment">'
    ]
    for index, (name, lane) in enumerate(series.items()):
        top, color = index * lane_height + 8, _COLORS[index % len(_COLORS)]

        def y(share: float, top: int = top) -> float:
            return round(top + (lane_height - 16) * (1 - share / 100), 1)

        parts.append(f'<text x="4" y="{top + 20}">{escape(name)}</text>')
        parts.append(
            f'<line x1="{left}" y1="{y(0)}" x2="{width - 10}" y2="{y(0)}" stroke="#ccc"/>'
            f'<line x1="{left}" y1="{y(100)}" x2="{width - 10}" y2="{y(100)}" stroke="#eee"/>'
        )
        if not lane:
            continue
        path = [f"M{left},{y(0)}"]
        path += [f"H{x(point.at)}V{y(point.share)}" for point in lane]
        path.append(f"H{x(end)}")
        parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts += [_dot(point, x(point.at), y(point.share), name, color) for point in lane]
    axis = lane_height * len(series) + 18
    parts.append(f'<text x="{left}" y="{axis}">{escape(utc(start))}</text>')
    parts.append(f'<text x="{width - 10}" y="{axis}" text-anchor="end">{escape(utc(end))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _dot(point: Point, cx: float, cy: float, environment: str, color: str) -> str:
    entry = point.entry
    who = entry.who + (f", approved by @{entry.approved_by}" if entry.approved_by else "")
    tip = f"{utc(point.at)} · {who} · {entry.description}" + (f" · {checks_text(entry)}" if entry.checks else "")
    return (
        f'<circle class="change" cx="{cx}" cy="{cy}" r="4" fill="{color}" data-environment="{escape(environment)}" '
        f'data-entry="{escape(entry.entry_id)}" data-at="{point.at:.3f}" data-share="{point.share:g}" '
        f'data-kind="{point.kind}"><title>{escape(tip)}</title></circle>'
    )
