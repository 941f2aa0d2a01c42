"""The flags page as HTML: one page of rows (100 by default) with a count, page links, sortable
headers and a GET form of filters; each cell shows its state and, as badges, what is going on
there (a rollout, an approval waiting, a freeze, a kill). Every link keeps the current filters:
each view of the page is a URL, and nothing needs script."""

from __future__ import annotations

from dataclasses import replace
from html import escape

from bot.dashboard_flags_cells import flag_row, query_url
from bot.dashboard_html import unreachable_html
from bot.dashboard_layout import page as layout
from flags.definitions import KNOWN_TYPES
from handlers.config.model import Cleanup
from handlers.dashboard.query import SINCE, STATES, FlagsQuery, Order, Sort
from handlers.dashboard.signin import Visitor
from handlers.dashboard.views import FlagsPage

__all__ = ["flags_html"]

_SINCE_WORDS = {"": "any time", "1d": "in the last day", "7d": "in the last 7 days", "30d": "in the last 30 days"}
_SORT_WORDS = {"name": "name", "changed": "last change", "group": "group"}


def flags_html(page: FlagsPage, visitor: Visitor, cleanup: Cleanup) -> str:
    body = (
        f"<h1>Flags</h1>{_count(page)}{unreachable_html(page.unreachable)}"
        + (f'<p class="warn">{escape(page.note)}</p>' if page.note else "")
        + "".join(f'<p class="warn">{escape(why)}</p>' for why in page.activity_unread)
        + _form(page, cleanup)
        + _pager(page)
        + _table(page)
        + _pager(page)
        + _source(page)
    )
    return layout("Flags", body, visitor)


def _count(page: FlagsPage) -> str:
    shown = f"{page.first:,}\u2013{page.first + len(page.rows) - 1:,}"  # an en dash
    if not page.matched:
        words = f"No flag matches the filters ({page.total:,} flags in all)."
    elif page.query.filtered:
        words = f"Showing {shown} of {page.matched:,} flags matching the filters ({page.total:,} in all)."
    else:
        words = f"Showing {shown} of {page.total:,} flags."
    pages = f" Page {page.page:,} of {page.pages:,}." if page.pages > 1 else ""
    return f'<p class="count">{words}{pages}</p>'


def _options(name: str, choices: list[tuple[str, str]], chosen: str) -> str:
    return (
        f'<select name="{name}">'
        + "".join(
            f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{escape(words)}</option>'
            for value, words in choices
        )
        + "</select>"
    )


def _form(page: FlagsPage, cleanup: Cleanup) -> str:
    query = page.query
    types = sorted(KNOWN_TYPES | ({query.type} if query.type else set()))
    chosen = dict(query.states)
    states = "".join(
        f"<label>{escape(e.name)} "
        + _options(
            "state", [("", "any"), *((f"{e.name}:{s}", s) for s in STATES)], f"{e.name}:{chosen.get(e.name, '')}"
        )
        + "</label>"
        for e in page.environments
    )
    keep = [(k, v) for k, v in query.params() if k in ("sort", "order")]  # filtering keeps the sort
    checked = " checked" if query.cleanup else ""
    return (
        '<form method="get" action="/ui/" class="filters">'
        f'<label>Search <input type="search" name="q" value="{escape(query.q)}" '
        'placeholder="name, group or milestone"></label>'
        f"<label>Type {_options('type', [('', 'any'), *((t, t) for t in types)], query.type)}</label>"
        f"<label>Changed {_options('since', list(_SINCE_WORDS.items()), query.since)}</label>"
        f"<fieldset><legend>State on</legend>{states}</fieldset>"
        f'<label><input type="checkbox" name="cleanup" value="1"{checked}> cleanup: fully on or off everywhere '
        f"for {cleanup.days}+ days, or a milestone {cleanup.milestones}+ old (in chat: "
        "<code>feature list --stale</code>)</label>"
        + "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in keep)
        + '<button>Filter</button><a href="/ui/">Clear</a></form>'
        + _since_links(query)
    )


def _since_links(query: FlagsQuery) -> str:
    """``Changed: any time · in the last day · …`` as links (the current one not a link)."""
    links = [
        f"<b>{escape(words)}</b>"
        if since == query.since
        else f'<a href="{query_url(replace(query, since=since, page=1))}">{escape(words)}</a>'
        for since, words in _SINCE_WORDS.items()
        if since == "" or since in SINCE
    ]
    return '<p class="quick">Changed: ' + " · ".join(links) + "</p>"


def _pager(page: FlagsPage) -> str:
    if page.pages <= 1:
        return ""
    query, current, last = page.query, page.page, page.pages

    def to(number: int, words: str, rel: str = "") -> str:
        if number == current or not 1 <= number <= last:
            return f'<span class="off">{words}</span>'
        rel_attr = f' rel="{rel}"' if rel else ""
        return f'<a href="{query_url(replace(query, page=number))}"{rel_attr}>{words}</a>'

    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    numbers: list[str] = []
    for before, number in zip([0, *shown], shown, strict=False):
        if number - before > 1:
            numbers.append('<span class="gap">…</span>')
        numbers.append(
            f'<span aria-current="page">{number:,}</span>' if number == current else to(number, f"{number:,}")
        )
    return (
        '<nav class="pager" aria-label="Pages">'
        + to(1, "« First")
        + to(current - 1, "← Previous", "prev")
        + "".join(numbers)
        + to(current + 1, "Next →", "next")
        + to(last, "Last »")
        + "</nav>"
    )


def _sort_head(query: FlagsQuery, sort: Sort, words: str) -> str:
    """A sortable column's header: a link to sort by it (the other way round when it is the sort)."""
    if query.sort == sort:
        order: Order = "asc" if query.descending else "desc"
        arrow, said = ("▼", "descending") if query.descending else ("▲", "ascending")
        link = query_url(replace(query, order=order, page=1))
        return f'<th scope="col" aria-sort="{said}"><a href="{link}">{words} {arrow}</a></th>'
    return f'<th scope="col"><a href="{query_url(replace(query, sort=sort, order="", page=1))}">{words}</a></th>'


def _table(page: FlagsPage) -> str:
    query = page.query
    heads = "".join(f'<th scope="col">{escape(e.name)}</th>' for e in page.environments)
    options = [e.option for e in page.environments]
    rows = "".join(flag_row(row, options, page) for row in page.rows)
    direction = "descending" if query.descending else "ascending"
    caption = f"Flags by {_SORT_WORDS[query.sort]}, {direction}"
    return (
        f'<table class="flags"><caption>{escape(caption)}</caption><thead><tr>'
        f"{_sort_head(query, 'name', 'Flag')}{heads}"
        f"{_sort_head(query, 'changed', 'Last change')}"
        f'<th scope="col">Type</th>{_sort_head(query, "group", "Group")}<th scope="col">Milestone</th>'
        + ('<th scope="col">Why clean it up</th>' if query.cleanup else "")
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _source(page: FlagsPage) -> str:
    if page.source == "snapshot":
        return (
            '<p class="source">States from the live snapshot: the bot\'s own changes show at once, changes '
            "made in Redis by other means within a minute.</p>"
        )
    return '<p class="source">States read from Redis just now.</p>'
