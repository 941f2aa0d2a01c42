"""Reading a percentage gate's text the way Flipper's Typecast.to_percentage does."""

from __future__ import annotations

import re

import structlog

__all__: list[str] = []

_INTEGER = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?")

_log = structlog.get_logger("flags")


def read_percentage(text: str | None, feature_name: str, gate: str) -> int | float | None:
    """The number Flipper would use, or None when the gate is unset or corrupt.

    Flipper reads text with a dot as a Float and anything else as an Integer;
    the comparison ``crc % 100000 < pct * 1000`` is then done in that type, so
    we keep the same type to give the same answer at every boundary. Text that
    is not a number (written by someone else) closes the gate and is logged.
    """
    if text is None:
        return None
    if "." in text:
        if _FLOAT.fullmatch(text):
            return float(text)
    elif _INTEGER.fullmatch(text):
        return int(text)
    _log.warning("flags.corrupt_gate_value", feature=feature_name, gate=gate, value=text[:100])
    return None
