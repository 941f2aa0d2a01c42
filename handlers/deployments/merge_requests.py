"""Merge request URLs (``https://gitlab.com/GROUP/PROJECT/-/merge_requests/IID``)."""

from __future__ import annotations

import re

__all__ = ["parse_merge_request"]

_MR_URL = re.compile(r"https?://[^/\s]+/(?P<project>[^\s?#]+?)/(?:-/)?merge_requests/(?P<iid>[0-9]{1,9})(?:[/?#]\S*)?")


def parse_merge_request(url: str) -> tuple[str, int] | None:
    """(project path, IID) of a merge request URL, or None when it is not one."""
    found = _MR_URL.fullmatch(url.strip())
    return (found["project"], int(found["iid"])) if found else None
