"""Planning the flag commands (``feature get|set|list|delete|history`` and the Roll back button):
validate what was typed (or a button's value) into a typed plan. Nothing here touches Redis.

``set`` is validated in a fixed order — name and value present, the value, percentage kind,
scopes, the deprecated ``--random``, then the flag name and its definition — and the first
problem is raised as ``UsageError`` saying how to fix the command. A name without a definition
(where definitions are configured) is planned as ``UndefinedSet``, which writes nothing: whether
the name is a flag anywhere (or a typo) takes Redis to tell, and plans never read it.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass

from flags import ActorId, Change, DeleteFlag, FlagsError, GroupName, build_change
from handlers.changes.request import ChangeRequest
from handlers.changes.set_plan import SetPlan
from handlers.config import Environment
from handlers.core.arguments import flag_name, no_more, short
from handlers.core.context import Context
from handlers.core.parsing import Invocation, UsageError
from handlers.core.stored import StoredPlan
from handlers.core.timing import parse_at, parse_duration
from handlers.flag_commands.grammar import SCOPE_OPTIONS
from handlers.flag_commands.lookalikes import lookalike_warnings, lookalikes

__all__ = [
    "DeletePlan",
    "FlagPlan",
    "HistoryPlan",
    "ListPlan",
    "RollbackPlan",
    "SetPlan",
    "UndefinedSet",
    "plan_delete",
    "plan_get",
    "plan_history",
    "plan_list",
    "plan_set",
    "rollback_plan",
]

_ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,10}")
_SET_USAGE = "`/chatops run feature set NAME true|false|PERCENTAGE [--actors] [--staging ...]`"


def _overrides(invocation: Invocation) -> frozenset[str]:
    """The ``--ignore-…`` options given: each safety rule looks for its own."""
    return frozenset(o for o, given in invocation.options.items() if o.startswith("ignore-") and given is True)


@dataclass(frozen=True, slots=True)
class FlagPlan:
    """``feature get NAME``: one flag, read on each target environment."""

    name: str
    targets: tuple[Environment, ...]

    @property
    def writes(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class HistoryPlan:
    """``feature history NAME [--limit N]``."""

    name: str
    targets: tuple[Environment, ...]
    limit: int

    @property
    def writes(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ListPlan:
    """``feature list [--match SUBSTRING] [--stale]``."""

    targets: tuple[Environment, ...]
    match: str | None  # only flags whose name contains it
    stale: bool

    @property
    def writes(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class DeletePlan:
    """``feature delete NAME``."""

    name: str
    targets: tuple[Environment, ...]
    text: str
    overrides: frozenset[str] = frozenset()

    @property
    def writes(self) -> bool:
        return True

    def change_request(self, context: Context, kept: StoredPlan | None = None) -> ChangeRequest:
        return SetPlan(self.name, self.targets, DeleteFlag(), self.text, self.overrides).change_request(context, kept)


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """A Roll back button: undo one recorded change on one environment."""

    name: str
    environment: Environment
    entry: str  # the audit entry it undoes

    @property
    def targets(self) -> tuple[Environment, ...]:
        return (self.environment,)

    @property
    def writes(self) -> bool:
        return True


def _one_name(invocation: Invocation) -> str:
    sub, args = invocation.subcommand, invocation.arguments
    if not args:
        raise UsageError(f"`feature {sub}` needs a flag name: `/chatops run feature {sub} NAME`.")
    no_more(args, 1, f"`feature {sub}` takes one flag name: `/chatops run feature {sub} NAME`.")
    return flag_name(args[0])


def plan_get(invocation: Invocation, context: Context) -> FlagPlan:
    return FlagPlan(_one_name(invocation), invocation.environments)


def plan_history(invocation: Invocation, context: Context) -> HistoryPlan:
    limit = invocation.options.get("limit", "10")
    return HistoryPlan(_one_name(invocation), invocation.environments, int(str(limit)))


def plan_delete(invocation: Invocation, context: Context) -> DeletePlan:
    return DeletePlan(_one_name(invocation), invocation.environments, invocation.text, _overrides(invocation))


def plan_list(invocation: Invocation, context: Context) -> ListPlan:
    no_more(invocation.arguments, 0, "`feature list` takes no flag name; filter with `--match SUBSTRING`.")
    match = invocation.options.get("match")
    return ListPlan(invocation.environments, match if isinstance(match, str) else None, invocation.flag("stale"))


def rollback_plan(value: str, context: Context) -> RollbackPlan:
    """The plan of a Roll back button: its value is ``ENV_OPTION|FLAG|AUDIT_ENTRY_ID``."""
    parts = value.split("|")
    if len(parts) != 3:
        raise UsageError("This button does not name a change to roll back.")
    option, name, entry = parts
    environment = context.config.environment(option)
    if environment is None or not _ENTRY_ID.fullmatch(entry):
        raise UsageError("This button does not name a change this bot recorded.")
    return RollbackPlan(flag_name(name), environment, entry)


@dataclass(frozen=True, slots=True)
class UndefinedSet:
    """A ``set`` of a name that has no definition, where definitions are configured: refused when
    handled, changing nothing — as a typo ("No flag named …") when the name is no flag anywhere,
    else with ``refusal``."""

    name: str
    targets: tuple[Environment, ...]
    refusal: str

    @property
    def writes(self) -> bool:
        return False  # it never writes: refused whatever the channel


def plan_set(invocation: Invocation, context: Context) -> SetPlan | UndefinedSet:
    """A ``set``, checked in the order the module's docstring gives; the first problem is raised."""
    raw_name, raw_value = _name_and_value(invocation.arguments)
    number = _value_as_number(raw_value)
    _check_percentage_options(invocation, raw_value, number)
    name = flag_name(raw_name)
    if context.config.definitions and name not in context.definitions:
        return UndefinedSet(name, invocation.environments, _undefined(name, context))
    change = _set_change(invocation, raw_value, number)
    warnings = _actor_warnings(change, context)
    at, delay, lasts = _timing(invocation, context)
    overrides = _overrides(invocation)
    return SetPlan(name, invocation.environments, change, invocation.text, overrides, warnings, at, delay, lasts)


