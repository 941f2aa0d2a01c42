"""A reply as plain data: what to say, to whom, and what to cross-post where.

Commands build these; the bot renders them as Block Kit for Slack or as text
for the shell. Text segments are plain: the renderer escapes them, so user
text can never become a Slack mention or link.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from handlers.core.charts import Chart

__all__ = [
    "Action",
    "Channel",
    "Code",
    "Confirm",
    "CrossPost",
    "Line",
    "Link",
    "Mention",
    "Reply",
    "Section",
    "Segment",
    "Strong",
    "error_reply",
    "line",
    "plain",
    "refused_reply",
]


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    label: str


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Strong:
    text: str


@dataclass(frozen=True, slots=True)
class Mention:
    """A Slack user (``U…``/``W…``) or user group (``S…``), by the id Slack gave us (never by text
    a person typed)."""

    user_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Channel:
    """A Slack channel, by the id Slack gave us (a link in Slack), with its name for text."""

    channel_id: str
    name: str


Segment = str | Link | Code | Strong | Mention | Channel
Line = tuple[Segment, ...]


def line(*segments: Segment) -> Line:
    return tuple(segments)


def plain(text: Line) -> str:
    """A line as plain words (to keep it in a record and show it again later)."""
    return "".join(_word(segment) for segment in text)


def _word(segment: Segment) -> str:
    if isinstance(segment, str):
        return segment
    if isinstance(segment, Link):
        return segment.label
    if isinstance(segment, Mention):
        return f"@{segment.name}"
    if isinstance(segment, Channel):
        return segment.name
    return segment.text


@dataclass(frozen=True, slots=True)
class Section:
    """Lines under an optional title; ``button`` sits beside them (Slack's section accessory), so
    each of several changes can carry its own, next to the words it acts on."""

    lines: tuple[Line, ...]
    title: Line | None = None
    button: Action | None = None


@dataclass(frozen=True, slots=True)
class CrossPost:
    channel: str
    purpose: str  # "team channel", "log channel", "security channel", "QA channel"
    sections: tuple[Section, ...]
    summary: str
    actions: tuple[Action, ...] = ()  # buttons (e.g. a scheduled change's Roll back buttons)
    thread: str = ""  # a reply in the thread of this message (a reference ``post`` returned)
    replaces: str = ""  # update this message (a reference ``post`` returned) instead of posting a new one
    notes: tuple[Line, ...] = ()  # small print under it (the flag's definition, the command as typed)
    chart: Chart | None = None  # drawn and uploaded as an image in the thread of this message, after it
    remember: str = ""  # a name under which the posted message's reference is kept (for later thread replies)


@dataclass(frozen=True, slots=True)
class Confirm:
    """A confirmation asked before a button acts (Slack's confirm dialog)."""

    title: str
    text: str
    confirm: str
    deny: str = "Cancel"


@dataclass(frozen=True, slots=True)
class Action:
    """A button: Slack shows it; the shell prints how to press it."""

    label: str
    action_id: str
    value: str
    style: str = ""  # "", "primary" or "danger"
    confirm: Confirm | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    ok: bool
    summary: str
    sections: tuple[Section, ...] = ()
    public: bool = False
    cross_posts: tuple[CrossPost, ...] = ()
    notes: tuple[Line, ...] = field(default=())
    actions: tuple[Action, ...] = ()
    refused: str = ""  # an access refusal: why, for the security channel (the pipeline reports it once)
    delivered: tuple[CrossPost, ...] = ()  # cross-posts already posted (a run inside a run): not posted again

    def with_notes(self, *notes: Line) -> Reply:
        return replace(self, notes=self.notes + notes)

    def with_actions(self, *actions: Action) -> Reply:
        return replace(self, actions=self.actions + actions)

    def all_lines(self) -> tuple[Line, ...]:
        """Every line of the reply in order (section titles, their lines, the notes): to quote it
        inside another message."""
        out: list[Line] = []
        for section in self.sections:
            if section.title:
                out.append(section.title)
            out += section.lines
        return tuple(out) + self.notes


def error_reply(message: str, *, details: tuple[Line, ...] = ()) -> Reply:
    """An error, visible only to the person who typed the command."""
    lines = tuple(line(text) for text in message.split("\n") if text)
    return Reply(ok=False, summary=message.split("\n", 1)[0], sections=(Section(lines + details),))


def refused_reply(message: str, reason: str) -> Reply:
    """An access refusal: ``message`` tells the person what was refused, why and what to do;
    ``reason`` is for the security channel, where the pipeline reports the attempt."""
    return replace(error_reply(message), refused=reason)
