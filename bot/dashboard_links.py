"""Links from the dashboard to elsewhere, labelled as people say them: a merge request as
``gitlab-org/gitlab!136504``, an issue as ``gitlab-org/gitlab#431804`` (GitLab's own references),
anything else by its address. Only http(s) addresses become links; other text stays text."""

from __future__ import annotations

import re
from html import escape

__all__ = ["outbound_link", "reference_label"]

_GITLAB = re.compile(r"https?://[^/]+/(?P<project>.+?)/-/(?P<kind>merge_requests|issues|work_items)/(?P<number>\d+)")
_SIGIL = {"merge_requests": "!", "issues": "#", "work_items": "#"}


def reference_label(url: str) -> str:
    """``gitlab-org/gitlab!136504`` for a merge request's address, ``…#431804`` for an issue's,
    the address itself for anything else."""
    found = _GITLAB.match(url)
    if found is None:
        return url
    return f"{found['project']}{_SIGIL[found['kind']]}{found['number']}"


def outbound_link(url: str | None, label: str | None = None) -> str:
    """An ``<a>`` to ``url`` reading ``label`` (its reference by default); only the label (or the
    address) as text when it is not an http(s) address, nothing when there is none."""
    if not url:
        return ""
    if not url.startswith(("https://", "http://")):
        return escape(label or url)
    return f'<a href="{escape(url)}">{escape(label or reference_label(url))}</a>'
