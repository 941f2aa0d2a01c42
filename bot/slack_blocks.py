"""Replies as Slack Block Kit messages: escaped, split to Slack's limits, buttons with their confirm dialogs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from handlers.core.reply import Action, Channel, Code, CrossPost, Line, Link, Reply, Section, Segment, Strong

__all__ = ["MAX_BLOCKS", "MAX_SECTION_CHARS", "SlackMessage", "escape", "to_slack"]

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,20}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,20}")


def escape(text: str) -> str:
    """Slack's three control characters; after this no text can mention, link or format."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(segment: Segment) -> str:
    if isinstance(segment, str):
        return escape(segment)
    if isinstance(segment, Code):
        return "`" + escape(segment.text.replace("`", "'")) + "`"
    if isinstance(segment, Strong):
        return "*" + escape(segment.text.replace("*", "")) + "*"
    if isinstance(segment, Link):
        url = escape(segment.url.replace("|", "%7C"))
        return f"<{url}|{escape(segment.label.replace('|', '/'))}>"
    if isinstance(segment, Channel):
        if _CHANNEL_ID.fullmatch(segment.channel_id):
            return f"<#{segment.channel_id}>"
        return escape(segment.name)
    if _USER_ID.fullmatch(segment.user_id):
        return f"<@{segment.user_id}>"
    if _GROUP_ID.fullmatch(segment.user_id):
        return f"<!subteam^{segment.user_id}>"
    return escape("@" + (segment.name or segment.user_id))


def _line(segments: Line) -> str:
    return "".join(_mrkdwn(s) for s in segments)


def _safe_cuts(text: str, limit: int) -> list[str]:
    """Cut one long mrkdwn line into pieces of at most ``limit``, never inside ``<…>`` or ``&…;``."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = limit
        space = text.rfind(" ", 0, limit)
        if space > limit // 2:
            cut = space + 1
        opening, closing = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
        if opening > closing:
            cut = opening
        amp = text.rfind("&", max(0, cut - 5), cut)
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _section_texts(section: Section) -> list[str]:
    lines: list[str] = []
    if section.title:
        lines += _safe_cuts(_line(section.title), MAX_SECTION_CHARS)
    for entry in section.lines:
        lines += _safe_cuts(_line(entry), MAX_SECTION_CHARS)
    texts: list[str] = []
    current = ""
    for text in lines:
        candidate = f"{current}\n{text}" if current else text
        if len(candidate) > MAX_SECTION_CHARS:
            texts.append(current)
            current = text
        else:
            current = candidate
    if current:
        texts.append(current)
    return texts


@dataclass(frozen=True, slots=True)
class SlackMessage:
    text: str  # the notification fallback
    blocks: list[dict[str, Any]]


def _button(action: Action) -> ButtonElement:
    asked = action.confirm
    confirm = (
        ConfirmObject(
            title=PlainTextObject(text=asked.title[:100]),
            text=MarkdownTextObject(text=escape(asked.text)[:300]),
            confirm=PlainTextObject(text=asked.confirm[:30]),
            deny=PlainTextObject(text=asked.deny[:30]),
        )
        if asked is not None
        else None
    )
    return ButtonElement(
        text=PlainTextObject(text=action.label[:75]),
        action_id=action.action_id,
        value=action.value[:2000],
        style=action.style or None,
        confirm=confirm,
    )


def _messages(
    summary: str, sections: Sequence[Section], notes: Sequence[Line] = (), actions: Sequence[Action] = ()
) -> list[SlackMessage]:
    blocks: list[Block] = []
    for section in sections:
        texts = _section_texts(section)
        accessory = _button(section.button) if section.button is not None else None
        blocks += [
            SectionBlock(text=MarkdownTextObject(text=t), accessory=accessory if n == len(texts) - 1 else None)
            for n, t in enumerate(texts)
        ]
    for note in notes:
        blocks += [ContextBlock(elements=[MarkdownTextObject(text=t)]) for t in _safe_cuts(_line(note), 2000)]
    if actions:
        blocks.append(ActionsBlock(elements=[_button(a) for a in actions[:25]]))
    if not blocks:
        blocks = [SectionBlock(text=MarkdownTextObject(text=escape(summary)[:MAX_SECTION_CHARS]))]
    chunks = [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)]
    total = len(chunks)
    fallback = escape(summary)[:300]
    return [
        SlackMessage(
            text=fallback if total == 1 else f"{fallback} ({n}/{total})",
            blocks=[b.to_dict() for b in chunk],
        )
        for n, chunk in enumerate(chunks, start=1)
    ]


def to_slack(reply: Reply | CrossPost) -> list[SlackMessage]:
    """One or more messages, each within 50 blocks and 3,000 characters a section."""
    if isinstance(reply, Reply):
        return _messages(reply.summary, reply.sections, reply.notes, reply.actions)
    return _messages(reply.summary, reply.sections, reply.notes, reply.actions)
