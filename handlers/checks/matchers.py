"""Alertmanager label matchers (``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``),
evaluated locally against an alert's labels, as Alertmanager itself does (anchored regexes)."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["InvalidMatcher", "check_matcher", "matches"]

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


class InvalidMatcher(ValueError):
    pass


def check_matcher(matcher: str) -> None:
    """Raise InvalidMatcher (saying how to write one) unless ``matcher`` is one."""
    found = _MATCHER.fullmatch(matcher)
    if found is None:
        raise InvalidMatcher(
            f'`{matcher}` is not an Alertmanager matcher like name="value", name!="value" or name=~"regex" '
            "(quote the value, and the whole option: --guard='alertname=\"HighErrorRate\"')"
        )
    if found.group(2) in ("=~", "!~"):
        try:
            re.compile(found.group(3))
        except re.error as error:
            raise InvalidMatcher(f"`{matcher}`: the regex does not compile ({error})") from None


def _one(matcher: str, labels: Mapping[str, str]) -> bool:
    check_matcher(matcher)
    found = _MATCHER.fullmatch(matcher)
    assert found is not None
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
