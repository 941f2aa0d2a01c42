"""The dashboard's pages as HTML: server-rendered, no script at all, no asset from elsewhere; the
timeline is an SVG drawn here. Every text from Redis, definitions or people goes through
``escape`` (flag names, reasons, Slack names, commands)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from html import escape
from urllib.parse import quote

from bot.dashboard_layout import page
from flags import AuditEntry
from handlers.approvals.card import approvers_line
from handlers.approvals.store import ApprovalRequest
from handlers.config.model import Cleanup
from handlers.core.reply import Code, Line, Link, Mention, Reply, Section, Strong, line
from handlers.core.timefmt import utc
from handlers.dashboard.cells import Cell, Row
from handlers.dashboard.signin import Visitor
from handlers.dashboard.views import FlagPage, FlagsPage, Point

__all__ = [
    "STYLE",
    "RowHtml",
    "approvals_reply",
    "board_page",
    "flag_html",
    "flags_html",
    "table_rows",
    "timeline_svg",
]

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#24292f;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto;opacity:.8}
main{padding:12px 16px}h1{font-size:20px;margin:8px 0}h2{font-size:16px;margin:16px 0 6px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
th{background:#f0f0f0;position:sticky;top:0}
.off{color:#636363}.some{background:#fff6d6}.percent{background:#e6f0ff}.on{background:#dcf5e3}.unknown{background:#fde2e1}
i{display:block;height:4px;background:#2f6fdf;margin-top:2px}.on i{background:#1a7f37}
form{margin:8px 0;display:flex;gap:8px;flex-wrap:wrap}.warn{background:#fde2e1;padding:6px 10px}
code{background:#f0f0f0;padding:0 3px}svg text{font:11px system-ui,sans-serif}dl{display:grid;
grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}
.metric-chart{margin:8px 0 20px}.metric-chart figcaption{font-weight:600;margin-bottom:4px}
.metric-chart svg{display:block;width:100%;max-width:1000px;height:auto;background:#fff}
.metric-chart svg *{stroke-linejoin:round;stroke-linecap:butt}
"""


def _page(title: str, body: str, visitor: Visitor | None) -> str:
    return page(title, body, visitor)


def _flag_url(name: str) -> str:
    return "/ui/flags/" + quote(name, safe="")


@lru_cache(maxsize=8192)
def _cell(cell: Cell) -> str:
    bar = f'<i style="width:{cell.share:g}%"></i>' if cell.kind in ("percent", "on") else ""
    return f'<td class="{cell.kind}">{escape(cell.words)}{bar}</td>'


class RowHtml:
    """Each flag's table row as HTML, kept while its row is the same object (rows are kept and
    replaced one by one when a state changes), so a page joins strings instead of building them."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Row, str]] = {}

    def of(self, row: Row) -> str:
        kept = self._kept.get(row.name)
        if kept is not None and kept[0] is row:
            return kept[1]
        html = _row_html(row)
        if len(self._kept) > 200_000:
            self._kept.clear()
        self._kept[row.name] = (row, html)
        return html


def _row_html(row: Row) -> str:
    definition = row.definition
    return (
        f'<tr><td><a href="{_flag_url(row.name)}">{escape(row.name)}</a></td>'
        + "".join(_cell(c) for c in row.cells)
        + (
            f"<td>{escape(definition.type)}</td><td>{escape(definition.group)}</td>"
            f"<td>{escape(definition.milestone or '')}</td>"
            if definition is not None
            else "<td></td><td></td><td></td>"
        )
        + (f"<td>{escape(row.cleanup)}</td>" if row.cleanup else "")
        + "</tr>"
    )


def table_rows(rows: Sequence[Row], kept: RowHtml | None = None) -> str:
    """The flags table's rows."""
    return "".join(kept.of(r) if kept is not None and not r.cleanup else _row_html(r) for r in rows)


def flags_html(
    page: FlagsPage, filters: dict[str, str], visitor: Visitor, cleanup: Cleanup, rendered_rows: str | None = None
) -> str:
    heads = "".join(f'<th scope="col">{escape(e.name)}</th>' for e in page.environments)
    cleanup_column = bool(filters.get("cleanup"))
    rows = rendered_rows if rendered_rows is not None else table_rows(page.rows)
    fields = "".join(
        f'<label>{label} <input name="{key}" value="{escape(filters.get(key, ""))}"></label>'
        for key, label in (("name", "Name"), ("group", "Group"), ("type", "Type"), ("milestone", "Milestone"))
    )
    checked = " checked" if filters.get("cleanup") else ""
    stale = (
        f'<label><input type="checkbox" name="cleanup" value="1"{checked}> cleanup: fully on or off everywhere '
        f"for {cleanup.days}+ days, or a milestone {cleanup.milestones}+ old (in chat: "
        "<code>feature list --stale</code>)</label>"
    )
    title = f"{len(page.rows)} of {page.total} flags"
    body = (
        f"<h1>{title}</h1>{_unreachable(page.unreachable)}"
        + (f'<p class="warn">{escape(page.note)}</p>' if page.note else "")
        + f'<form method="get">{fields}{stale}<button>Filter</button></form>'
        f"<table><caption>Each flag's state on each environment</caption>"
        f'<thead><tr><th scope="col">Flag</th>{heads}<th scope="col">Type</th><th scope="col">Group</th>'
        '<th scope="col">Milestone</th>'
        + ('<th scope="col">Why clean it up</th>' if cleanup_column else "")
        + "</tr></thead>"
        f"<tbody>{rows}</tbody></table>{_source(page)}"
    )
    return _page("Flags", body, visitor)


