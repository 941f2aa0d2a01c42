"""The one path every command takes, from Slack or the shell: parse → plan → policy → handler.

``run`` never raises: every outcome, including a bug, becomes a Reply that
tells the person what happened. Cross-posts are delivered here, and a failed
one is reported in the reply; it never undoes the change.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from bot.chat import ChatBackend
from bot.grammar import COMMANDS as GRAMMAR
from bot.metrics import COMMAND_SECONDS, COMMANDS
from bot.parsing import Invocation, UsageError, parse
from bot.policy import authorize
from bot.runtime import Runtime
from flags import StoreUnavailable
from handlers import HANDLERS
from handlers.context import Caller, Context, Handler, Plan
from handlers.feature import rollback_plan
from handlers.help import command_help
from handlers.reply import Code, CrossPost, Mention, Reply, Section, error_reply, line

__all__ = ["Notify", "roll_back", "run"]

_log = structlog.get_logger("bot")


Notify = Callable[[str], Awaitable[None]]


@dataclass
class _Trace:
    """What a command turned out to be, for metrics and logs."""

    command: str = "unknown"
    subcommand: str = ""
    environments: tuple[str, ...] = ()
    refused: bool = False


async def run(text: str, caller: Caller, runtime: Runtime, chat: ChatBackend, notify: Notify | None = None) -> Reply:
    """Run a command typed as ``text`` (what follows ``/chatops``)."""
    trace = _Trace()
    return await _guarded(text, caller, runtime, chat, trace, lambda: _run(text, caller, runtime, chat, notify, trace))


async def roll_back(
    value: str, caller: Caller, runtime: Runtime, chat: ChatBackend, notify: Notify | None = None
) -> Reply:
    """Run a Roll back button click: the same rules and checks as `feature set`."""
    label = f"[Roll back button {value[:120]}]"
    trace = _Trace("feature", "rollback")
    return await _guarded(
        label, caller, runtime, chat, trace, lambda: _roll_back(value, label, caller, runtime, chat, notify, trace)
    )


async def _guarded(
    text: str, caller: Caller, runtime: Runtime, chat: ChatBackend, trace: _Trace,
    work: Callable[[], Awaitable[Reply]],
) -> Reply:  # fmt: skip
    started = time.perf_counter()
    # Every line logged while the command runs carries request_id, user, channel and command.
    with structlog.contextvars.bound_contextvars(
        request_id=uuid.uuid4().hex[:12], user=caller.user_id, channel=caller.channel_id, command=text[:200]
    ):
        try:
            reply = await work()
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            _log.exception("bot.command_crashed", error_id=error_id)
            reply = error_reply(
                f"Something went wrong on our side (error {error_id}); the command may not have finished. "
                "Check the state (e.g. `feature get`) before retrying, and tell the bot's maintainers."
            )
        reply = await _deliver(reply, chat)
        elapsed = time.perf_counter() - started
        outcome = "ok" if reply.ok else "refused" if trace.refused else "error"
        for environment in trace.environments or ("",):
            COMMANDS.labels(trace.command, trace.subcommand, environment, outcome).inc()
        COMMAND_SECONDS.labels(trace.command).observe(elapsed)
        _log.info("bot.command", ok=reply.ok, outcome=outcome, public=reply.public, ms=round(elapsed * 1000, 1))
    return reply


def _context(runtime: Runtime, caller: Caller, notify: Notify | None) -> Context:
    return Context(
        runtime.config, runtime.stores, caller, runtime.definitions, runtime.deployments, runtime.mirror,
        runtime.services, notify,
    )  # fmt: skip


async def _roll_back(
    value: str, label: str, caller: Caller, runtime: Runtime, chat: ChatBackend, notify: Notify | None, trace: _Trace
) -> Reply:
    invocation = Invocation("feature", "rollback", (), {}, (), False, label)
    try:
        plan = rollback_plan(value, invocation, runtime.config.environments)
    except UsageError as error:
        return error_reply(f"{error} Nothing was changed.")
    trace.environments = tuple(e.name for e in plan.targets)
    return await _authorized(HANDLERS["feature"], plan, _context(runtime, caller, notify), label, runtime, chat, trace)


async def _run(
    text: str, caller: Caller, runtime: Runtime, chat: ChatBackend, notify: Notify | None, trace: _Trace
) -> Reply:
    config = runtime.config
    try:
        invocation = parse(text, config)
    except UsageError as error:
        return error_reply(str(error))
    trace.command, trace.subcommand = invocation.command, invocation.subcommand
    trace.environments = tuple(e.name for e in invocation.environments)
    context = _context(runtime, caller, notify)
    if invocation.help:
        spec = GRAMMAR[invocation.command]
        return command_help(spec, config, spec.subcommand(invocation.subcommand))
    handler = HANDLERS[invocation.command]
    try:
        plan = handler.plan(invocation, context)
    except UsageError as error:
        return error_reply(str(error))
    return await _authorized(handler, plan, context, text, runtime, chat, trace)


async def _authorized(
    handler: Handler, plan: Plan, context: Context, text: str, runtime: Runtime, chat: ChatBackend, trace: _Trace
) -> Reply:
    """The policy filter, then the handler: what every command and button click goes through."""
    caller = context.caller
    refusal = await authorize(plan, caller, runtime.config, chat)
    if refusal is not None:
        trace.refused = True
        _log.warning("bot.refused", reason=refusal.reason)
        return _refused(refusal.message, refusal.reason, text, caller, runtime)
    try:
        return await handler.handle(plan, context)
    except StoreUnavailable as error:
        return error_reply(f"{str(error).capitalize()}. Nothing was reported as done; try again shortly.")


def _refused(message: str, reason: str, text: str, caller: Caller, runtime: Runtime) -> Reply:
    reply = error_reply(message)
    security = runtime.config.slack.security_channel
    if security is None:
        return reply
    report = Section(
        (
            line("Refused: ", Mention(caller.user_id, caller.user_name), f" in {caller.channel_label} ran"),
            line(Code(f"/chatops {text}"[:500])),
            line(f"Reason: {reason}."),
        )
    )
    post = CrossPost(security, "security channel", (report,), f"Refused chatops command in {caller.channel_label}")
    return Reply(reply.ok, reply.summary, reply.sections, reply.public, (post,))


async def _deliver(reply: Reply, chat: ChatBackend) -> Reply:
    if not reply.cross_posts:
        return reply
    results = await asyncio.gather(*(chat.post(p) for p in reply.cross_posts), return_exceptions=True)
    notes = []
    for post, result in zip(reply.cross_posts, results, strict=True):
        if isinstance(result, BaseException):
            _log.warning("bot.cross_post_failed", channel=post.channel, purpose=post.purpose, error=str(result))
            notes.append(
                line(f"Could not post to {post.channel} ({post.purpose}): {result}. The change itself stands.")
            )
    return reply.with_notes(*notes) if notes else reply
