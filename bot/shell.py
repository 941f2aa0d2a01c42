"""``chatops shell``: a local console backend, like Hubot's shell adapter.

Type ``/chatops run ...`` lines as a chosen user (member of chosen user groups)
in a chosen channel; see the reply and every cross-post labelled by channel.
The same parse → policy → handler path runs as in Slack.
"""

from __future__ import annotations

import asyncio
import sys

from handlers.core.caller import Caller
from handlers.core.context import Application
from handlers.core.text_chat import ShellBackend, run_line

__all__ = ["run_shell"]


async def run_shell(app: Application, user: str, usergroups: frozenset[str], channel: str, line: str | None) -> int:
    caller = Caller(user_id=user, user_name=user, channel_id=channel, channel_name=channel)
    backend = ShellBackend(user, usergroups)
    out = sys.stdout
    await app.start(ShellBackend(user, usergroups, live=out))  # schedules and recovery print as they happen
    try:
        if line is not None:
            reply = await run_line(line, caller, app, backend, out)
            return 0 if reply.ok else 1
        groups = ", ".join(sorted(usergroups)) or "none"
        out.write(
            f"chatops shell: you are {user} (user groups: {groups}) in {channel}. "
            "Type `/chatops help`; Ctrl-D to leave.\n"
        )
        while True:
            try:
                text = await asyncio.to_thread(input, "chatops> ")
            except EOFError:
                out.write("\n")
                return 0
            if text.strip() in ("exit", "quit"):
                return 0
            if text.strip():
                await run_line(text, caller, app, backend, out)
    finally:
        await app.close()
