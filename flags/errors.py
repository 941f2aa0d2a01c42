"""Typed errors raised by the flags package.

Every error raised for bad input is raised before anything touches Redis.
"""

from __future__ import annotations

__all__ = [
    "ChangeConflict",
    "DefinitionError",
    "FlagsError",
    "InvalidActor",
    "InvalidChange",
    "InvalidFlagName",
    "InvalidPercentage",
    "StoreUnavailable",
]


class FlagsError(Exception):
    """Base class of every error the flags package raises on purpose."""


class InvalidFlagName(FlagsError, ValueError):
    """A flag name that does not match ``^[a-z][a-z0-9_]{0,254}$``."""


class InvalidPercentage(FlagsError, ValueError):
    """A percentage outside 0-100 or with more than three decimals."""


class InvalidActor(FlagsError, ValueError):
    """An actor id or group name that is empty or malformed."""


class InvalidChange(FlagsError, ValueError):
    """A combination of gates that Flipper cannot express in one change."""


class DefinitionError(FlagsError, ValueError):
    """A flag definition file that cannot be loaded."""


class StoreUnavailable(FlagsError):
    """Redis could not be reached, or failed while a change was applied.

    The change was not applied: a change is one atomic step.
    """

    def __init__(self, environment: str, reason: str) -> None:
        where = f" for {environment}" if environment else ""
        super().__init__(f"could not reach Redis{where}: {reason}")
        self.environment = environment
        self.reason = reason


class WrongKeyType(FlagsError):
    """A key of the layout holds another Redis type than the layout puts there (written by hand,
    or by another tool). Nothing was read or changed through it; it is not an outage."""

    def __init__(self, environment: str, key: str, actual: str, expected: str) -> None:
        super().__init__(
            f"the Redis key '{key}' on {environment or 'this environment'} holds a {actual}, where the "
            f"flag layout keeps a {expected}, so it cannot be used. Someone wrote it by hand or with "
            f"another tool: look at it (TYPE, then DEL or repair it) before using this flag there"
        )
        self.environment = environment
        self.key = key
        self.actual = actual
        self.expected = expected


class ChangeConflict(FlagsError):
    """A change made on condition of a flag version found another version."""

    def __init__(self, name: str, expected: int, actual: int, *, environment: str = "") -> None:
        super().__init__(f"flag {name} is at version {actual}, not {expected}: it changed since")
        self.name = name
        self.environment = environment
        self.expected = expected
        self.actual = actual
