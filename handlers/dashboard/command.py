"""``/chatops run dashboard``: a one-time link that signs its caller in to the read-only dashboard.

The answer is ephemeral (only its caller sees it): the link is bound to them, expires in
``ui.link_seconds`` (5 minutes by default) and works once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handlers.config import Environment
from handlers.core.command import Command
from handlers.core.context import Context
from handlers.core.grammar import CommandSpec, SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.reply import Link, Reply, Section, error_reply, line
from handlers.core.timefmt import span
from handlers.dashboard.signin import SIGN_IN, Visitor

__all__ = ["DashboardCommand", "DashboardPlan"]

DASHBOARD = CommandSpec(
    name="dashboard",
    summary="a sign-in link to the read-only web dashboard of every flag (only you see it)",
    direct=SubcommandSpec("", (), "answer with a one-time sign-in link, for you only", environments=False),
    examples=("/chatops run dashboard",),
)


@dataclass(frozen=True, slots=True)
class DashboardPlan:
    targets: tuple[Environment, ...] = ()
    writes: bool = False


class DashboardCommand(Command[DashboardPlan]):
    spec: ClassVar[CommandSpec] = DASHBOARD

    def plan(self, invocation: Invocation, context: Context) -> DashboardPlan:
        if invocation.arguments:
            raise UsageError(f"Unexpected `{invocation.arguments[0][:40]}`: `dashboard` takes nothing.")
        return DashboardPlan()

    async def handle(self, plan: DashboardPlan, context: Context) -> Reply:
        ui, sign_in = context.config.ui, context.app.ports.get(SIGN_IN)
        if ui is None:
            return error_reply(
                "The dashboard is not enabled here: add a `ui:` section with `base_url` to the configuration."
            )
        if sign_in is None:
            return error_reply(
                "The dashboard has no key to sign links with: set CHATOPS_UI_SECRET (or SLACK_SIGNING_SECRET)."
            )
        caller = context.caller
        token = sign_in.token(Visitor(caller.user_id, caller.user_name))
        url = f"{ui.base_url}/ui/signin?token={token}"
        lines = (
            line(Link(url, "Open the flags dashboard"), " (read-only)."),
            line(f"The link signs you in; it is yours only, works once and expires in {span(ui.link_seconds)}."),
        )
        return Reply(True, "dashboard sign-in link", (Section(lines),), public=False)
