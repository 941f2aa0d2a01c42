"""The flags API: OpenFeature's remote evaluation protocol (OFREP) over the flags' SDK snapshots.

Any OpenFeature SDK with an OFREP provider (Python, Go, Java, Node, the browser) reads the flags
the bot writes: read-only API keys per environment (back-end keys, and front-end keys that see
only flags whose definition says ``frontend: true``), single and bulk evaluation with Flipper's
answers, an ETag for bulk answers, and the last good snapshot, marked stale, while Redis is away.
``bot`` serves it over HTTP (``chatops flags-api``, or mounted in ``chatops serve``).
"""

from __future__ import annotations

from handlers.flags_api.context import BadRequest, EvaluationContext, parse_request
from handlers.flags_api.keys import ApiKey, KeyRing, KeysUnavailable, presented_key
from handlers.flags_api.service import Answer, FlagsApi

__all__ = [
    "Answer",
    "ApiKey",
    "BadRequest",
    "EvaluationContext",
    "FlagsApi",
    "KeyRing",
    "KeysUnavailable",
    "parse_request",
    "presented_key",
]
