"""What the change engine is asked to do, and each target as the engine found it."""

from __future__ import annotations

from dataclasses import dataclass

from flags import Change, FlagRecord, FlagState
from flags.exposure import increases_exposure
from handlers.config import Environment
from handlers.core.caller import Caller
from handlers.core.stored import StoredPlan

__all__ = ["ChangeRequest", "Target"]


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """One change of one flag on some environments, by someone, as one command."""

    flag: str
    targets: tuple[Environment, ...]  # written in this order
    change: Change
    who: Caller  # whose rules apply and who is recorded
    command: str  # as recorded and cross-posted, e.g. "/chatops run feature set x true --staging"
    overrides: frozenset[str] = frozenset()  # safety rules the person chose to skip, by their override option
    expected_version: int | None = None  # write only if the (first) target is still at this version
    rollback_of: str = ""  # the audit entry this change rolls back
    plan: StoredPlan | None = None  # what an approval runs again (None: nothing can be approved)
    headline: str = ""  # what the change is called when told ("Killed"); by default, from the change
    reason: str = ""  # why, told right after the headline (a kill's or an abort's reason)

    def overrides_rule(self, option: str | None) -> bool:
        return option is not None and option in self.overrides


@dataclass(frozen=True, slots=True)
class Target:
    """An environment as read before the change, and what the change would make of it."""

    environment: Environment
    record: FlagRecord
    after: FlagState
    after_exists: bool

    @property
    def increases(self) -> bool:
        return increases_exposure(self.record.state, self.after)
