"""Deploy-aware gating: raising exposure on an environment needs the flag's code deployed there.

The flag's definition names its merge request (``introduced_by_url``); the merge request index of
the git mirror gives its commits (the merge commit, squashes and picks); each environment maps to
a deployment environment (``deployment:``, default its name) whose current deployment must contain
one of them. What cannot be known (the mirror is stale, the merge request is not found, nothing
is deployed there) warns, or refuses with ``safety.deployment_check_unknown: refuse``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import NOTHING_CHANGED, Verdict
from handlers.config import Environment
from handlers.core.code import CodeDeployed
from handlers.core.context import Context
from handlers.core.reply import Reply, Section, Strong, line
from handlers.core.timefmt import ago
from handlers.core.wording import grouped
from handlers.deployments.merge_requests import parse_merge_request
from handlers.deployments.mirror import MIRROR, Commit, GitMirror, MirrorUnavailable
from handlers.deployments.registry import REGISTRY, Deployment, EnvironmentStatus, RegistryUnavailable

__all__ = ["OVERRIDE", "DeployedCode", "DeploymentRule", "code_deployed"]

OVERRIDE = "ignore-deployment-check"


async def code_deployed(flag: str, environments: Sequence[Environment], context: Context) -> dict[str, CodeDeployed]:
    """By environment option; empty when the flag or the bot cannot say (no definition URL, no
    deployments configured)."""
    definition = context.definitions.get(flag)
    mirror, registry = context.app.ports.get(MIRROR), context.app.ports.get(REGISTRY)
    url = definition.introduced_by_url if definition is not None else None
    if not url or mirror is None or registry is None:
        return {}
    parsed = parse_merge_request(url)
    if parsed is None:
        return {
            e.option: CodeDeployed("unknown", f"introduced_by_url {url} is not a merge request URL")
            for e in environments
        }
    project, iid = parsed
    try:
        candidates = await mirror.merge_request_commits(project, iid)
        statuses = {s.environment: s for s in await registry.status()}
    except (MirrorUnavailable, RegistryUnavailable) as error:
        return {e.option: CodeDeployed("unknown", str(error)) for e in environments}
    if not candidates:
        stale = mirror.staleness()
        why = f"merge request !{iid} is not found in the mirror (not merged yet?" + (f"; {stale})" if stale else ")")
        return {e.option: CodeDeployed("unknown", why) for e in environments}
    short = candidates[-1].short
    answers = {}
    for environment in environments:
        name = environment.deployment or environment.name
        status = statuses.get(name)
        current = status.current if status is not None else None
        if current is None:
            answers[environment.option] = CodeDeployed("unknown", "no deployment there is recorded", short)
            continue
        contained: list[bool | None] = []
        for candidate in candidates:  # the merge commit first: usually the only one needed
            contained.append(await mirror.contains(candidate.sha, current.sha))
            if contained[-1]:
                break
        if any(contained):
            answers[environment.option] = CodeDeployed("yes", "", short)
        elif None in contained:
            stale = mirror.staleness()
            why = f"the mirror does not know {current.sha[:11]}, deployed there" + (f" ({stale})" if stale else "")
            answers[environment.option] = CodeDeployed("unknown", why, short)
        else:  # only now, for the message: where the code is
            where = await _deployed_where(candidates, statuses, mirror)
            since = "; ".join(f"on {n} since {ago(d.when.timestamp())}" for n, d in where.items())
            runs = f"{name} runs {current.ref or current.sha[:11]} ({current.sha[:11]})"
            why = f"{runs}; it is {since or 'deployed nowhere yet'}"
            answers[environment.option] = CodeDeployed("no", why, short)
    return answers


async def _deployed_where(
    candidates: Sequence[Commit], statuses: Mapping[str, EnvironmentStatus], mirror: GitMirror
) -> dict[str, Deployment]:
    """The deployment environments whose current deployment contains one of ``candidates``."""
    found: dict[str, Deployment] = {}
    for name, status in statuses.items():
        current = status.current
        if current is None:
            continue
        for candidate in candidates:
            if await mirror.contains(candidate.sha, current.sha):
                found[name] = current
                break
    return found


def _grouped(answers: list[tuple[Environment, CodeDeployed]]) -> str:
    """``gstg, gprd: why`` for each reason once (one line for the same reason everywhere)."""
    return "; ".join(f"{', '.join(names)}: {why}" for names, why in grouped((e.name, a.why) for e, a in answers))


class DeploymentRule:
    name: ClassVar[str] = "deployment_check"

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        return any(t.increases for t in targets) and context.app.ports.get(MIRROR) is not None

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        raising = [t.environment for t in targets if t.increases]
        answers = await code_deployed(request.flag, raising, context)
        if not answers:
            return Verdict()
        missing = [(e, answers[e.option]) for e in raising if answers[e.option].state == "no"]
        unknown = [(e, answers[e.option]) for e in raising if answers[e.option].state == "unknown"]
        if request.overrides_rule(OVERRIDE) and (missing or unknown):
            return Verdict(record=f"ignored (--{OVERRIDE}) by {request.who.who}")
        if missing:
            commit = missing[0][1].commit
            lines = [
                line(f"The code behind {request.flag} ({commit}) is not deployed to {e.name}: {a.why}.")
                for e, a in missing
            ]
            lines.append(line(f"Check with `/chatops run auto_deploy status {commit}`. {NOTHING_CHANGED}"))
            lines.append(line(f"If you are sure, run the command again with `--{OVERRIDE}` (recorded)."))
            title = line(Strong("Code not deployed"))
            return Verdict(refusal=Reply(False, "code not deployed", (Section(tuple(lines), title),)))
        if unknown:
            said = _grouped(unknown)
            if context.config.safety.deployment_check_unknown == "refuse":
                message = (
                    f"Whether the code behind {request.flag} is deployed is unknown ({said}). {NOTHING_CHANGED} "
                    f"If you are sure, run the command again with `--{OVERRIDE}` (recorded)."
                )
                return Verdict(refusal=Reply(False, "deployment unknown", (Section((line(message),)),)))
            return Verdict(record="unknown", warnings=(line(f":grey_question: Code deployed: unknown on {said}."),))
        return Verdict(record="passed (the code is deployed)")


class DeployedCode:
    """Where a flag's code is deployed, as ``feature get`` asks (``CODE_DEPLOYED``)."""

    code_deployed = staticmethod(code_deployed)
