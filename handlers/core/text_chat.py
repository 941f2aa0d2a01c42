"""A text chat backend, like Hubot's shell adapter: the local shell and the in-process tests talk
through it. Channels are their names (or the IDs ``channels`` maps them to); user groups are what
the person said they are in. ``run_line`` runs one typed line through the same pipeline as Slack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from handlers.core import pipeline
from handlers.core.caller import Caller
from handlers.core.context import Application
from handlers.core.reply import CrossPost, Reply
from handlers.core.text_render import to_text

__all__ = ["ShellBackend", "post_text", "run_line"]


@dataclass
class ShellBackend:
    """Channels are their names (or the IDs ``channels`` maps them to); user groups are what
    ``--usergroups`` says."""

    user: str
    usergroups: frozenset[str]
    posted: list[CrossPost] = field(default_factory=list)
    channels: Mapping[str, str] = field(default_factory=dict)
    live: TextIO | None = None  # print each post as it comes (background work), instead of keeping it
    directory: Mapping[str, frozenset[str]] = field(default_factory=dict)  # other people's groups (group → users)

    async def channel_id(self, channel: str) -> str | None:
        return self.channels.get(channel, channel)

    async def usergroup_members(self, usergroup: str) -> frozenset[str]:
        group = usergroup.lstrip("@")
        mine = frozenset({self.user}) if group in self.usergroups else frozenset()
        return mine | self.directory.get(group, frozenset())

    async def cannot_post(self, channel_id: str) -> str:
        return ""  # the shell prints every post

    async def post(self, post: CrossPost) -> str:
        reference = post.replaces or f"shell|{len(self.posted) + 1}|{id(post)}"
        if self.live is None:
            self.posted.append(post)
            return reference
        self.live.write(post_text(post))
        self.live.flush()
        return reference


def post_text(post: CrossPost) -> str:
    """A cross-post as the shell prints it: its channel and purpose, its text, and its chart in words
    (a terminal shows no image)."""
    how = ", updated" if post.replaces else ", in its thread" if post.thread else ""
    text = f"\n[{post.channel}] ({post.purpose}{how})\n{to_text(post)}\n"
    if post.chart is not None:
        about = f"{post.chart.title} — {post.chart.alt}" if post.chart.alt else post.chart.title
        text += f"(chart: {about}; shown as an image in Slack)\n"
    return text


def _strip_prefix(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("/chatops"):
        stripped = stripped[len("/chatops") :]
    return stripped.strip()


def _print(reply: Reply, posts: list[CrossPost], channel: str, out: TextIO) -> None:
    visibility = "in channel" if reply.public else "only visible to you"
    out.write(f"[{channel}] ({visibility})\n{to_text(reply)}\n")
    for post in posts:
        out.write(post_text(post))
    out.flush()


async def run_line(text: str, caller: Caller, app: Application, backend: ShellBackend, out: TextIO) -> Reply:
    """A typed line: a command, or ``:ACTION_ID VALUE`` to press a button (e.g. ``:rollback VALUE``)."""
    backend.posted.clear()

    async def notify(message: str) -> None:
        out.write(f"[{caller.channel_label}] (only visible to you) {message}\n")
        out.flush()

    stripped = text.strip()
    if stripped.startswith(":"):
        action_id, _, value = stripped[1:].partition(" ")
        reply = await pipeline.press(action_id, value.strip(), caller, app, backend, notify)
    else:
        reply = await pipeline.run(_strip_prefix(text), caller, app, backend, notify)
    await app.deliveries.drain()  # print every cross-post, including slow ones
    _print(reply, list(backend.posted), caller.channel_label, out)
    return reply
