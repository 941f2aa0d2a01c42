"""What every configuration section shares: frozen, unknown keys refused (naming the closest known
one), nulls dropped where null means nothing."""

from __future__ import annotations

import difflib
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, RootModel, model_validator

from handlers.config.types import fail

__all__ = ["ConfigModel", "known_keys"]


def known_keys(model: type[BaseModel], data: Any) -> Any:
    """Refuse keys ``model`` does not have, naming the closest known one. A key set to null is
    null where null means something (``consistency_environment: null``: no consistency check),
    and counts as absent elsewhere (its default applies)."""
    if not isinstance(data, dict) or issubclass(model, RootModel):
        return data
    fields = model.model_fields
    for key in data:
        if key not in fields:
            known = list(fields)
            close = difflib.get_close_matches(str(key), known, n=1)
            raise fail(
                f"unknown key '{key}'"
                + (f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(known)}")
            )
    return {key: value for key, value in data.items() if value is not None or _nullable(fields[key].annotation)}


def _nullable(annotation: Any) -> bool:
    """Whether a field of this type may be None (``str | None``)."""
    return annotation is None or type(None) in get_args(annotation)


class ConfigModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        return known_keys(cls, data)
