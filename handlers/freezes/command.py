"""``/chatops run freeze on|off|status``: stop changes that raise exposure while an incident runs.

``freeze on [environments] --reason TEXT [--for 4h]`` (every environment when none is listed),
``freeze off [environments]`` lifts the freezes people made (an alert's lifts when it resolves),
``freeze status`` lists them. Allowed to whoever may change those environments here, and to
incident responders in the production or an incident channel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from handlers.config import Environment
from handlers.core.command import CommandGroup, Subcommand
from handlers.core.context import Context, Unscoped
from handlers.core.freezes import Freeze, describe_freeze
from handlers.core.grammar import OptionSpec, SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.reply import CrossPost, Line, Mention, Reply, Section, line
from handlers.core.timefmt import utc
from handlers.core.timing import parse_duration
from handlers.freezes.events import publish_freezes
from handlers.freezes.store import FREEZE_STORE, FreezeStore

__all__ = [
    "FREEZE",
    "FreezeOff",
    "FreezeOffCommand",
    "FreezeOn",
    "FreezeOnCommand",
    "FreezeStatus",
    "FreezeStatusCommand",
]

FREEZE = CommandGroup(
    "freeze",
    "freeze changes that raise exposure (an incident), lift it, or show it",
    ('/chatops run freeze on --production --reason "incident 4521"', "/chatops run freeze status"),
)


@dataclass(frozen=True, slots=True)
class FreezeOn:
    """``freeze on [environments] --reason TEXT [--for DURATION]``."""

    targets: tuple[Environment, ...]
    reason: str
    lasts: float | None = None  # lifted by itself after this long

    @property
    def writes(self) -> bool:
        return True

    @property
    def responders_may(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class FreezeOff:
    """``freeze off [environments]``: the freezes people made there."""

    targets: tuple[Environment, ...]

    @property
    def writes(self) -> bool:
        return True

    @property
    def responders_may(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class FreezeStatus(Unscoped):
    """``freeze status``: every freeze in force."""


def _targets(invocation: Invocation, context: Context) -> tuple[Environment, ...]:
    """The environments listed, or every one; no other words."""
    if invocation.arguments:
        raise UsageError(
            f"Unexpected `{invocation.arguments[0][:40]}`: name environments as options, e.g. `--production`."
        )
    return tuple(invocation.environments if invocation.explicit_environments else context.config.environments)


class FreezeOnCommand(Subcommand[FreezeOn]):
    group: ClassVar[str] = "freeze"
    spec: ClassVar[SubcommandSpec] = SubcommandSpec(
        "on",
        (),
        "refuse changes that raise exposure on these environments (all when none is listed)",
        options=(
            OptionSpec("reason", "value", "why (required), shown in every refusal", "TEXT"),
            OptionSpec("for", "value", "lift it by itself after this long, e.g. 4h", "DURATION"),
        ),
        examples=('/chatops run freeze on --reason "incident 4521" --for 4h',),
    )

    def plan(self, invocation: Invocation, context: Context) -> FreezeOn:
        targets = _targets(invocation, context)
        reason = invocation.options.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(
                '`freeze on` needs `--reason TEXT` (everyone refused sees it), e.g. `--reason "incident 4521"`.'
            )
        lasts_text = invocation.options.get("for")
        lasts = parse_duration("for", lasts_text) if isinstance(lasts_text, str) else None
        return FreezeOn(targets, reason.strip()[:300], lasts)

    async def handle(self, plan: FreezeOn, context: Context) -> Reply:
        store = context.app.ports.need(FREEZE_STORE)
        names = ", ".join(e.name for e in plan.targets)
        who = Mention(context.caller.user_id, context.caller.user_name)
        now = time.time()
        until = now + plan.lasts if plan.lasts is not None else None
        freezes = [Freeze(e.option, "manual", plan.reason, context.caller.who, now, until) for e in plan.targets]
        for freeze in freezes:
            await store.put(freeze)
        await publish_freezes(context.app, "freeze.on", freezes, context.caller)
        lines = [
            line(f"Frozen {names} by ", who, f": {plan.reason}{_until(now, until)}."),
            line("Changes that raise exposure there are refused, whoever asks; changes that reduce it still work."),
        ]
        return _public(context, "frozen", lines)


class FreezeOffCommand(Subcommand[FreezeOff]):
    group: ClassVar[str] = "freeze"
    spec: ClassVar[SubcommandSpec] = SubcommandSpec(
        "off", (), "lift the freezes people made on these environments (all when none is listed)"
    )

    def plan(self, invocation: Invocation, context: Context) -> FreezeOff:
        return FreezeOff(_targets(invocation, context))

    async def handle(self, plan: FreezeOff, context: Context) -> Reply:
        store = context.app.ports.need(FREEZE_STORE)
        names = ", ".join(e.name for e in plan.targets)
        who = Mention(context.caller.user_id, context.caller.user_name)
        lifted = await store.lift([e.option for e in plan.targets], "manual")
        await publish_freezes(context.app, "freeze.off", lifted, context.caller)
        left = await store.of([e.option for e in plan.targets])
        name = context.config.environment_name
        if not lifted:
            lines: list[Line] = [line(f"No freeze made by a person is in force on {names}: nothing was lifted.")]
            lines += [line("Still frozen by an alert: ", describe_freeze(f, name(f.option))) for f in left]
            return Reply(True, "nothing to lift", (Section(tuple(lines)),))
        where = ", ".join(name(f.option) for f in lifted)
        lines = [line(f"Freeze lifted on {where} by ", who, ": changes that raise exposure work there again.")]
        lines += [line("It was: ", describe_freeze(f, name(f.option)), ".") for f in lifted]
        lines += [line("Still frozen by an alert: ", describe_freeze(f, name(f.option)), ".") for f in left]
        return _public(context, "freeze lifted", lines)


class FreezeStatusCommand(Subcommand[FreezeStatus]):
    group: ClassVar[str] = "freeze"
    spec: ClassVar[SubcommandSpec] = SubcommandSpec("status", (), "every freeze in force", environments=False)

    def plan(self, invocation: Invocation, context: Context) -> FreezeStatus:
        _targets(invocation, context)
        return FreezeStatus()

    async def handle(self, plan: FreezeStatus, context: Context) -> Reply:
        return await _status(context.app.ports.need(FREEZE_STORE), context)


def _until(now: float, until: float | None) -> str:
    return f" (until {utc(until, seconds=until - now < 3600)})" if until is not None else ""


async def _status(store: FreezeStore, context: Context) -> Reply:
    frozen = await store.active()
    if not frozen:
        return Reply(True, "no freeze", (Section((line("No change freeze is in force."),)),))
    name = context.config.environment_name
    lines = tuple(line(describe_freeze(f, name(f.option))) for f in frozen)
    return Reply(True, f"{len(frozen)} freeze(s)", (Section(lines, line("Change freezes in force")),))


def _public(context: Context, summary: str, lines: list[Line]) -> Reply:
    sections = (Section(tuple(lines)),)
    log = context.config.slack.log_channel
    posts = (CrossPost(log, "log channel", sections, summary),) if log else ()
    return Reply(True, summary, sections, public=True, cross_posts=posts)
