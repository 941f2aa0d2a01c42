"""Replies as the shell prints them: plain text, buttons as the line to type to press them."""

from __future__ import annotations

from handlers.core.reply import Action, Channel, Code, CrossPost, Link, Mention, Reply, Segment, Strong

__all__ = ["to_text"]


def _plain(segment: Segment) -> str:
    if isinstance(segment, str):
        return segment
    if isinstance(segment, Code):
        return f"`{segment.text}`"
    if isinstance(segment, Strong):
        return segment.text
    if isinstance(segment, Link):
        return segment.url if segment.label == segment.url else f"{segment.label} ({segment.url})"
    if isinstance(segment, Mention):
        return "@" + (segment.name or segment.user_id)
    if isinstance(segment, Channel):
        return segment.name
    raise TypeError(f"unknown segment {segment!r}")


def _button(action: Action) -> str:
    return f"[{action.label}] to press it, type: :{action.action_id} {action.value}"


def to_text(reply: Reply | CrossPost) -> str:
    """The reply as the shell prints it."""
    out: list[str] = []
    for section in reply.sections:
        if section.title:
            out.append("".join(_plain(s) for s in section.title))
        out += [
            "  " + "".join(_plain(s) for s in entry) if section.title else "".join(_plain(s) for s in entry)
            for entry in section.lines
        ]
        if section.button is not None:
            out.append(_button(section.button))
    out += [("! " if isinstance(reply, Reply) else "") + "".join(_plain(s) for s in note) for note in reply.notes]
    out += [_button(a) for a in reply.actions]
    return "\n".join(out) if out else reply.summary
