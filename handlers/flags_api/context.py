"""An evaluation request's body, read as OFREP defines it: ``{"context": {"targetingKey": ..., ...}}``.

The ``targetingKey`` is the actor's Flipper id (``User:42``); the ``groups`` attribute names the
Flipper groups the actor is in (group predicates live in application code, so the caller states
membership). Other attributes are accepted and play no part in Flipper's answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["INVALID_CONTEXT", "PARSE_ERROR", "BadRequest", "EvaluationContext", "parse_request"]

PARSE_ERROR = "PARSE_ERROR"
INVALID_CONTEXT = "INVALID_CONTEXT"
MAX_GROUPS = 1000
_EXAMPLE = '{"context": {"targetingKey": "User:42", "groups": ["admins"]}}'


class BadRequest(ValueError):
    """A request body that cannot be evaluated: ``code`` is OFREP's errorCode, the message says why."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    targeting_key: str | None = None  # the actor's Flipper id; None: nobody in particular
    groups: tuple[str, ...] = ()  # the Flipper groups the actor is in, sorted

    @property
    def canonical(self) -> str:
        """What of the context decides answers, as text (for the bulk answer's ETag)."""
        return json.dumps([self.targeting_key, self.groups], separators=(",", ":"))


def parse_request(body: bytes) -> EvaluationContext:
    """The evaluation context of a request body; raises BadRequest with OFREP's errorCode."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(PARSE_ERROR, f"The request body is not JSON ({error}); send {_EXAMPLE}") from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise BadRequest(PARSE_ERROR, f"The request body must be a JSON object, not {kind}; send {_EXAMPLE}")
    context = data.get("context", {})  # OpenFeature's providers leave it out when the context is empty
    if not isinstance(context, dict):
        kind = "null" if context is None else type(context).__name__
        raise BadRequest(INVALID_CONTEXT, f"context must be an object, not {kind}; send {_EXAMPLE}")
    return EvaluationContext(_targeting_key(context.get("targetingKey")), _groups(context.get("groups")))


def _targeting_key(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(
            INVALID_CONTEXT, f"targetingKey must be text, the actor's Flipper id such as User:42, not {value!r}"[:300]
        )
    return value


def _groups(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value) or len(value) > MAX_GROUPS:
        raise BadRequest(
            INVALID_CONTEXT,
            f"groups must be a list of the Flipper groups the actor is in (at most {MAX_GROUPS}), "
            f'e.g. ["admins"], not {value!r}'[:300],
        )
    return tuple(sorted(set(value)))
