"""Alertmanager label matchers (``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``),
evaluated locally against an alert's labels, as Alertmanager itself does (anchored regexes)."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["InvalidMatcher", "matches"]

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


class InvalidMatcher(ValueError):
    pass


def _one(matcher: str, labels: Mapping[str, str]) -> bool:
    found = _MATCHER.fullmatch(matcher)
    if found is None:
        raise InvalidMatcher(f'`{matcher}` is not a matcher like name="value" or name=~"regex"')
    name, op, value = found.group(1), found.group(2), found.group(3).replace('\\"', '"')
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None
    return hit if op == "=~" else not hit


def matches(matchers: tuple[str, ...], labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy every matcher (no matchers: never, so an empty guard never fires)."""
    return bool(matchers) and all(_one(m, labels) for m in matchers)
