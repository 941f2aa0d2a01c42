"""The one path every command and button click takes, from Slack or the shell:
parse → plan → authorize (policy) → handle → deliver.

``run`` and ``press`` never raise: every outcome, including a bug, becomes a Reply that tells
the person what happened. Cross-posts are delivered here, and a failed one is reported in the
reply; it never undoes the change.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog
from redis.exceptions import RedisError

from flags import FlagsError, StoreUnavailable, WrongKeyType
from handlers.core.caller import Caller
from handlers.core.chat import ChatBackend
from handlers.core.context import Application, Context, Notify, Plan
from handlers.core.freezes import FREEZES, describe_freeze
from handlers.core.parsing import UsageError, parse
from handlers.core.policy import authorize
from handlers.core.reply import Code, CrossPost, Line, Mention, Reply, Section, error_reply, line, refused_reply
from handlers.core.stored import StoredPlan
from handlers.core.usage import command_help
from handlers.metrics import COMMAND_SECONDS, COMMANDS

__all__ = ["Invoke", "invoke", "press", "run", "run_kept"]

_log = structlog.get_logger("bot")

Handler = Callable[[Any, Context], Awaitable[Reply]]
SECURITY_CHANNEL = "security channel"  # the purpose of a refusal's report


@dataclass
class _Trace:
    """What a command turned out to be, for metrics and logs."""

    command: str = "unknown"
    subcommand: str = ""
    environments: tuple[str, ...] = ()
    refused: bool = False


async def run(
    text: str,
    caller: Caller,
    app: Application,
    chat: ChatBackend,
    notify: Notify | None = None,
    *,
    origin: str = "",
    approved_by: str = "",
    due: bool = False,
) -> Reply:
    """Run a command typed as ``text`` (what follows ``/chatops``); ``origin`` says what runs it on
    the person's behalf (a schedule, an approval), and is recorded with the command; ``due`` says
    it is a scheduled command whose time has come."""
    context = Context(app, caller, chat, notify, origin, approved_by, due)
    trace = _Trace()
    return await _guarded(text, context, trace, lambda: _run(text, context, trace))


@dataclass(frozen=True, slots=True)
class Invoke:
    """A command invoked by the bot's own work (a rollout step, a schedule, an approval) as a typed
    plan, on behalf of ``caller``: the same policy, rules, checks, audit and delivery as typed text."""

    command: str
    subcommand: str
    plan: Plan
    caller: Caller
    origin: str = ""  # what runs it on the person's behalf, recorded with it (" (schedule S3)")
    approved_by: str = ""  # who approved it


async def invoke(invocation: Invoke, app: Application, chat: ChatBackend, notify: Notify | None = None) -> Reply:
    """Run a typed invocation through the policy and the command's handler."""
    context = Context(app, invocation.caller, chat, notify, invocation.origin, invocation.approved_by)
    command, subcommand = invocation.command, invocation.subcommand
    text = str(getattr(invocation.plan, "text", "") or f"run {command} {subcommand}".strip())
    trace = _Trace(command, subcommand, tuple(e.name for e in invocation.plan.targets))
    unit = app.commands.resolve(command, subcommand)
    if unit is None:
        return error_reply(f"`{command} {subcommand}` is no longer a command of this bot; nothing was changed.")
    return await _guarded(text, context, trace, lambda: _authorized(unit.handle, invocation.plan, text, context, trace))


async def run_kept(
    kept: StoredPlan | None,
    text: str,
    caller: Caller,
    app: Application,
    chat: ChatBackend,
    *,
    origin: str = "",
    approved_by: str = "",
    due: bool = False,
) -> Reply:
    """Run work kept for later: its typed plan; or, for a record made before plans were kept, its
    ``text`` planned again with today's grammar (``due``: its ``--at``/``--in`` are done with)."""
    if kept is None:
        return await run(text, caller, app, chat, origin=origin, approved_by=approved_by, due=due)
    try:
        _, plan = app.commands.restore(kept, app.config)
    except (ValueError, FlagsError) as error:
        return error_reply(f"Could not read what was kept to run ({error}); nothing was changed.")
    return await invoke(Invoke(kept.command, kept.subcommand, plan, caller, origin, approved_by), app, chat)


async def press(
    action_id: str,
    value: str,
    caller: Caller,
    app: Application,
    chat: ChatBackend,
    notify: Notify | None = None,
    *,
    origin: str = "",
) -> Reply:
    """Run a button click: the plan its command makes of the value, then the same policy and handler."""
    context = Context(app, caller, chat, notify, origin)
    found = app.commands.action(action_id)
    label = f"[{found.label if found else action_id} {value[:120]}]"
    trace = _Trace(found.command_name if found else "unknown", action_id)
    return await _guarded(label, context, trace, lambda: _press(action_id, value, label, context, trace))


