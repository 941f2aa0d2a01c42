"""Planning ``feature`` commands: validate what was typed (or the value of a Roll back button).

``set`` is validated in a fixed order — name and value present, the value, percentage kind,
scopes, the deprecated ``--random``, then the flag name and its definition — and the first
problem is raised as ``UsageError`` saying how to fix the command. Nothing here touches Redis.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass
from typing import Any

from flags import ActorId, Change, DeleteFlag, FlagName, FlagsError, GroupName, SetBoolean, build_change
from flags.values import RESERVED_FLAG_NAMES
from handlers.changes.request import ChangeRequest
from handlers.commands.feature.grammar import SCOPE_OPTIONS
from handlers.commands.feature.lookalikes import lookalike_warnings, lookalikes
from handlers.commands.feature.timing import parse_at, parse_duration
from handlers.config import Environment
from handlers.core.context import Context
from handlers.core.parsing import Invocation, UsageError

__all__ = ["FeaturePlan", "cancel_plan", "flag_name", "no_more", "plan", "rollback_plan", "short"]

_WRITES = ("set", "delete", "rollback", "kill")  # and a rollout's start
_ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,10}")
_SCHEDULE_ID = re.compile(r"S[0-9]{1,12}")
_SET_USAGE = "`/chatops run feature set NAME true|false|PERCENTAGE [--actors] [--staging ...]`"


@dataclass(frozen=True, slots=True)
class FeaturePlan:
    subcommand: str
    invocation: Invocation
    targets: tuple[Environment, ...]
    name: str = ""
    change: Change | None = None
    rollback_of: str = ""  # the audit entry a roll back undoes
    warnings: tuple[str, ...] = ()  # said with the answer (e.g. look-alike actor names)
    at: float | None = None  # set: run then (epoch seconds) instead of now
    lasts: float | None = None  # set: seconds until the previous state comes back
    schedule_id: str = ""  # schedule cancel: which one
    action: str = ""  # rollout: start, list, status, pause, resume, next or abort; approval: approve, decline, cancel
    rollout: Any = None  # rollout start: its validated steps, interval, kind and guard (a RolloutStart)

    @property
    def scheduled(self) -> bool:
        return self.at is not None

    @property
    def responders_may(self) -> bool:
        """A kill is allowed to incident responders even where the access rules would not allow them."""
        return self.subcommand == "kill"

    @property
    def writes(self) -> bool:
        return self.subcommand in _WRITES or self.action == "start"

    @property
    def overrides(self) -> frozenset[str]:
        """The ``--ignore-…`` options given: each safety rule looks for its own."""
        return frozenset(o for o, given in self.invocation.options.items() if o.startswith("ignore-") and given is True)

    def change_request(self, context: Context) -> ChangeRequest:
        """What this plan asks the change engine for: its change, as its caller, recorded with the
        command as typed (and what ran it on their behalf)."""
        assert self.change is not None
        return ChangeRequest(
            flag=self.name,
            targets=self.targets,
            change=self.change,
            who=context.caller,
            command=f"/chatops {self.invocation.text}{context.origin}".strip(),
            overrides=self.overrides,
        )


# -- plan ---------------------------------------------------------------------------------------


def plan(invocation: Invocation, context: Context) -> FeaturePlan:
    sub = invocation.subcommand
    args = invocation.arguments
    if sub == "changes":
        no_more(args, 0, "`feature changes` takes no flag name; filter with `--match SUBSTRING`.")
        since = invocation.options.get("since")
        if isinstance(since, str):
            parse_duration("since", since)
        targets = invocation.environments if invocation.explicit_environments else context.config.environments
        return FeaturePlan(sub, invocation, tuple(targets))
    if sub == "list":
        no_more(args, 0, "`feature list` takes no flag name; filter with `--match SUBSTRING`.")
        return FeaturePlan(sub, invocation, invocation.environments)
    if sub == "set":
        return _plan_set(invocation, context)
    if sub == "schedule":
        return _plan_schedule(invocation)
    if not args:
        raise UsageError(f"`feature {sub}` needs a flag name: `/chatops run feature {sub} NAME`.")
    no_more(args, 1, f"`feature {sub}` takes one flag name: `/chatops run feature {sub} NAME`.")
    name = flag_name(args[0])
    if sub == "kill":  # every environment unless some are listed
        targets = invocation.environments if invocation.explicit_environments else context.config.environments
        return FeaturePlan(sub, invocation, tuple(targets), name, SetBoolean(False))
    change = DeleteFlag() if sub == "delete" else None
    return FeaturePlan(sub, invocation, invocation.environments, name, change)


def rollback_plan(value: str, context: Context) -> FeaturePlan:
    """The plan of a Roll back button: its value is ``ENV_OPTION|FLAG|AUDIT_ENTRY_ID``."""
    environments = context.config.environments
    invocation = Invocation("feature", "rollback", (), {}, (), False, f"[Roll back button {value[:120]}]")
    parts = value.split("|")
    if len(parts) != 3:
        raise UsageError("This button does not name a change to roll back.")
    option, name, entry = parts
    environment = next((e for e in environments if e.option == option), None)
    if environment is None or not _ENTRY_ID.fullmatch(entry):
        raise UsageError("This button does not name a change this bot recorded.")
    return FeaturePlan("rollback", invocation, (environment,), flag_name(name), rollback_of=entry)


def cancel_plan(value: str, context: Context) -> FeaturePlan:
    """The plan of a schedule's Cancel button: its value is the schedule id."""
    invocation = Invocation("feature", "schedule", ("cancel", value[:40]), {}, (), False, f"[Cancel {value[:40]}]")
    return _plan_schedule(invocation)


