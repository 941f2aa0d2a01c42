"""flags: Flipper-compatible feature flags on Redis.

The bot writes flags through a ``FlagStorage``: ``FlagStore`` (Redis, in Flipper's
layout) or ``MemoryFlagStore`` (Python dicts, for tests); applications read them
with the ``Flags`` (threads) or ``AsyncFlags`` (asyncio) client, which evaluate
from an in-process snapshot exactly as Ruby's Flipper 0.25 would.
"""

from flags.adapter import FlagStorage
from flags.aio import AsyncFlags
from flags.changes import (
    Change,
    DeleteFlag,
    RestoreState,
    SetBoolean,
    SetPercentageOfActors,
    SetPercentageOfTime,
    SetScopes,
    build_change,
)
from flags.client import Flags
from flags.definitions import Definition, LintProblem, lint_definitions, load_definitions
from flags.embedded import EmbeddedRedis, resolve_redis_url
from flags.errors import (
    ChangeConflict,
    DefinitionError,
    FlagsError,
    InvalidActor,
    InvalidChange,
    InvalidFlagName,
    InvalidPercentage,
    StoreUnavailable,
    WrongKeyType,
)
from flags.evaluation import compile_flag
from flags.keys import Keys
from flags.memory import MemoryBackend, MemoryFlagStore
from flags.records import AuditEntry, AuditInfo, ChangeResult, FlagRecord
from flags.state import FlagState
from flags.store import FlagStore, Write, apply_together
from flags.values import ActorId, FlagName, GroupName, Percentage

__all__ = [
    "ActorId",
    "AsyncFlags",
    "AuditEntry",
    "AuditInfo",
    "Change",
    "ChangeConflict",
    "ChangeResult",
    "Definition",
    "DefinitionError",
    "DeleteFlag",
    "EmbeddedRedis",
    "FlagName",
    "FlagRecord",
    "FlagState",
    "FlagStorage",
    "FlagStore",
    "Flags",
    "FlagsError",
    "GroupName",
    "InvalidActor",
    "InvalidChange",
    "InvalidFlagName",
    "InvalidPercentage",
    "Keys",
    "LintProblem",
    "MemoryBackend",
    "MemoryFlagStore",
    "Percentage",
    "RestoreState",
    "SetBoolean",
    "SetPercentageOfActors",
    "SetPercentageOfTime",
    "SetScopes",
    "StoreUnavailable",
    "Write",
    "WrongKeyType",
    "apply_together",
    "build_change",
    "compile_flag",
    "lint_definitions",
    "load_definitions",
    "resolve_redis_url",
]
