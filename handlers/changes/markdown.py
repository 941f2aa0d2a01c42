"""GitLab Markdown that shows text exactly as typed: no links, images, mentions or quick actions.

Code spans and fenced blocks are literal in GitLab Markdown; their fence is longer than any
run of backticks inside, so text cannot close them early (CommonMark's rule).
"""

from __future__ import annotations

import re

__all__ = ["code_block", "code_span"]

_BACKTICKS = re.compile(r"`+")


def _longest_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code_span(text: str) -> str:
    """``text`` as an inline code span, on one line."""
    flat = " ".join(text.split("\n"))
    fence = "`" * (_longest_run(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def code_block(text: str) -> str:
    """``text`` as a fenced code block."""
    fence = "`" * max(3, _longest_run(text) + 1)
    return f"{fence}\n{text}\n{fence}"
