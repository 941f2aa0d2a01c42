"""The dashboard's pages as HTML: server-rendered, no script at all, no asset from elsewhere (the
exposure chart is drawn in ``bot.dashboard_timeline``). Every text from Redis, definitions or people
goes through ``escape`` (flag names, reasons, Slack names, commands)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from html import escape
from urllib.parse import quote

from bot.dashboard_layout import page
from bot.dashboard_links import outbound_link
from bot.dashboard_timeline import checks_text, entry_anchor, timeline_svg
from flags import AuditEntry
from handlers.approvals.card import approvers_line
from handlers.approvals.store import ApprovalRequest
from handlers.core.reply import Code, Line, Link, Mention, Reply, Section, Strong, line
from handlers.core.timefmt import utc
from handlers.dashboard.cells import Cell
from handlers.dashboard.signin import Visitor
from handlers.dashboard.views import FlagPage

__all__ = [
    "STYLE",
    "approvals_reply",
    "board_page",
    "flag_html",
    "flag_url",
    "unreachable_html",
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
.exposure{margin:8px 0 16px}.exposure svg{display:block;max-width:100%;height:auto;background:#fff}
.exposure .lane{font-size:12px;font-weight:600}.exposure .tick,.exposure .caption{fill:#595959;color:#595959}
.exposure .value{fill:#1d1d1f;paint-order:stroke;stroke:#fff;stroke-width:3px}.exposure .frozen{fill:#1f3f77}
.exposure .mark{stroke:#fff;stroke-width:1.5}.exposure .ring{fill:transparent;stroke:none}
.exposure a:focus{outline:none}.exposure a:focus .ring,.exposure a:hover .ring{stroke:#1d1d1f;stroke-width:2.5}
.exposure a:focus .mark{stroke:#1d1d1f}.exposure .quiet{font-size:12px}
tr[id]{scroll-margin-top:48px}tr:target td{background:#fff3b0}
.count{margin:4px 0}.filters fieldset{border:0;padding:0;margin:0;display:flex;gap:8px;flex-wrap:wrap}
.filters legend{float:left;margin-right:4px}.quick{margin:4px 0}
.pager{display:flex;gap:6px;flex-wrap:wrap;margin:8px 0;align-items:center}.pager a,.pager span{padding:2px 6px}
.pager [aria-current]{font-weight:700;background:#24292f;color:#fff;border-radius:3px}.pager .off{color:#57606a}
th a{color:inherit}table.flags td{vertical-align:top}table.flags time{white-space:nowrap}
table.flags :is(td.off,td.some,td.percent,td.on,td.unknown){min-width:5.5em}
table.flags td:first-child{max-width:22em;overflow-wrap:anywhere}
.refs{margin-left:6px;white-space:nowrap}.refs a{text-decoration:none;margin-right:4px}
.badge{display:inline-block;margin:2px 2px 0 0;padding:0 4px;border-radius:3px;font-size:12px;white-space:nowrap;
border:1px solid #d0d7de;background:#fff}.b-rollout{border-color:#0969da;color:#0550ae}
.b-paused{border-color:#9a6700;color:#7d4e00}.b-approval{border-color:#8250df;color:#6639ba}
.b-freeze{border-color:#0969da;background:#ddf4ff;color:#0a3069}.b-kill{border-color:#cf222e;background:#ffebe9;color:#a40e26}
.badges{display:block}small.read{display:block;color:#57606a;font-size:11px}td.never{color:#57606a}
"""


def _page(title: str, body: str, visitor: Visitor | None) -> str:
    return page(title, body, visitor)


def _flag_url(name: str) -> str:
    return "/ui/flags/" + quote(name, safe="")


@lru_cache(maxsize=8192)
def _cell(cell: Cell) -> str:
    bar = f'<i style="width:{cell.share:g}%"></i>' if cell.kind in ("percent", "on") else ""
    return f'<td class="{cell.kind}">{escape(cell.words)}{bar}</td>'


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
            ("Merge request", outbound_link(definition.introduced_by_url)),
            ("Rollout issue", outbound_link(definition.rollout_issue_url)),
        ]
        if definition.feature_issue_url:
            items.append(("Feature issue", outbound_link(definition.feature_issue_url)))
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
        f"<h2>Exposure over time</h2>{timeline_svg(page)}"
        + (f"<h2>Metric checks after its recent watched changes</h2>{''.join(figures)}" if figures else "")
        + f"<h2>History ({len(page.history)} changes)</h2><table><caption>Every change, newest first</caption>"
        "<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in _HISTORY_HEADS) + "</tr></thead>"
        f"<tbody>{history}</tbody></table>"
    )
    return _page(page.name, body, visitor)


_HISTORY_HEADS = ("When", "Where", "Who", "Approved by", "What", "Command", "Checks")


def _history_row(entry: AuditEntry) -> str:
    approver = f"@{entry.approved_by}" if entry.approved_by else ""
    cells = (
        utc(entry.at.timestamp(), seconds=True),  # changes a chart's marks tell apart by seconds
        entry.environment,
        entry.who,
        approver,
        entry.description,
        entry.command,
        checks_text(entry),
    )
    return f'<tr id="{entry_anchor(entry)}">' + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


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
            out.append(outbound_link(segment.url, segment.label))
    return "".join(out)


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


def approvals_reply(pending: Sequence[ApprovalRequest], cards: Mapping[str, str] | None = None) -> Reply:
    """Pending approvals, read-only, as a reply (the card's lines without its buttons); ``cards``:
    the permalinks of their cards in Slack, by request id."""
    cards = cards or {}
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
            *((" · ", Link(cards[a.id], "its card in Slack")) if a.id in cards else ()),
        )
        for a in pending
    )
    return Reply(True, "", (Section(lines),))


#: What the flags page (bot/dashboard_flags_html.py) shares of this module's pages.
flag_url, unreachable_html = _flag_url, _unreachable