def _name_and_value(args: tuple[str, ...]) -> tuple[str, str]:
    """A ``set``'s flag name and value, as typed: both present, nothing more."""
    if len(args) < 2:
        raise UsageError(f"`feature set` needs a flag name and a value: {_SET_USAGE}.")
    no_more(args, 2, f"`feature set` takes a flag name and one value: {_SET_USAGE}.")
    raw_name, raw_value = args
    return raw_name, raw_value


def _value_as_number(raw_value: str) -> float | None:
    """A ``set``'s value as a number from 0 to 100, or None for true and false; anything else is refused."""
    value = raw_value.strip().lower()
    number = _percentage(raw_value) if value not in ("true", "false") else None
    if value not in ("true", "false") and number is None:
        raise UsageError(
            f"`{short(raw_value)}` is not a valid value: use `true`, `false` or a percentage from 0 "
            "to 100 (e.g. `25 --actors`)."
        )
    return number


def _check_percentage_options(invocation: Invocation, raw_value: str, number: float | None) -> None:
    """``--actors`` and ``--random``: a percentage strictly between 0 and 100 needs exactly one of
    them; either needs a percentage and no scope option; ``--random`` is deprecated (refused without
    its override)."""
    value = raw_value.strip().lower()
    actors_pct, random_pct = invocation.flag("actors"), invocation.flag("random")
    scoped = [o for o in SCOPE_OPTIONS if o in invocation.options]
    if actors_pct and random_pct:
        raise UsageError("Use either `--actors` (percentage of actors) or `--random` (percentage of time), not both.")
    if number is not None and 0 < number < 100 and not (actors_pct or random_pct):
        raise UsageError(
            f"A percentage of {raw_value} needs `--actors` (a stable percentage of actors) or "
            f"`--random` (a percentage of time), e.g. `/chatops run feature set NAME {raw_value} --actors`."
        )
    if (actors_pct or random_pct) and number is None:
        which = "--actors" if actors_pct else "--random"
        raise UsageError(f"`{which}` needs a percentage, not `{value}`: e.g. `feature set NAME 25 {which}`.")
    if (actors_pct or random_pct) and scoped:
        which = "--actors" if actors_pct else "--random"
        raise UsageError(
            f"`{which}` cannot be combined with `--{scoped[0]}`: set the percentage and the actors in two commands."
        )
    if random_pct and not invocation.flag("ignore-random-deprecation-check"):
        raise UsageError(
            "`--random` (percentage of time) is deprecated: each check gets a different answer, so "
            "users see the feature flicker. Use `--actors`; if you really need it, add "
            "`--ignore-random-deprecation-check`."
        )


