"""Reading the configuration file; every mistake becomes one ConfigError naming its key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from handlers.config.model import Config

__all__ = ["ConfigError", "load_config", "parse_config"]

#: libyaml's parser when PyYAML was built with it (the same documents, several times faster), else PyYAML's own.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAPPING = "must be a mapping of key: value, not {kind}"
_LIST = 'must be a list, e.g. ["a", "b"]'
_MESSAGES = {
    "bool_type": "must be true or false, not {input!r}",
    "string_type": "must be text, not {input!r}",
    "missing": "required, but missing",
    "literal_error": "must be {expected}, not {input!r}",
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "dict_type": _MAPPING,
    "tuple_type": _LIST,
    "list_type": _LIST,
}


class ConfigError(ValueError):
    """A configuration problem, naming the key where it is."""


def _describe(error: ErrorDetails) -> str:
    """``key.path: message`` for pydantic's ``error``."""
    where = ""
    for part in error["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        else:
            where += f"[{part!r}]" if where == "teams" else f".{part}" if where else part
    where = ".".join(filter(None, (where, error.get("ctx", {}).get("at"))))
    if error["type"] == "config":
        message = error["ctx"]["message"]
    elif template := _MESSAGES.get(error["type"]):
        context = error.get("ctx", {})
        message = template.format(
            input=error["input"], kind=type(error["input"]).__name__, expected=context.get("expected", "")
        )
    else:
        message = error["msg"].removeprefix("Value error, ")
    return f"{where or 'configuration'}: {message}"


def parse_config(data: Any, path: Path | None = None) -> Config:
    """Validate ``data`` (the parsed YAML); relative paths in it start from ``path``'s folder."""
    context = {"base": path.parent if path else Path.cwd(), "path": path}
    try:
        return Config.model_validate({} if data is None else data, context=context)
    except ValidationError as error:
        raise ConfigError(_describe(error.errors()[0])) from None


def load_config(path: str | Path | None = None) -> Config:
    """Load from ``path``, else ``$CHATOPS_CONFIG``. Raises ConfigError naming the bad key."""
    chosen = path or os.environ.get("CHATOPS_CONFIG")
    if not chosen:
        raise ConfigError("no configuration: pass --config FILE or set CHATOPS_CONFIG")
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read configuration {file}: {error.strerror or error}") from error
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}") from error
    try:
        return parse_config(data, file.resolve())
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from None
