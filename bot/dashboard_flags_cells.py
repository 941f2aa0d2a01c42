"""A row of the flags page as HTML: the flag's name with its links out (merge request, rollout
issue, feature issue) as small icons, one cell per environment — its state, a bar, and a badge
for what is going on there — then its last change, type, group and milestone.

A badge is an icon and a few words; its title and accessible name say it whole. An environment
that cannot be read says "unknown" and when it was last read, never a state that looks current.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from urllib.parse import urlencode

from bot.dashboard_html import flag_url
from handlers.core.flag_activity import Activity
from handlers.core.timefmt import ago, utc
from handlers.dashboard.cells import Cell, Row
from handlers.dashboard.query import FlagsQuery
from handlers.dashboard.views import FlagsPage

__all__ = ["badge", "flag_row", "query_url", "state_cell"]

ICONS = {"rollout": "▶", "paused": "‖", "approval": "⚖", "freeze": "❄", "kill": "✖"}
#: The links out of a flag's definition, each as an icon: (field, icon, what it is).
REFS = (
    ("introduced_by_url", "⎇", "Merge request that introduced"),
    ("rollout_issue_url", "⚐", "Rollout issue of"),
    ("feature_issue_url", "✎", "Feature issue of"),
)


def query_url(query: FlagsQuery) -> str:
    """The flags page's URL for ``query``, escaped for an attribute."""
    params = query.params()
    return escape("/ui/?" + urlencode(params) if params else "/ui/")


def badge(activity: Activity) -> str:
    says = escape(activity.says)
    words = f"{ICONS[activity.kind]} {escape(activity.label)}".rstrip()
    return f'<span class="badge b-{activity.kind}" role="img" title="{says}" aria-label="{says}">{words}</span>'


def _badges(found: Sequence[Activity]) -> str:
    return f'<span class="badges">{"".join(badge(a) for a in found)}</span>' if found else ""


@lru_cache(maxsize=8192)
def state_cell(cell: Cell) -> str:
    """A cell's state: words and a bar; unknown with when its environment was last read."""
    if cell.kind == "unknown":
        read = f"last read {utc(cell.read_at, seconds=True)}" if cell.read_at is not None else "never read"
        return f'unknown<small class="read">{escape(read)}</small>'
    bar = f'<i style="width:{cell.share:g}%"></i>' if cell.kind in ("percent", "on") else ""
    return f"{escape(cell.words)}{bar}"


def _refs(row: Row) -> str:
    definition = row.definition
    if definition is None:
        return ""
    links = []
    for field, icon, what in REFS:
        url = getattr(definition, field)
        if url and url.startswith(("https://", "http://")):
            said = escape(f"{what} {row.name}")
            links.append(f'<a class="ref" href="{escape(url)}" title="{said}" aria-label="{said}">{icon}</a>')
    return f'<span class="refs">{"".join(links)}</span>' if links else ""


def _changed(at: float | None, now: float) -> str:
    if at is None:
        return '<td class="never" title="No change through chatops recorded">—</td>'
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
    return f'<td><time datetime="{stamp}" title="{utc(at)}">{escape(ago(at, now))}</time></td>'


def _about(row: Row, query: FlagsQuery) -> str:
    """Type, group and milestone; the type and the group are links to the flags of that type or group."""
    definition = row.definition
    if definition is None:
        return "<td></td><td></td><td></td>"
    kind, group = definition.type, definition.group
    by_type = query_url(replace(query, type=kind, page=1))
    by_group = query_url(replace(query, q=group, page=1))
    return (
        f'<td><a href="{by_type}">{escape(kind)}</a></td>'
        + (f'<td><a href="{by_group}">{escape(group)}</a></td>' if group else "<td></td>")
        + f"<td>{escape(definition.milestone or '')}</td>"
    )


def flag_row(row: Row, options: Sequence[str], page: FlagsPage) -> str:
    activity = page.activity
    cells = "".join(
        f'<td class="{c.kind}">{state_cell(c)}{_badges(activity.get((row.name, o), ()))}</td>'
        for c, o in zip(row.cells, options, strict=True)
    )
    return (
        f'<tr><td><a href="{flag_url(row.name)}">{escape(row.name)}</a>{_refs(row)}</td>{cells}'
        + _changed(page.changed.get(row.name), page.now)
        + _about(row, page.query)
        + (f"<td>{escape(row.cleanup)}</td>" if row.cleanup else "")
        + "</tr>"
    )