async def _guarded(text: str, context: Context, trace: _Trace, work: Callable[[], Awaitable[Reply]]) -> Reply:
    started = time.perf_counter()
    caller = context.caller
    # Every line logged while the command runs carries request_id, user, channel and command.
    with structlog.contextvars.bound_contextvars(
        request_id=uuid.uuid4().hex[:12], user=caller.user_id, channel=caller.channel_id, command=text[:200]
    ):
        try:
            async with context.app.slots:
                reply = await work()
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            _log.exception("bot.command_crashed", error_id=error_id)
            reply = error_reply(
                f"Something went wrong on our side (error {error_id}); the command may not have finished. "
                "Check the state (e.g. `feature get`) before retrying, and tell the bot's maintainers."
            )
        reply = await context.app.deliveries.deliver(reply, context.chat, context.notify)
        elapsed = time.perf_counter() - started
        outcome = "ok" if reply.ok else "refused" if trace.refused else "error"
        for environment in trace.environments or ("",):
            COMMANDS.labels(trace.command, trace.subcommand, environment, outcome).inc()
        COMMAND_SECONDS.labels(trace.command).observe(elapsed)
        _log.info("bot.command", ok=reply.ok, outcome=outcome, public=reply.public, ms=round(elapsed * 1000, 1))
    return reply


async def _run(text: str, context: Context, trace: _Trace) -> Reply:
    commands = context.app.commands
    try:
        invocation = parse(text, context.config, commands.grammar)
    except UsageError as error:
        return error_reply(str(error))
    trace.command, trace.subcommand = invocation.command, invocation.subcommand
    trace.environments = tuple(e.name for e in invocation.environments)
    if invocation.help:
        spec = commands.grammar[invocation.command]
        return command_help(spec, context.config, spec.subcommand(invocation.subcommand))
    command = commands.resolve(invocation.command, invocation.subcommand)
    assert command is not None  # the parser only knows registered commands and subcommands
    try:
        plan = command.plan(invocation, context)
    except UsageError as error:
        return error_reply(str(error))
    return await _authorized(command.handle, plan, text, context, trace)


async def _press(action_id: str, value: str, label: str, context: Context, trace: _Trace) -> Reply:
    found = context.app.commands.action(action_id)
    if found is None:
        return error_reply(f"This bot has no button `{action_id[:60]}`; nothing was changed.")
    try:
        plan = found.plan(value, context)
    except UsageError as error:
        return error_reply(f"{error} Nothing was changed.")
    trace.environments = tuple(e.name for e in plan.targets)
    return await _authorized(found.handle, plan, label, context, trace)


async def _authorized(handle: Handler, plan: Plan, text: str, context: Context, trace: _Trace) -> Reply:
    """The policy filter, then the handler: what every command and button click goes through.
    An access refusal, the policy's or one the handler made (``Reply.refused``), is reported here."""
    refusal = await authorize(plan, context.caller, context.config, context.chat)
    if refusal is not None:
        refused = refused_reply(refusal.message, refusal.reason).with_notes(*await _freeze_notes(context))
        return _reported(refused, text, context, trace)
    try:
        reply = await handle(plan, context)
    except StoreUnavailable as error:
        return error_reply(f"{str(error).capitalize()}. Nothing was reported as done; try again shortly.")
    except WrongKeyType as error:  # bad data, not an outage: nothing to retry
        return error_reply(f"{str(error)[0].upper()}{str(error)[1:]}. Nothing was changed in any environment.")
    return _reported(reply, text, context, trace)


async def _freeze_notes(context: Context) -> tuple[Line, ...]:
    """Freezes in force, said with every refusal (so nobody retries into one)."""
    store = context.app.ports.get(FREEZES)
    if store is None:
        return ()
    try:
        frozen = await store.active()
    except (RedisError, OSError):
        return ()
    name = context.config.environment_name
    return tuple(line(f":snowflake: {describe_freeze(f, name(f.option))}") for f in frozen)


def _reported(reply: Reply, text: str, context: Context, trace: _Trace) -> Reply:
    """An access refusal with its report to the security channel, made once: a refusal that comes
    back from a run inside this one (the command an approval runs) was reported there."""
    if not reply.refused:
        return reply
    trace.refused = True
    if any(p.purpose == SECURITY_CHANNEL for p in reply.cross_posts):
        return reply
    _log.warning("bot.refused", reason=reply.refused)
    security = context.config.slack.security_channel
    if security is None:
        return reply
    caller = context.caller
    report = Section(
        (
            line("Refused: ", Mention(caller.user_id, caller.user_name), f" in {caller.channel_label} ran"),
            line(Code(f"/chatops {text}"[:500])),
            line(f"Reason: {reply.refused}."),
        )
    )
    summary = f"Refused chatops command in {caller.channel_label}"
    return replace(reply, cross_posts=(*reply.cross_posts, CrossPost(security, SECURITY_CHANNEL, (report,), summary)))
