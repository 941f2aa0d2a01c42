"""Checking the words of a command: how many there are, and flag names."""

from __future__ import annotations

from flags import FlagName, FlagsError
from flags.values import RESERVED_FLAG_NAMES
from handlers.core.parsing import UsageError

__all__ = ["flag_name", "no_more", "short"]


def no_more(args: tuple[str, ...], count: int, message: str) -> None:
    """Refuse words past the first ``count``, saying ``message``."""
    if len(args) > count:
        raise UsageError(f"Unexpected `{short(args[count])}`. {message}")


def short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def flag_name(text: str) -> str:
    """A valid flag name, or a UsageError saying what one looks like."""
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
