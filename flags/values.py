"""Value types validated when built: flag names, percentages, actor ids, group names."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from flags.errors import InvalidActor, InvalidFlagName, InvalidPercentage

__all__ = ["ACTOR_TYPES", "RESERVED_FLAG_NAMES", "ActorId", "FlagName", "GroupName", "Percentage"]

_FLAG_NAME = re.compile(r"[a-z][a-z0-9_]{0,254}")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,254}")

#: Scope option → Flipper actor type, as GitLab's chatops writes them.
ACTOR_TYPES: dict[str, str] = {
    "user": "User",
    "project": "Project",
    "group": "Group",
    "namespace": "Namespace",
    "repository": "Repository",
}


#: Names a flag may not have: Flipper's own key in each environment (the set of all flags).
#: The bot's keys contain a colon, which no flag name can, so they need no entry here.
RESERVED_FLAG_NAMES = frozenset({"flipper_features"})
#: Unicode categories that are invisible or reorder text: control, format (zero-width, bidi, soft
#: hyphen), unassigned, private use and surrogates. An actor id containing one looks like another.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})


@dataclass(frozen=True, slots=True)
class FlagName:
    """A flag name as Flipper and GitLab's definitions spell it."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _FLAG_NAME.fullmatch(self.value):
            raise InvalidFlagName(
                f"{self.value!r} is not a valid flag name: use lower-case letters, digits "
                "and underscores, starting with a letter, at most 255 characters "
                "(for example enforce_explicit_connection_for_partitioned_shared_models)"
            )
        if self.value in RESERVED_FLAG_NAMES:
            raise InvalidFlagName(
                f"{self.value!r} is reserved: it is the key of Flipper's set of all flags in each "
                "environment, so a flag of that name would break them all; choose another name"
            )

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Percentage:
    """A percentage from 0 to 100 with at most three decimals.

    ``text`` is what is written to Redis: the shortest form (``"50"``, ``"12.5"``),
    which Flipper reads back as an Integer or a Float exactly as we do.
    """

    text: str

    def __post_init__(self) -> None:
        raw = self.text.strip() if isinstance(self.text, str) else ""
        if not _NUMBER.fullmatch(raw):
            raise InvalidPercentage(
                f"{self.text!r} is not a percentage: give a number from 0 to 100, for example 25 or 12.5"
            )
        number = Decimal(raw)
        if number < 0 or number > 100:
            raise InvalidPercentage(f"{self.text!r} is outside 0-100: a percentage must be from 0 to 100")
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -3:
            raise InvalidPercentage(
                f"{self.text!r} has more than 3 decimals: Flipper supports up to 3 (for example 0.125)"
            )
        object.__setattr__(self, "text", _shortest(number))

    @property
    def value(self) -> float:
        return float(self.text)

    def __str__(self) -> str:
        return self.text


def _shortest(number: Decimal) -> str:
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


@dataclass(frozen=True, slots=True)
class ActorId:
    """A Flipper actor id, ``Type:value`` (``User:alice``, ``Project:gitlab-org/gitaly``)."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.value.strip():
            raise InvalidActor("an actor id cannot be empty: give it as Type:value, e.g. User:alice")
        if self.value != self.value.strip() or any(c.isspace() for c in self.value):
            raise InvalidActor(f"actor id {self.value!r} contains spaces; remove them")
        if any(ord(c) < 32 or c in "<>|" for c in self.value):
            raise InvalidActor(
                f"actor id {self.value!r} contains '<', '>', '|' or control characters; "
                "use the plain name, e.g. User:alice"
            )
        hidden = next((c for c in self.value if c == "`" or unicodedata.category(c) in _HIDDEN_CATEGORIES), None)
        if hidden is not None:
            what = "a backtick" if hidden == "`" else f"the invisible character U+{ord(hidden):04X}"
            raise InvalidActor(
                f"actor id {self.value!r} contains {what} ({unicodedata.name(hidden, 'a control character')}); "
                "type the plain name, e.g. User:alice"
            )

    @classmethod
    def of(cls, kind: str, value: str) -> ActorId:
        """Build the id for a scope option: ``of("user", "alice")`` → ``User:alice``."""
        actor_type = ACTOR_TYPES.get(kind)
        if actor_type is None:
            known = ", ".join(sorted(ACTOR_TYPES))
            raise InvalidActor(f"unknown actor type {kind!r}; known types: {known}")
        stripped = value.strip() if isinstance(value, str) else ""
        if not stripped:
            raise InvalidActor(f"the --{kind} value is empty: give a name, e.g. --{kind}=alice")
        return cls(f"{actor_type}:{stripped}")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class GroupName:
    """The name of a Flipper group (a registered predicate in the application)."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _GROUP_NAME.fullmatch(self.value):
            raise InvalidActor(
                f"{self.value!r} is not a valid feature group name: use letters, digits, "
                "'_', '.', ':' or '-', e.g. gitlab_team_members"
            )

    def __str__(self) -> str:
        return self.value
