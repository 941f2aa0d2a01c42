"""Planning ``feature rollout``: start (``NAME --steps … --every …``), an action on a rollout
(``status|pause|resume|next|abort NAME``), or ``list``. Nothing here touches Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from flags import Change, Percentage, SetBoolean, SetPercentageOfActors, SetPercentageOfTime
from handlers.changes.set_plan import environments_of
from handlers.checks.matchers import InvalidMatcher, check_matcher
from handlers.config import Config, Environment
from handlers.core.arguments import flag_name, no_more, short
from handlers.core.context import Context, Unscoped
from handlers.core.parsing import Invocation, UsageError
from handlers.core.timing import parse_duration

__all__ = ["ACTIONS", "RolloutList", "RolloutPlan", "RolloutStart", "RolloutSteer", "rollout_plan", "step_change"]

ACTIONS = ("status", "pause", "resume", "next", "abort")
_USAGE = "`/chatops run feature rollout NAME --steps 1,10,25,50,100 --every 15m [environments]`"
#: The safety rule overrides a rollout passes to every step.
STEP_OVERRIDES = ("ignore-feature-flag-consistency-check", "ignore-random-deprecation-check", "ignore-deployment-check")


@dataclass(frozen=True, slots=True)
class RolloutStart:
    """``feature rollout NAME --steps … --every …``, validated."""

    name: str
    targets: tuple[Environment, ...]
    steps: tuple[float, ...]
    every_s: float
    kind: Literal["actors", "random"]
    guard: tuple[str, ...]  # Alertmanager matchers; a matching firing alert aborts
    overrides: tuple[str, ...]  # passed to every step
    text: str  # the command as typed, after ``/chatops``
    metrics: tuple[str, ...] = ()  # metric checks evaluated between steps

    @property
    def writes(self) -> bool:
        return True

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "targets": [e.option for e in self.targets],
            "steps": list(self.steps),
            "every_s": self.every_s,
            "kind": self.kind,
            "guard": list(self.guard),
            "overrides": list(self.overrides),
            "text": self.text,
            "metrics": list(self.metrics),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], config: Config) -> RolloutStart:
        kind: Literal["actors", "random"] = "random" if data["kind"] == "random" else "actors"
        return cls(
            str(data["name"]),
            environments_of(data["targets"], config),
            tuple(float(s) for s in data["steps"]),
            float(data["every_s"]),
            kind,
            tuple(str(g) for g in data["guard"]),
            tuple(str(o) for o in data["overrides"]),
            str(data["text"]),
            tuple(str(m) for m in data.get("metrics") or ()),
        )


@dataclass(frozen=True, slots=True)
class RolloutSteer(Unscoped):
    """``feature rollout status|pause|resume|next|abort NAME`` (NAME: the flag, or a rollout id),
    typed or clicked. Who may steer is checked against the rollout found."""

    action: str
    name: str


@dataclass(frozen=True, slots=True)
class RolloutList(Unscoped):
    """``feature rollout list``."""


RolloutPlan = RolloutStart | RolloutSteer | RolloutList


def step_change(kind: str, percentage: float) -> Change:
    """What a step writes: the percentage of actors (or of time, ``random``); 100% is ``true``
    (enabled for everyone, as a rollout ends)."""
    if percentage >= 100:
        return SetBoolean(True)
    return (SetPercentageOfTime if kind == "random" else SetPercentageOfActors)(Percentage(f"{percentage:g}"))


def rollout_plan(invocation: Invocation, context: Context) -> RolloutPlan:
    args = invocation.arguments
    if not args:
        raise UsageError(f"`feature rollout` needs a flag name: {_USAGE}, or `feature rollout list`.")
    if args[0] == "list":
        no_more(args, 1, "`feature rollout list` takes nothing more.")
        return RolloutList()
    if args[0] in ACTIONS:
        if len(args) < 2:
            raise UsageError(f"`feature rollout {args[0]}` needs the flag name: `feature rollout {args[0]} NAME`.")
        no_more(args, 2, f"`feature rollout {args[0]}` takes one flag name.")
        return RolloutSteer(args[0], flag_name(args[1]))
    no_more(args, 1, f"`feature rollout` takes one flag name: {_USAGE}.")
    return _start(args[0], invocation, context)


def _start(raw_name: str, invocation: Invocation, context: Context) -> RolloutStart:
    name = flag_name(raw_name)
    if context.config.definitions and name not in context.definitions:
        raise UsageError(f"There is no definition for `{name}`. Check the name, or add its definition first.")
    steps = _steps(invocation.options.get("steps"))
    every_text = invocation.options.get("every")
    if not isinstance(every_text, str):
        raise UsageError(f"`feature rollout` needs `--every DURATION` (time between steps, e.g. `15m`): {_USAGE}.")
    every_s = parse_duration("every", every_text)
    least = context.config.safety.rollout_min_every_seconds
    if any(e.production for e in invocation.environments) and every_s < least:
        raise UsageError(
            f"`--every {every_text}` is too short for production: at least {least:g} s between steps "
            "(`safety.rollout_min_every_seconds`)."
        )
    if invocation.flag("actors") and invocation.flag("random"):
        raise UsageError("Use either `--actors` (the default) or `--random`, not both.")
    if invocation.flag("random") and not invocation.flag("ignore-random-deprecation-check"):
        raise UsageError(
            "`--random` (percentage of time) is deprecated: users see the feature flicker. Use `--actors`; "
            "if you really need it, add `--ignore-random-deprecation-check`."
        )
    guard = invocation.options.get("guard")
    matchers = guard if isinstance(guard, tuple) else _default_guard(context)
    for matcher in matchers:
        try:
            check_matcher(matcher)
        except InvalidMatcher as error:
            raise UsageError(f"`--guard`: {error}") from None
    kind: Literal["actors", "random"] = "random" if invocation.flag("random") else "actors"
    overrides = tuple(o for o in STEP_OVERRIDES if invocation.flag(o))
    metrics = _metric_checks(name, invocation.options.get("metrics"), context)
    return RolloutStart(
        name, invocation.environments, steps, every_s, kind, matchers, overrides, invocation.text, metrics
    )


def _steps(text: object) -> tuple[float, ...]:
    if not isinstance(text, str):
        raise UsageError(f"`feature rollout` needs `--steps`, rising percentages: {_USAGE}.")
    steps: list[float] = []
    for word in text.split(","):
        try:
            value = float(word.strip())
        except ValueError:
            raise UsageError(f"`--steps {short(text)}`: `{short(word.strip())}` is not a percentage.") from None
        if not 0 < value <= 100:
            raise UsageError(f"`--steps {short(text)}`: {value:g} is not a percentage above 0 and at most 100.")
        if steps and value <= steps[-1]:
            raise UsageError(f"`--steps {short(text)}`: steps must rise ({value:g} comes after {steps[-1]:g}).")
        steps.append(value)
    return tuple(steps)


def _default_guard(context: Context) -> tuple[str, ...]:
    settings = getattr(context.config.safety.production_check, "alertmanager", None)
    matchers = getattr(settings, "matchers", ())
    return tuple(str(m) for m in matchers)


def _metric_checks(name: str, given: object, context: Context) -> tuple[str, ...]:
    """The metric checks that guard the rollout: ``--metrics`` (``none``: no check), else the flag's
    definition's, else the watch's; each must be configured."""
    metrics = context.config.metrics
    if isinstance(given, tuple) and given == ("none",):
        return ()
    if metrics is None:
        if isinstance(given, tuple):
            raise UsageError("`--metrics`: no Prometheus is configured (the `metrics:` section), so no check can run.")
        return ()
    definition = context.definitions.get(name)
    if isinstance(given, tuple):
        names = given
    elif definition is not None and definition.metrics:
        names = definition.metrics
    else:
        names = metrics.watch.checks if metrics.watch else ()
    unknown = [n for n in names if n not in metrics.checks]
    if unknown:
        known = ", ".join(sorted(metrics.checks)) or "none"
        whose = "`--metrics`" if isinstance(given, tuple) else f"the definition of `{name}`"
        raise UsageError(f"{whose} names an unknown check `{short(unknown[0])}`; configured checks: {known}.")
    return tuple(names)
