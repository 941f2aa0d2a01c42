"""Which rows the flags page shows, in what order, and which page of them: the search, the
filters by type, by state per environment and by last change, the three sorts and the paging."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from handlers.dashboard.cells import Kind, Row
from handlers.dashboard.query import PER_PAGE, SINCE, FlagsQuery

__all__ = ["Paged", "matching", "ordered", "state_of"]

Test = Callable[[Row], bool]


def state_of(kind: Kind) -> str:
    """A cell's kind as the state filter names it: on, off, partly (a share, actors or groups) or unknown."""
    return "partly" if kind in ("percent", "some") else kind


def matching(
    rows: Sequence[Row], query: FlagsQuery, environments: Sequence[str], changed: Mapping[str, float], now: float
) -> Sequence[Row]:
    """The rows every filter of ``query`` lets through (``rows`` itself when none is set);
    ``environments``: the names of the cells' environments, in order."""
    tests: list[Test] = []
    if query.q:
        needle = query.q.lower()
        tests.append(lambda r: needle in r.name.lower() or (r.definition is not None and needle in _about(r)))
    if query.type:
        tests.append(lambda r: r.definition is not None and r.definition.type == query.type)
    wanted: dict[int, set[str]] = {}
    for where, state in query.states:  # several states of one environment: either; of several: all
        wanted.setdefault(environments.index(where), set()).add(state)
    if wanted:
        tests.append(lambda r: all(state_of(r.cells[i].kind) in states for i, states in wanted.items()))
    if query.since:
        cutoff = now - SINCE[query.since]
        tests.append(lambda r: changed.get(r.name, 0.0) >= cutoff)
    if not tests:
        return rows
    return [r for r in rows if all(test(r) for test in tests)]


def _about(row: Row) -> str:
    definition = row.definition
    assert definition is not None
    return f"{definition.group}\n{definition.milestone or ''}".lower()


def ordered(rows: Sequence[Row], query: FlagsQuery, changed: Mapping[str, float]) -> Sequence[Row]:
    """``rows`` (in name order) sorted as ``query`` asks; flags with no group or no recorded change
    come last either way, in name order."""
    descending = query.descending
    if query.sort == "name":
        return rows[::-1] if descending else rows
    if query.sort == "group":
        grouped = [r for r in rows if r.definition is not None and r.definition.group]
        rest = [r for r in rows if r.definition is None or not r.definition.group]
        grouped.sort(key=lambda r: r.definition.group.lower() if r.definition is not None else "", reverse=descending)
        return grouped + rest  # stable: within a group, name order
    timed = [r for r in rows if r.name in changed]
    timed.sort(key=lambda r: changed[r.name], reverse=descending)  # stable: ties keep name order
    return timed + [r for r in rows if r.name not in changed]


class Paged:
    """One page of rows: which page it is, of how many, and where its first row is (1-based)."""

    def __init__(self, rows: Sequence[Row], page: int, per_page: int = PER_PAGE) -> None:
        self.matched = len(rows)
        self.pages = max(1, -(-self.matched // per_page))
        self.page = min(max(1, page), self.pages)
        start = (self.page - 1) * per_page
        self.first = start + 1
        self.rows = tuple(rows[start : start + per_page])
