"""What the flags page is asked for, read from its URL: a search, filters, a sort and a page.

Every filter, sort and page is a plain GET parameter, so each view of the page is a link (that
works without script, can be bookmarked and shared); ``params`` gives back the parameters of a
query, for the links that keep the current filters while changing one thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["ORDERS", "PER_PAGE", "SINCE", "SORTS", "STATES", "FlagsQuery", "Order", "Sort"]

Sort = Literal["name", "changed", "group"]
Order = Literal["", "asc", "desc"]
SORTS: tuple[Sort, ...] = ("name", "changed", "group")
ORDERS: tuple[Order, ...] = ("asc", "desc")
#: A cell's state as the state filter names it: fully on, off, partly on (percentages, actors or
#: groups), or unknown (its environment could not be read).
STATES = ("on", "off", "partly", "unknown")
#: "Changed since": the window each value names, in seconds.
SINCE = {"1d": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
PER_PAGE = 100
_TEXT_MAX = 100  # characters kept of a typed value
_STATES_MAX = 32  # state filters kept (a URL can carry any number)


@dataclass(frozen=True, slots=True)
class FlagsQuery:
    q: str = ""  # a piece of the name, group or milestone
    type: str = ""
    states: tuple[tuple[str, str], ...] = ()  # (environment name, one of STATES)
    since: str = ""  # one of SINCE, or "" for any time
    cleanup: bool = False
    sort: Sort = "name"
    order: Order = ""  # "": the sort's own (name and group ascending, last change newest first)
    page: int = 1

    @classmethod
    def parse(cls, pairs: Iterable[tuple[str, str]], environments: Sequence[str]) -> FlagsQuery:
        """From a URL's parameters (``state`` may repeat); what is not understood is left out."""
        found: dict[str, str] = {}
        states: list[tuple[str, str]] = []
        for key, value in pairs:
            if key == "state":
                where, _, state = value.partition(":")
                if where in environments and state in STATES and (where, state) not in states:
                    states.append((where, state))
            else:
                found.setdefault(key, value.strip()[:_TEXT_MAX])
        sort: Sort = next((s for s in SORTS if s == found.get("sort")), "name")
        order: Order = next((o for o in ORDERS if o == found.get("order")), "")
        page = found.get("page", "")
        return cls(
            q=found.get("q", ""),
            type=found.get("type", ""),
            states=tuple(states[:_STATES_MAX]),
            since=found.get("since", "") if found.get("since") in SINCE else "",
            cleanup=bool(found.get("cleanup")),
            sort=sort,
            order=order,
            page=int(page) if page.isdigit() and 0 < len(page) < 7 else 1,
        )

    @property
    def descending(self) -> bool:
        return self.order == "desc" or (not self.order and self.sort == "changed")

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the rows (the cleanup filter too)."""
        return bool(self.q or self.type or self.states or self.since or self.cleanup)

    def params(self) -> list[tuple[str, str]]:
        """The URL parameters of this query, those that differ from the defaults only."""
        out = [(k, v) for k, v in (("q", self.q), ("type", self.type)) if v]
        out += [("state", f"{where}:{state}") for where, state in self.states]
        out += [("since", self.since)] if self.since else []
        out += [("cleanup", "1")] if self.cleanup else []
        out += [("sort", self.sort)] if self.sort != "name" else []
        out += [("order", self.order)] if self.order else []
        out += [("page", str(self.page))] if self.page != 1 else []
        return out
