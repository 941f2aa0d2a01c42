"""``/chatops run release check <merge-request-url> <milestone>``: is the merge request in that release?"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from handlers.config import Environment
from handlers.core.command import Command
from handlers.core.context import Context
from handlers.core.grammar import CommandSpec, SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.reply import Code, Line, Link, Reply, Section, Strong, error_reply, line
from handlers.deployments.merge_requests import parse_merge_request
from handlers.deployments.mirror import MIRROR, Commit, GitMirror, MirrorUnavailable

__all__ = ["ReleaseCommand", "ReleasePlan"]

_MILESTONE = re.compile(r"(?:%\"?|v)?(?P<major>[0-9]{1,3})\.(?P<minor>[0-9]{1,3})\"?")


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    url: str
    project: str
    iid: int
    major: int
    minor: int
    targets: tuple[Environment, ...] = ()
    writes: bool = False

    @property
    def reference(self) -> str:
        return f"{self.project}!{self.iid}"

    @property
    def milestone(self) -> str:
        return f"{self.major}.{self.minor}"


def _plan(invocation: Invocation, context: Context) -> ReleasePlan:
    args = invocation.arguments
    usage = "`/chatops run release check https://gitlab.com/GROUP/PROJECT/-/merge_requests/IID 16.5`"
    if len(args) != 2:
        raise UsageError(f"`release check` needs a merge request URL and a milestone: {usage}.")
    raw_url = args[0].strip("<>").split("|", 1)[0]  # Slack may wrap links as <url|label>
    found = parse_merge_request(raw_url)
    if not found:
        raise UsageError(f"`{args[0][:80]}` is not a merge request URL: {usage}.")
    milestone = _MILESTONE.fullmatch(args[1])
    if not milestone:
        raise UsageError(f"`{args[1][:40]}` is not a milestone: give MAJOR.MINOR, e.g. `16.5`.")
    return ReleasePlan(raw_url, found[0], found[1], int(milestone["major"]), int(milestone["minor"]))


async def _handle(plan: ReleasePlan, context: Context) -> Reply:
    settings = context.config.deployments
    mirror = context.app.ports.get(MIRROR)
    if settings is None or mirror is None:
        return error_reply(
            "Releases are not configured: add a `deployments` section with the repository to the configuration."
        )
    try:
        return await _check(plan, mirror, settings.tag_pattern, settings.stable_branch_pattern)
    except MirrorUnavailable as error:
        return error_reply(f"The repository mirror is not available: {error}.")


async def _check(plan: ReleasePlan, mirror: GitMirror, tag_pattern: str, branch_pattern: str) -> Reply:
    tag = tag_pattern.format(major=plan.major, minor=plan.minor)
    branch = branch_pattern.format(major=plan.major, minor=plan.minor)
    stale = mirror.staleness()
    title = line(Link(plan.url, plan.reference), f" in release {plan.milestone}")
    notes: list[Line] = [line(f":hourglass: {stale}")] if stale else []

    def answer(ok: bool, *lines: Line) -> Reply:
        return Reply(ok, f"{plan.reference} in {plan.milestone}", (Section((*lines, *notes), title=title),), public=ok)

    tag_sha, branch_sha = await mirror.ref(tag), await mirror.ref(branch)
    candidates = await mirror.merge_request_commits(plan.project, plan.iid)
    if not candidates:
        return answer(False, _not_found(plan))
    if tag_sha is None and branch_sha is None:
        return answer(False, _unknown(plan, tag, branch))
    commit, others = await _merge_commit(mirror, candidates)
    for name, sha in ((tag, tag_sha), (branch, branch_sha)):
        found = await _first_contained(mirror, (commit, *others), sha) if sha is not None else None
        if found is not None:
            return answer(True, _included(name, found, commit, tag if name == branch and tag_sha is None else None))
    return answer(True, _not_included(tag if tag_sha else branch, commit))


async def _merge_commit(mirror: GitMirror, candidates: list[Commit]) -> tuple[Commit, list[Commit]]:
    """The merge request's merge commit (the newest of its commits on the default branch, else
    the newest), and its other commits (picks, squashes)."""
    default = await mirror.ref(mirror.default_branch) or mirror.default_branch  # a SHA: its answers are kept
    merged = [c for c in candidates if await mirror.contains(c.sha, default)]
    commit = merged[0] if merged else candidates[0]
    return commit, [c for c in candidates if c.sha != commit.sha]


async def _first_contained(mirror: GitMirror, commits: tuple[Commit, ...], revision: str) -> Commit | None:
    for commit in commits:
        if await mirror.contains(commit.sha, revision):
            return commit
    return None


def _not_found(plan: ReleasePlan) -> Line:
    return line(
        ":mag: ",
        Strong("merge request not found in the mirror"),
        f': no commit says "See merge request {plan.reference}". Is it merged? ',
        "If it was merged moments ago, the mirror may not have fetched it yet.",
    )


def _unknown(plan: ReleasePlan, tag: str, branch: str) -> Line:
    return line(
        ":grey_question: ",
        Strong(f"release {plan.milestone} is unknown"),
        ": neither tag ",
        Code(tag),
        " nor branch ",
        Code(branch),
        " exists in the mirror.",
    )


def _included(name: str, found: Commit, commit: Commit, missing_tag: str | None) -> Line:
    """Included in ``name`` as ``found`` (the merge commit ``commit``, or a pick); ``missing_tag``:
    the tag not made yet, when found on the stable branch."""
    where = line(":white_check_mark: ", Strong("included"), " in ", Code(name))
    if found.sha != commit.sha:
        where += line(" (picked as ", Code(found.short), ")")
    else:
        where += line(" (merge commit ", Code(commit.short), ")")
    if missing_tag is not None:
        where += line("; tag ", Code(missing_tag), " does not exist yet")
    return where


def _not_included(cut: str, commit: Commit) -> Line:
    return line(
        ":x: ",
        Strong("not included yet"),
        ": ",
        Code(cut),
        " does not contain merge commit ",
        Code(commit.short),
        " — it was merged after the release was cut, and not picked into it.",
    )


RELEASE = CommandSpec(
    name="release",
    summary="whether a merge request is included in a release",
    examples=("/chatops run release check https://gitlab.com/gitlab-org/gitlab/-/merge_requests/123 16.5",),
    subcommands=(
        SubcommandSpec(
            "check",
            ("MERGE_REQUEST_URL", "MILESTONE"),
            "is the merge request's merge commit in the release of that milestone?",
            environments=False,
            examples=("/chatops run release check https://gitlab.com/gitlab-org/gitlab/-/merge_requests/123 16.5",),
        ),
    ),
)


class ReleaseCommand(Command[ReleasePlan]):
    spec: ClassVar[CommandSpec] = RELEASE

    def plan(self, invocation: Invocation, context: Context) -> ReleasePlan:
        return _plan(invocation, context)

    async def handle(self, plan: ReleasePlan, context: Context) -> Reply:
        return await _handle(plan, context)
