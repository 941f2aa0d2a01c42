"""A planned ``feature set`` (or a rollout step, a scheduled or approved change, all of which run
one): the change, where, and when. It is kept as JSON by work that runs it later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flags import (
    ActorId,
    Change,
    DeleteFlag,
    GroupName,
    Percentage,
    SetBoolean,
    SetPercentageOfActors,
    SetPercentageOfTime,
    SetScopes,
)
from handlers.changes.request import ChangeRequest
from handlers.config import Config, Environment
from handlers.core.context import Context
from handlers.core.stored import StoredPlan

__all__ = ["SetPlan", "change_from_data", "change_to_data", "environments_of"]


@dataclass(frozen=True, slots=True)
class SetPlan:
    """``feature set NAME VALUE …``: the change, where, and when (now, later, for a while)."""

    name: str
    targets: tuple[Environment, ...]
    change: Change
    text: str  # the command as typed (or as it would be typed), after ``/chatops``
    overrides: frozenset[str] = frozenset()  # the ``--ignore-…`` options given
    warnings: tuple[str, ...] = ()  # said with the answer (e.g. look-alike actor names)
    at: float | None = None  # --at: run then (epoch seconds) instead of now
    delay_s: float | None = None  # --in: run this long after it is made (or approved) instead of now
    lasts: float | None = None  # --for: seconds until the previous state comes back

    @property
    def writes(self) -> bool:
        return True

    def change_request(self, context: Context, stored: StoredPlan | None = None) -> ChangeRequest:
        """What this plan asks the change engine for: its change, as its caller, recorded with the
        command as typed (and what ran it on their behalf)."""
        return ChangeRequest(
            flag=self.name,
            targets=self.targets,
            change=self.change,
            who=context.caller,
            command=f"/chatops {self.text}{context.origin}".strip(),
            overrides=self.overrides,
            plan=stored,
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "targets": [e.option for e in self.targets],
            "change": change_to_data(self.change),
            "text": self.text,
            "overrides": sorted(self.overrides),
            "warnings": list(self.warnings),
            "at": self.at,
            "delay_s": self.delay_s,
            "lasts": self.lasts,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], config: Config) -> SetPlan:
        """Raises ValueError when it names an environment no longer configured, or is malformed."""
        targets = environments_of(data["targets"], config)
        number = {k: (float(data[k]) if data.get(k) is not None else None) for k in ("at", "delay_s", "lasts")}
        return cls(
            str(data["name"]),
            targets,
            change_from_data(dict(data["change"])),
            str(data["text"]),
            frozenset(str(o) for o in data.get("overrides", ())),
            tuple(str(w) for w in data.get("warnings", ())),
            number["at"],
            number["delay_s"],
            number["lasts"],
        )


def change_to_data(change: Change) -> dict[str, Any]:
    if isinstance(change, SetBoolean):
        return {"kind": "boolean", "value": change.value}
    if isinstance(change, SetScopes):
        return {
            "kind": "scopes",
            "enabled": change.enabled,
            "actors": [a.value for a in change.actors],
            "groups": [g.value for g in change.groups],
        }
    if isinstance(change, SetPercentageOfActors):
        return {"kind": "percentage_of_actors", "percentage": change.percentage.text}
    if isinstance(change, SetPercentageOfTime):
        return {"kind": "percentage_of_time", "percentage": change.percentage.text}
    if isinstance(change, DeleteFlag):
        return {"kind": "delete"}
    raise ValueError(f"a {type(change).__name__} is not kept for later")


def change_from_data(data: dict[str, Any]) -> Change:
    kind = data.get("kind")
    if kind == "boolean":
        return SetBoolean(bool(data["value"]))
    if kind == "scopes":
        actors = tuple(ActorId(str(a)) for a in data.get("actors", ()))
        groups = tuple(GroupName(str(g)) for g in data.get("groups", ()))
        return SetScopes(bool(data["enabled"]), actors, groups)
    if kind == "percentage_of_actors":
        return SetPercentageOfActors(Percentage(str(data["percentage"])))
    if kind == "percentage_of_time":
        return SetPercentageOfTime(Percentage(str(data["percentage"])))
    if kind == "delete":
        return DeleteFlag()
    raise ValueError(f"unknown kind of change {kind!r}")


def environments_of(options: Any, config: Config) -> tuple[Environment, ...]:
    """The configured environments of these options; ValueError naming one no longer configured."""
    found = []
    for option in options:
        environment = config.environment(str(option))
        if environment is None:
            raise ValueError(f"--{option} is no longer a configured environment")
        found.append(environment)
    return tuple(found)
