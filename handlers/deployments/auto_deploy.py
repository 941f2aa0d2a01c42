"""``/chatops run auto_deploy status [SHA]``: what is deployed where; where a commit is deployed."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import ClassVar

from handlers.config import Environment
from handlers.core.command import Command
from handlers.core.context import Context
from handlers.core.grammar import CommandSpec, SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.reply import Code, Line, Link, Reply, Section, Strong, error_reply, line
from handlers.core.timefmt import ago, utc
from handlers.deployments.mirror import MIRROR, AmbiguousCommit, CommitNotFound, GitMirror, MirrorUnavailable
from handlers.deployments.registry import REGISTRY, Deployment, EnvironmentStatus, RegistryUnavailable

__all__ = ["AutoDeployCommand", "AutoDeployPlan"]

_SHA = re.compile(r"[0-9a-fA-F]{7,40}")


@dataclass(frozen=True, slots=True)
class AutoDeployPlan:
    sha: str | None
    targets: tuple[Environment, ...] = ()
    writes: bool = False


def _plan(invocation: Invocation, context: Context) -> AutoDeployPlan:
    args = invocation.arguments
    if len(args) > 1:
        raise UsageError(f"Unexpected `{args[1][:60]}`: `auto_deploy status` takes at most one commit SHA.")
    if args and not _SHA.fullmatch(args[0]):
        raise UsageError(
            f"`{args[0][:60]}` is not a commit SHA: give 7 to 40 hexadecimal characters, "
            "e.g. `/chatops run auto_deploy status 1a2b3c4d`."
        )
    return AutoDeployPlan(args[0].lower() if args else None)


def _not_configured() -> Reply:
    return error_reply(
        "Deployments are not configured: add a `deployments` section (environments and repository) "
        "to the bot's configuration."
    )


async def _handle(plan: AutoDeployPlan, context: Context) -> Reply:
    registry, mirror = context.app.ports.get(REGISTRY), context.app.ports.get(MIRROR)
    if registry is None or mirror is None:
        return _not_configured()
    try:
        statuses = await registry.status()
    except RegistryUnavailable as error:
        return error_reply(f"{error}. Try again shortly.")
    if plan.sha is None:
        return _status(statuses, context)
    return await _status_of_commit(plan.sha, statuses, mirror)


def _revision(deployment: Deployment) -> Line:
    return line(Code(deployment.sha[:11]), f" {deployment.ref}")


def _details(deployment: Deployment, when: str) -> Line:
    """Revision, ref, package, ``when`` and the pipeline link of a deployment."""
    details = _revision(deployment)
    if deployment.package:
        details += line(" · package ", Code(deployment.package))
    details += line(when)
    if deployment.url:
        details += line(" · ", Link(deployment.url, "pipeline"))
    return details


def _status(statuses: list[EnvironmentStatus], context: Context) -> Reply:
    web_url = context.config.deployments.web_url if context.config.deployments else ""
    lines: list[Line] = []
    for i, status in enumerate(statuses):
        current, running = status.current, status.running
        entry = line(Strong(status.environment), ": ")
        if current is None:
            entry += line("no successful deployment recorded")
        else:
            entry += _details(current, f" · {current.status} · deployed {utc(current.at)} ({ago(current.at)})")
        lines.append(entry)
        if running is not None:
            lines.append(
                line("   :arrows_counterclockwise: new deployment running: ")
                + _details(running, f" since {utc(running.at)}")
            )
        following = statuses[i + 1] if i + 1 < len(statuses) else None
        if current and following and following.current and following.current.sha != current.sha and web_url:
            compare = f"{web_url}/-/compare/{following.current.sha}...{current.sha}"
            lines.append(line(f"   differs from {following.environment}: ", Link(compare, "compare")))
    return Reply(
        True,
        "Auto-deploy status",
        (Section(tuple(lines), title=line(Strong("Auto-deploy status"))),),
        public=True,
    )


async def _status_of_commit(sha: str, statuses: list[EnvironmentStatus], mirror: GitMirror) -> Reply:
    stale = mirror.staleness()
    try:
        commit = await mirror.resolve(sha)
    except AmbiguousCommit as error:
        shown = ", ".join(c[:12] for c in error.candidates[:5])
        return error_reply(
            f"`{sha}` is ambiguous: it starts {len(error.candidates)} commits ({shown}). Give more characters."
        )
    except CommitNotFound:
        note = f" ({stale})" if stale else ""
        return error_reply(
            f"Commit `{sha}` was not found in the repository mirror{note}. Check the SHA, or wait for the "
            "mirror to fetch it if it was pushed moments ago."
        )
    except MirrorUnavailable as error:
        return error_reply(f"The repository mirror is not available: {error}.")

    async def check(deployment: Deployment | None) -> bool | None:
        return None if deployment is None else await mirror.contains(commit.sha, deployment.sha)

    deployed = await asyncio.gather(*(check(s.current) for s in statuses))
    running = await asyncio.gather(*(check(s.running) for s in statuses))
    where = [s.environment for s, yes in zip(statuses, deployed, strict=True) if yes]
    missing = [s.environment for s, yes in zip(statuses, deployed, strict=True) if yes is False]
    unknown = [s.environment for s, yes in zip(statuses, deployed, strict=True) if yes is None]
    coming = [s.environment for s, yes in zip(statuses, running, strict=True) if yes and s.environment not in where]
    lines: list[Line] = []
    if where:
        lines.append(line(":white_check_mark: deployed to ", Strong(", ".join(where))))
    else:
        lines.append(
            line(
                ":warning: ",
                Strong("deployed nowhere yet"),
                " — no environment's deployed revision contains it",
            )
        )
    if coming:
        lines.append(line(":arrows_counterclockwise: being deployed now to ", Strong(", ".join(coming))))
    if missing:
        lines.append(line("not yet on " + ", ".join(missing)))
    if unknown:
        lines.append(
            line("unknown on " + ", ".join(unknown) + " (no deployment recorded, or its revision is not in the mirror)")
        )
    if stale:
        lines.append(line(f":hourglass: {stale}"))
    title = line(Code(commit.short), " ", commit.title)
    return Reply(True, f"{commit.short} {commit.title}", (Section(tuple(lines), title=title),), public=True)


AUTO_DEPLOY = CommandSpec(
    name="auto_deploy",
    summary="what is deployed where, and where a commit is deployed",
    examples=("/chatops run auto_deploy status", "/chatops run auto_deploy status 1a2b3c4d"),
    subcommands=(
        SubcommandSpec(
            "status",
            ("[SHA]",),
            "each environment's deployment; with SHA, the environments where that commit is deployed",
            environments=False,
            examples=("/chatops run auto_deploy status", "/chatops run auto_deploy status 1a2b3c4d5e6f"),
        ),
    ),
)


class AutoDeployCommand(Command[AutoDeployPlan]):
    spec: ClassVar[CommandSpec] = AUTO_DEPLOY

    def plan(self, invocation: Invocation, context: Context) -> AutoDeployPlan:
        return _plan(invocation, context)

    async def handle(self, plan: AutoDeployPlan, context: Context) -> Reply:
        return await _handle(plan, context)
