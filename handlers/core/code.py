"""Whether a flag's code is deployed where it is asked about: the deployments capability answers
(``CODE_DEPLOYED``), and ``feature get`` shows it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from handlers.config import Environment
from handlers.core.context import Context
from handlers.core.ports import PortKey

__all__ = ["CODE_DEPLOYED", "CodeDeployed", "CodeDeployment"]


@dataclass(frozen=True, slots=True)
class CodeDeployed:
    """Whether a flag's code is deployed to an environment: yes, no, or unknown (and why)."""

    state: Literal["yes", "no", "unknown"]
    why: str = ""  # for no and unknown
    commit: str = ""  # the short SHA of the flag's merge commit, when known


class CodeDeployment(Protocol):
    async def code_deployed(
        self, flag: str, environments: Sequence[Environment], context: Context
    ) -> dict[str, CodeDeployed]:
        """By environment option; empty when the flag or the bot cannot say."""


CODE_DEPLOYED: PortKey[CodeDeployment] = PortKey("code deployed")
