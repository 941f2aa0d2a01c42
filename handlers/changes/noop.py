"""Changes that change nothing. An environment that a change would leave reading as it does is not
written: no version, no audit or journal entry, no cross-post. When no targeted environment would
change, the answer says "already …" to the person alone, and no safety rule or approval is asked
for: they guard changes, and this is none. (Who may change the environments is still checked
first, as for any command that writes.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flags import Definition, FlagState
from flags.exposure import same_exposure
from handlers.changes.request import Target
from handlers.core.reply import Code, Line, Reply, Section, line

__all__ = ["already_line", "already_reply", "already_text", "leaves_as_is", "split", "unchanged_part"]


def leaves_as_is(
    flag: str, before: tuple[FlagState, bool], after: tuple[FlagState, bool], definitions: Mapping[str, Definition]
) -> bool:
    """Whether a flag (state, listed in Flipper's set of flags) reads the same after as before: the
    same exposure, and listed alike. Listing an off flag changes nothing only when its definition
    says it is off by default (an unlisted flag reads as its default); unlisting is a delete."""
    (state, exists), (after_state, after_exists) = before, after
    if not same_exposure(state, after_state):
        return False
    if exists == after_exists:
        return True
    definition = definitions.get(flag)
    off_by_default = definition is not None and not definition.default_enabled
    return after_exists and off_by_default and same_exposure(state, FlagState())


def split(
    flag: str, targets: Sequence[Target], definitions: Mapping[str, Definition]
) -> tuple[list[Target], list[Target]]:
    """The targets the change would change, and those it would leave as they are."""
    changing: list[Target] = []
    same: list[Target] = []
    for target in targets:
        before = (target.record.state, target.record.exists)
        unchanged = leaves_as_is(flag, before, (target.after, target.after_exists), definitions)
        (same if unchanged else changing).append(target)
    return changing, same


def already_text(targets: Sequence[Target]) -> str:
    """``on in gstg, gprd``; ``off in dev and 25% of actors in gprd``."""
    where: dict[str, list[str]] = {}
    for target in targets:
        where.setdefault(target.record.state.describe(), []).append(target.environment.name)
    parts = [f"{state} in {', '.join(names)}" for state, names in where.items()]
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def already_line(flag: str, targets: Sequence[Target]) -> Line:
    """``NAME`` is already on in gprd."""
    return line(Code(flag), f" is already {already_text(targets)}")


def unchanged_part(targets: Sequence[Target]) -> Line:
    """Said with a change that wrote other environments: the ones it left as they were."""
    return line(f"Already {already_text(targets)}: not written there.")


def already_reply(flag: str, targets: Sequence[Target]) -> Reply:
    """The answer to a change that would change nothing anywhere: not an error, for the person alone."""
    return Reply(
        True,
        f"{flag} is already {already_text(targets)}: nothing to change",
        (Section((line(*already_line(flag, targets), ": nothing to change, so nothing was written."),)),),
    )
