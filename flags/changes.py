"""Flag changes as values: each is validated when built and knows its hash mutation.

Each change also describes itself for people (``describe``, ``value_text``) and says whether
it switches something on (``enables``). The mutations follow Flipper's semantics: enabling the boolean gate
clears the other gates, disabling it deletes the hash, actor and group gates
add or remove one field each, percentages set one field, and ``delete``
removes the flag from the feature set as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flags.errors import InvalidChange
from flags.state import FlagState, listing
from flags.values import ActorId, GroupName, Percentage

__all__ = [
    "MAX_SCOPE_ITEMS",
    "Change",
    "DeleteFlag",
    "Mutation",
    "RestoreState",
    "SetBoolean",
    "SetPercentageOfActors",
    "SetPercentageOfTime",
    "SetScopes",
    "build_change",
]

#: Most actors and groups one change may name (keeps each change one small step).
MAX_SCOPE_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class Mutation:
    """The Redis operations of one change, applied atomically by the store."""

    clear: bool = False
    set_fields: tuple[tuple[str, str], ...] = ()
    delete_fields: tuple[str, ...] = ()
    remove: bool = False


@dataclass(frozen=True, slots=True)
class SetBoolean:
    value: bool

    def mutation(self) -> Mutation:
        if self.value:
            return Mutation(clear=True, set_fields=(("boolean", "true"),))
        return Mutation(clear=True)

    def describe(self) -> str:
        return f"set to {str(self.value).lower()}"

    def value_text(self) -> str:
        return str(self.value).lower()

    @property
    def enables(self) -> bool:
        return self.value


@dataclass(frozen=True, slots=True)
class SetScopes:
    """Enable or disable the flag for actors and/or groups."""

    enabled: bool
    actors: tuple[ActorId, ...] = ()
    groups: tuple[GroupName, ...] = ()

    def __post_init__(self) -> None:
        if not self.actors and not self.groups:
            raise InvalidChange("a scoped change needs at least one actor or group")
        if len(self.actors) + len(self.groups) > MAX_SCOPE_ITEMS:
            raise InvalidChange(f"a change may name at most {MAX_SCOPE_ITEMS} actors and groups; split it")
        for actor in self.actors:
            if not isinstance(actor, ActorId):
                raise InvalidChange(f"{actor!r} is not an ActorId")
        for group in self.groups:
            if not isinstance(group, GroupName):
                raise InvalidChange(f"{group!r} is not a GroupName")

    def _fields(self) -> tuple[str, ...]:
        return tuple(f"actors/{a.value}" for a in self.actors) + tuple(f"groups/{g.value}" for g in self.groups)

    def mutation(self) -> Mutation:
        if self.enabled:
            return Mutation(set_fields=tuple((f, "1") for f in self._fields()))
        return Mutation(delete_fields=self._fields())

    def describe(self) -> str:
        names = [a.value for a in self.actors] + [f"group {g.value}" for g in self.groups]
        verb = "enabled" if self.enabled else "disabled"
        return f"{verb} for " + listing(names, "actors and groups")

    def value_text(self) -> str:
        names = [a.value for a in self.actors] + [g.value for g in self.groups]
        return f"{str(self.enabled).lower()} for {listing(names, 'actors and groups')}"

    @property
    def enables(self) -> bool:
        return self.enabled


@dataclass(frozen=True, slots=True)
class SetPercentageOfActors:
    percentage: Percentage

    def mutation(self) -> Mutation:
        return Mutation(set_fields=(("percentage_of_actors", self.percentage.text),))

    def describe(self) -> str:
        return f"set to {self.percentage.text}% of actors"

    def value_text(self) -> str:
        return f"{self.percentage.text}% of actors"

    @property
    def enables(self) -> bool:
        return self.percentage.value > 0


@dataclass(frozen=True, slots=True)
class SetPercentageOfTime:
    percentage: Percentage

    def mutation(self) -> Mutation:
        return Mutation(set_fields=(("percentage_of_time", self.percentage.text),))

    def describe(self) -> str:
        return f"set to {self.percentage.text}% of time"

    def value_text(self) -> str:
        return f"{self.percentage.text}% of time"

    @property
    def enables(self) -> bool:
        return self.percentage.value > 0


@dataclass(frozen=True, slots=True)
class DeleteFlag:
    def mutation(self) -> Mutation:
        return Mutation(clear=True, remove=True)

    def describe(self) -> str:
        return "deleted"

    def value_text(self) -> str:
        return "deleted"

    @property
    def enables(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class RestoreState:
    """Put back an earlier state exactly (a roll back)."""

    state: FlagState = field(default_factory=FlagState)
    exists: bool = True

    def mutation(self) -> Mutation:
        if not self.exists:
            return Mutation(clear=True, remove=True)
        return Mutation(clear=True, set_fields=tuple(self.state.to_hash().items()))

    def describe(self) -> str:
        if not self.exists:
            return "restored to off"
        return f"restored to {self.state.describe()}"

    def value_text(self) -> str:
        return self.state.describe() if self.exists else "off"

    @property
    def enables(self) -> bool:
        return False  # a roll back puts back what was; it triggers no end-to-end run


Change = SetBoolean | SetScopes | SetPercentageOfActors | SetPercentageOfTime | DeleteFlag | RestoreState


def build_change(
    value: str,
    *,
    actors: Iterable[ActorId] = (),
    groups: Iterable[GroupName] = (),
    percentage_of: str | None = None,
) -> Change:
    """Build the change for ``feature set NAME VALUE [scopes] [--actors|--random]``.

    ``percentage_of`` is ``"actors"``, ``"time"`` or None. Raises ``InvalidChange``
    or ``InvalidPercentage`` with a message that says how to fix the command.
    """
    actor_ids = tuple(actors)
    group_names = tuple(groups)
    scoped = bool(actor_ids or group_names)
    if percentage_of not in (None, "actors", "time"):
        raise InvalidChange(f"unknown percentage kind {percentage_of!r}: use actors or time")
    text = value.strip().lower()
    if text in ("true", "false"):
        if percentage_of is not None:
            raise InvalidChange(
                f"--{'actors' if percentage_of == 'actors' else 'random'} needs a percentage, "
                f"not {text}: e.g. set NAME 25 --actors"
            )
        if scoped:
            return SetScopes(enabled=text == "true", actors=actor_ids, groups=group_names)
        return SetBoolean(text == "true")
    percentage = Percentage(value)
    if scoped:
        raise InvalidChange(
            "a percentage cannot be combined with --user, --project, --group, --namespace, "
            "--repository or --feature-group: set the percentage and the actors separately"
        )
    if percentage_of == "actors":
        return SetPercentageOfActors(percentage)
    if percentage_of == "time":
        return SetPercentageOfTime(percentage)
    if percentage.text in ("0", "100"):
        return SetBoolean(percentage.text == "100")
    raise InvalidChange(
        f"a percentage of {percentage.text} needs --actors (percentage of actors) or "
        "--random (percentage of time): e.g. set NAME 25 --actors"
    )