def _plan_schedule(invocation: Invocation) -> FeaturePlan:
    args = invocation.arguments
    action = args[0] if args else ""
    if action == "list":
        no_more(args, 1, "`feature schedule list` takes nothing more.")
        return FeaturePlan("schedule", invocation, ())
    if action == "cancel":
        if len(args) < 2:
            raise UsageError("`feature schedule cancel` needs a schedule id, e.g. `S3`: see `feature schedule list`.")
        no_more(args, 2, "`feature schedule cancel` takes one schedule id, e.g. `S3`.")
        if not _SCHEDULE_ID.fullmatch(args[1]):
            raise UsageError(
                f"`{short(args[1])}` is not a schedule id: they look like `S3` (see `feature schedule list`)."
            )
        return FeaturePlan("schedule", invocation, (), schedule_id=args[1])
    raise UsageError("`feature schedule` takes `list` or `cancel ID`: e.g. `/chatops run feature schedule list`.")


def _timing(invocation: Invocation, context: Context) -> tuple[float | None, float | None]:
    """When a ``set`` runs (None: now) and how long it lasts (None: for good). A scheduled run
    ignores its ``--at``/``--in``: its time has come. (An approved one counts them from the approval.)"""
    at_text, in_text, for_text = (invocation.options.get(o) for o in ("at", "in", "for"))
    if isinstance(at_text, str) and isinstance(in_text, str):
        raise UsageError("Use either `--at TIME` or `--in DURATION`, not both.")
    now = time.time()
    at = None
    if not context.due:
        if isinstance(at_text, str):
            at = parse_at(at_text, now)
        elif isinstance(in_text, str):
            at = now + parse_duration("in", in_text)
    lasts = parse_duration("for", for_text) if isinstance(for_text, str) else None
    return at, lasts


def no_more(args: tuple[str, ...], count: int, message: str) -> None:
    if len(args) > count:
        raise UsageError(f"Unexpected `{short(args[count])}`. {message}")


def short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def flag_name(text: str) -> str:
    if text in RESERVED_FLAG_NAMES:
        raise UsageError(
            f"`{text}` cannot be a flag name: it is the key of Flipper's set of all flags in each "
            "environment, and a flag of that name would break every flag there. Choose another name."
        )
    try:
        return FlagName(text).value
    except FlagsError:
        raise UsageError(
            f"`{short(text)}` is not a valid flag name: use lower-case letters, digits and "
            "underscores, starting with a letter (e.g. `my_feature_flag`)."
        ) from None


def _plan_set(invocation: Invocation, context: Context) -> FeaturePlan:
    """A ``set``, checked in the order the module's docstring gives; the first problem is raised."""
    raw_name, raw_value = _name_and_value(invocation.arguments)
    number = _value_as_number(raw_value)
    _check_percentage_options(invocation, raw_value, number)
    name = _defined_name(raw_name, context)
    change = _set_change(invocation, raw_value, number)
    warnings = _actor_warnings(change, context)
    at, lasts = _timing(invocation, context)
    return FeaturePlan("set", invocation, invocation.environments, name, change, warnings=warnings, at=at, lasts=lasts)


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


def _defined_name(raw_name: str, context: Context) -> str:
    """The flag name, and the typo guard when definitions are configured."""
    name = flag_name(raw_name)
    if context.config.definitions and name not in context.definitions:
        close = difflib.get_close_matches(name, list(context.definitions), n=1, cutoff=0.8)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise UsageError(
            f"There is no definition for `{name}`.{hint} Check the name, or add its definition "
            "first (`feature get`, `delete` and `history` work without one)."
        )
    return name


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