def _undefined(name: str, context: Context) -> str:
    """Why a ``set`` of ``name``, which has no definition but is a flag somewhere, is refused."""
    close = difflib.get_close_matches(name, list(context.definitions), n=1, cutoff=0.8)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return (
        f"There is no definition for `{name}`.{hint} Check the name, or add its definition "
        "first (`feature get`, `delete` and `history` work without one). Nothing was changed."
    )


def _set_change(invocation: Invocation, raw_value: str, number: float | None) -> Change:
    """The change a checked ``set`` makes; 0 and 100 alone mean false and true."""
    value = raw_value.strip().lower()
    actors_pct, random_pct = invocation.flag("actors"), invocation.flag("random")
    if number is not None and not (actors_pct or random_pct):
        value = "true" if number == 100 else "false"
    try:
        return build_change(
            value if number is None or not (actors_pct or random_pct) else raw_value.strip(),
            actors=_actors(invocation),
            groups=_groups(invocation),
            percentage_of="actors" if actors_pct else "time" if random_pct else None,
        )
    except FlagsError as error:
        raise UsageError(str(error)) from None


def _actor_warnings(change: Change, context: Context) -> tuple[str, ...]:
    """What to say of look-alike actor names in ``change`` (refused instead where configured so)."""
    actors = [a.value for a in getattr(change, "actors", ())]
    if context.config.safety.lookalike_actors == "refuse" and (found := lookalikes(actors)):
        raise UsageError(
            f"{'; '.join(found)}. Look-alike actor names are refused here (`safety.lookalike_actors: refuse`): "
            "type the name in plain letters, as it is in the application."
        )
    return tuple(lookalike_warnings(actors))


def _timing(invocation: Invocation, context: Context) -> tuple[float | None, float | None, float | None]:
    """When a ``set`` runs (``--at``: a time; ``--in``: a delay from when it is made or approved;
    neither: now) and how long it lasts (None: for good). A scheduled run made before plans were
    kept ignores its ``--at``/``--in``: its time has come."""
    at_text, in_text, for_text = (invocation.options.get(o) for o in ("at", "in", "for"))
    if isinstance(at_text, str) and isinstance(in_text, str):
        raise UsageError("Use either `--at TIME` or `--in DURATION`, not both.")
    at = delay = None
    if not context.due:
        if isinstance(at_text, str):
            at = parse_at(at_text, time.time())
        elif isinstance(in_text, str):
            delay = parse_duration("in", in_text)
    lasts = parse_duration("for", for_text) if isinstance(for_text, str) else None
    return at, delay, lasts


def _percentage(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if not text.strip().replace(".", "", 1).isdigit() or not 0 <= number <= 100:
        return None
    return number


def _actors(invocation: Invocation) -> list[ActorId]:
    actors: list[ActorId] = []
    for option in ("user", "project", "group", "namespace", "repository"):
        values = invocation.options.get(option)
        if isinstance(values, tuple):
            try:
                actors += [ActorId.of(option, v) for v in values]
            except FlagsError as error:
                raise UsageError(f"`--{option}`: {error}") from None
    return actors


def _groups(invocation: Invocation) -> list[GroupName]:
    values = invocation.options.get("feature-group")
    if not isinstance(values, tuple):
        return []
    try:
        return [GroupName(v) for v in values]
    except FlagsError as error:
        raise UsageError(f"`--feature-group`: {error}") from None