def _source(page: FlagsPage) -> str:
    if page.source == "snapshot":
        return (
            '<p class="source">States from the live snapshot: the bot\'s own changes show at once, changes '
            "made in Redis by other means within a minute.</p>"
        )
    return '<p class="source">States read from Redis just now.</p>'


def _unreachable(unreachable: dict[str, str]) -> str:
    return "".join(
        f'<p class="warn">Could not read {escape(name)}: {escape(why)}</p>' for name, why in unreachable.items()
    )


def flag_html(page: FlagPage, visitor: Visitor, figures: Sequence[str] = ()) -> str:
    """The flag's page; ``figures``: its recent watches' metric charts as HTML (``chart_figure``)."""
    definition = page.definition
    if definition is not None:
        items = [
            ("Type", escape(definition.type)),
            ("Group", escape(definition.group)),
            ("Milestone", escape(definition.milestone or "")),
            ("Default", "enabled" if definition.default_enabled else "disabled"),
            ("Rollout issue", _link(definition.rollout_issue_url)),
            ("Introduced by", _link(definition.introduced_by_url)),
        ]
        about = "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"
    else:
        about = "<p>No definition file names this flag.</p>"
    states = "".join(
        f'<tr><th scope="row">{escape(e.name)}</th>{_cell(c)}</tr>'
        for e, c in zip(page.environments, page.cells, strict=True)
    )
    history = "".join(_history_row(entry) for entry in page.history)
    body = (
        f"<h1>{escape(page.name)}</h1>{_unreachable(page.unreachable)}{about}"
        f"<h2>State</h2><table><caption>On each environment</caption>{states}</table>"
        f"<h2>Exposure over time</h2>{timeline_svg(page.series, page.now)}"
        + (f"<h2>Metric checks after its recent watched changes</h2>{''.join(figures)}" if figures else "")
        + f"<h2>History ({len(page.history)} changes)</h2><table><caption>Every change, newest first</caption>"
        "<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in _HISTORY_HEADS) + "</tr></thead>"
        f"<tbody>{history}</tbody></table>"
    )
    return _page(page.name, body, visitor)


_HISTORY_HEADS = ("When", "Where", "Who", "Approved by", "What", "Command", "Checks")


def _link(url: str | None) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return escape(url or "")
    return f'<a href="{escape(url)}">{escape(url)}</a>'


def _checks(entry: AuditEntry) -> str:
    return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(entry.checks.items()))


def _history_row(entry: AuditEntry) -> str:
    approver = f"@{entry.approved_by}" if entry.approved_by else ""
    cells = (
        utc(entry.at.timestamp()),
        entry.environment,
        entry.who,
        approver,
        entry.description,
        entry.command,
        _checks(entry),
    )
    return "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


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
    tip = f"{utc(point.at)} · {who} · {entry.description}" + (f" · {_checks(entry)}" if entry.checks else "")
    return (
        f'<circle class="change" cx="{cx}" cy="{cy}" r="4" fill="{color}" data-environment="{escape(environment)}" '
        f'data-entry="{escape(entry.entry_id)}" data-at="{point.at:.3f}" data-share="{point.share:g}" '
        f'data-kind="{point.kind}"><title>{escape(tip)}</title></circle>'
    )


def _line_html(segments: Line) -> str:
    out = []
    for segment in segments:
        if isinstance(segment, str):
            out.append(escape(segment))
        elif isinstance(segment, Code):
            out.append(f"<code>{escape(segment.text)}</code>")
        elif isinstance(segment, Strong):
            out.append(f"<b>{escape(segment.text)}</b>")
        elif isinstance(segment, Mention):
            out.append(f"@{escape(segment.name)}")
        elif isinstance(segment, Link):
            out.append(_labelled_link(segment))
    return "".join(out)


def _labelled_link(link: Link) -> str:
    """A chat answer's link (a pipeline, a compare): its label, linked when the URL is the web's."""
    if not link.url.startswith(("https://", "http://")):
        return escape(link.label)
    return f'<a href="{escape(link.url)}">{escape(link.label)}</a>'


def reply_html(reply: Reply) -> str:
    """A chat answer as HTML (the deployments and activity pages show what the commands answer)."""
    out = []
    for section in reply.sections:
        if section.title:
            out.append(f"<h2>{_line_html(section.title)}</h2>")
        out += [f"<div>{_line_html(lines)}</div>" for lines in section.lines]
    return "".join(out)


def board_page(title: str, parts: Iterable[tuple[str, Reply]], visitor: Visitor) -> str:
    body = f"<h1>{escape(title)}</h1>" + "".join(
        f"<section><h2>{escape(heading)}</h2>{reply_html(reply)}</section>" for heading, reply in parts
    )
    return _page(title, body, visitor)


def approvals_reply(pending: Sequence[ApprovalRequest]) -> Reply:
    """Pending approvals, read-only, as a reply (the card's lines without its buttons)."""
    if not pending:
        return Reply(True, "", (Section((line("No approval is pending."),)),))
    lines = tuple(
        line(
            Strong(a.id),
            f" · {a.flag} · ",
            Code(f"/chatops {a.text}"),
            f" · by {a.requester.user_name} · who can approve: ",
            *approvers_line(a),
            f" · expires in {max(0, int(a.expires_at - time.time()) // 60)} min",
        )
        for a in pending
    )
    return Reply(True, "", (Section(lines),))
