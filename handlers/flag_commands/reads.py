"""``feature get``, ``list`` and ``history``: read each target environment, in configured order.

An environment whose Redis cannot be reached is named in the answer; the others still answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from flags import AuditEntry, FlagRecord, StoreUnavailable, WrongKeyType
from handlers.config import Environment
from handlers.core.code import CODE_DEPLOYED, CodeDeployed
from handlers.core.context import Context
from handlers.core.reply import Code, Line, Mention, Reply, Section, Strong, line
from handlers.core.stale import by_flag, newest_milestone, stale_reason
from handlers.core.timefmt import utc
from handlers.core.wording import definition_note, flag_segment, grouped
from handlers.flag_commands.plans import FlagPlan, HistoryPlan, ListPlan
from handlers.flag_commands.unknown import no_such_flag

__all__ = ["get", "history", "list_flags"]


def _unreachable(error: StoreUnavailable | WrongKeyType, environment: Environment) -> Line:
    if isinstance(error, WrongKeyType):
        return line(f"{environment.name}: {error}.")
    return line(f"{environment.name}: could not reach Redis for {environment.name} ({error.reason}).")


async def get(plan: FlagPlan, context: Context) -> Reply:
    unknown = await no_such_flag(plan.name, context)
    if unknown is not None:  # a typo: not "off" everywhere as if it were a flag
        return unknown
    lines: list[Line] = []
    failed = False
    where = context.app.ports.get(CODE_DEPLOYED)
    deployed = await where.code_deployed(plan.name, plan.targets, context) if where is not None else {}
    for environment in plan.targets:
        store = context.stores[environment.option]
        try:
            record = await store.get(plan.name)
            last = await store.history(plan.name, limit=1)
        except (StoreUnavailable, WrongKeyType) as error:
            lines.append(_unreachable(error, environment))
            failed = True
            continue
        default = context.definitions.get(plan.name)
        if not record.exists and record.state.is_empty:
            state = "on (by default: not set here)" if default and default.default_enabled else "off"
        else:
            state = record.state.describe()
        entry = line(Strong(environment.name), ": ", Code(state))
        if last:
            entry += line(" (last ", *_by(last[0]), ")")
        lines.append(entry)
    lines += _code_lines(plan.targets, deployed)
    section = Section(tuple(lines), title=line("Feature flag ", flag_segment(plan.name, context.config)))
    note = definition_note(plan.name, context.definitions)
    return Reply(not failed, f"Feature flag {plan.name}", (section,), public=not failed, notes=(note,) if note else ())


def _code_lines(targets: tuple[Environment, ...], deployed: Mapping[str, CodeDeployed]) -> list[Line]:
    """Where the flag's code is deployed: one line per answer, naming the environments it holds for."""
    answers = ((e.name, (code.state, code.why)) for e in targets if (code := deployed.get(e.option)) is not None)
    return [
        line(f"Code deployed: {state} on {', '.join(names)}" + (f" ({why})" if why else ""))
        for names, (state, why) in grouped(answers)
    ]


def _by(entry: AuditEntry) -> Line:
    who: Line = (Mention(entry.who_id, entry.who),) if entry.who_id else (entry.who,)
    approved = f", approved by @{entry.approved_by}" if entry.approved_by else ""
    return line(f"{entry.description} by ", *who, f"{approved} at {utc(entry.at)}")


async def list_flags(plan: ListPlan, context: Context) -> Reply:
    match = plan.match
    if plan.stale:
        return await _stale(match, context)
    sections: list[Section] = []
    failed = False
    for environment in plan.targets:
        try:
            records = await context.stores[environment.option].list(match)
        except (StoreUnavailable, WrongKeyType) as error:
            sections.append(Section((_unreachable(error, environment),)))
            failed = True
            continue
        title = line(Strong(environment.name), f": {len(records)} flag{'s' if len(records) != 1 else ''}")
        if match is not None:
            title += line(" matching ", Code(match))
        lines = tuple(line(Code(r.name), " ", r.state.describe()) for r in records)
        sections.append(Section(lines or (line("no flags"),), title=title))
    return Reply(not failed, "Feature flags", tuple(sections), public=not failed)


async def _stale(match: str | None, context: Context) -> Reply:
    """Flags ready to clean up, judged on every environment (one that cannot be read: no answer)."""
    environments = context.config.environments
    records: dict[str, dict[str, FlagRecord]] = {}
    for environment in environments:
        try:
            records[environment.option] = {r.name: r for r in await context.stores[environment.option].list(match)}
        except (StoreUnavailable, WrongKeyType) as error:
            return Reply(False, "Feature flags", (Section((_unreachable(error, environment),)),))
    names = sorted(set(context.definitions) | {n for found in records.values() for n in found})
    if match:
        names = [n for n in names if match in n]
    options = [e.option for e in environments]
    newest, now, settings = newest_milestone(context.definitions.values()), time.time(), context.config.cleanup
    lines = [
        line(Code(name), f" — {reason}")
        for name in names
        if (
            reason := stale_reason(
                by_flag(records, options, name), context.definitions.get(name), newest, settings, now
            )
        )
    ]
    title = line(
        f"{len(lines)} flag(s) to clean up: fully on or off everywhere for {settings.days}+ days, "
        f"or a milestone {settings.milestones}+ before {newest or 'the newest'}"
    )
    return Reply(True, "Stale feature flags", (Section(tuple(lines) or (line("none"),), title=title),), public=True)


async def history(plan: HistoryPlan, context: Context) -> Reply:
    limit = plan.limit
    sections: list[Section] = []
    failed = False
    for environment in plan.targets:
        try:
            entries = await context.stores[environment.option].history(plan.name, limit=limit)
        except (StoreUnavailable, WrongKeyType) as error:
            sections.append(Section((_unreachable(error, environment),)))
            failed = True
            continue
        lines = tuple(
            line(f"v{e.version} ", *_by(e), f" in {e.channel or 'unknown channel'}: ", Code(e.after.describe()))
            + _checks(e.checks)
            for e in entries
        )
        title = line(Strong(environment.name), ": history of ", Code(plan.name))
        sections.append(Section(lines or (line("no changes recorded"),), title=title))
    return Reply(not failed, f"History of {plan.name}", tuple(sections), public=not failed)


def _checks(checks: dict[str, str] | object) -> Line:
    if not isinstance(checks, dict) or not checks:
        return ()
    return line(" (" + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(checks.items())) + ")")
