"""Flag definitions in GitLab's format: one YAML file per flag, and their lint.

A definition gives a flag its ``default_enabled`` (used when the flag has no
state in Redis), its owning ``group`` (for cross-posts) and its rollout issue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flags.errors import DefinitionError, InvalidFlagName
from flags.values import FlagName

__all__ = [
    "KNOWN_TYPES",
    "REQUIRED_FIELDS",
    "Definition",
    "LintProblem",
    "lint_definitions",
    "load_definitions",
]

#: libyaml's parser when PyYAML was built with it (the same documents, several times faster), else PyYAML's own.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: GitLab's feature flag types.
KNOWN_TYPES = frozenset({"gitlab_com_derisk", "wip", "beta", "ops", "experiment", "worker", "development", "undefined"})
REQUIRED_FIELDS = (
    "name",
    "introduced_by_url",
    "rollout_issue_url",
    "milestone",
    "group",
    "type",
    "default_enabled",
)
_OPTIONAL_FIELDS = ("feature_issue_url", "log_state_changes", "approval_required", "frontend", "metrics")
_CHECK_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_BOOLEAN_FIELDS = ("log_state_changes", "approval_required", "frontend")  # true or false when present


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    type: str
    group: str
    default_enabled: bool
    milestone: str | None = None
    rollout_issue_url: str | None = None
    introduced_by_url: str | None = None
    feature_issue_url: str | None = None
    log_state_changes: bool = False
    approval_required: bool = False  # raising its exposure needs a second person's approval
    frontend: bool = False  # served to front ends (browser keys of the flags API), as push_frontend_feature_flag
    metrics: tuple[str, ...] = ()  # the metric checks that guard its rollouts (names in the bot's configuration)
    path: str = ""

    def __post_init__(self) -> None:
        FlagName(self.name)


@dataclass(frozen=True, slots=True)
class LintProblem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _files(folders: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise DefinitionError(f"definitions folder {root} does not exist")
        found += sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    return found


def _optional_text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return None if value is None else str(value)


def load_definitions(folders: Iterable[str | Path]) -> dict[str, Definition]:
    """Every definition under the folders, by name. Raises on the first bad file."""
    definitions: dict[str, Definition] = {}
    for path in _files(folders):
        problems = _lint_file(path)
        if problems:
            raise DefinitionError("; ".join(str(p) for p in problems))
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        definition = Definition(
            name=document["name"],
            type=document["type"],
            group=str(document["group"]),
            default_enabled=document["default_enabled"],
            milestone=_optional_text(document, "milestone"),
            rollout_issue_url=_optional_text(document, "rollout_issue_url"),
            introduced_by_url=_optional_text(document, "introduced_by_url"),
            feature_issue_url=_optional_text(document, "feature_issue_url"),
            log_state_changes=bool(document.get("log_state_changes") or False),
            approval_required=document.get("approval_required") is True,
            frontend=document.get("frontend") is True,
            metrics=tuple(document.get("metrics") or ()),
            path=str(path),
        )
        if definition.name in definitions:
            first = definitions[definition.name].path
            raise DefinitionError(f"{path}: flag {definition.name} is already defined in {first}")
        definitions[definition.name] = definition
    return definitions


def lint_definitions(folders: Iterable[str | Path]) -> list[LintProblem]:
    """Every problem in every definition file under the folders (empty when all are good)."""
    try:
        files = _files(folders)
    except DefinitionError as error:
        return [LintProblem(str(next(iter(folders), "")), 0, str(error))]
    problems: list[LintProblem] = []
    seen: dict[str, Path] = {}
    for path in files:
        found = _lint_file(path)
        problems += found
        if not found:
            name = path.stem
            if name in seen:
                problems.append(LintProblem(str(path), 1, f"flag {name} is also defined in {seen[name]}"))
            seen[name] = path
    return problems


def _lint_file(path: Path) -> list[LintProblem]:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=_LOADER)
    except (OSError, UnicodeDecodeError) as error:
        return [LintProblem(where, 0, f"cannot read the file: {error}")]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return [LintProblem(where, line, f"not valid YAML: {getattr(error, 'problem', error)}")]
    if not isinstance(root, yaml.MappingNode):
        return [LintProblem(where, 1, "a definition must be a YAML mapping of field: value")]
    lines = {key.value: key.start_mark.line + 1 for key, _ in root.value if isinstance(key, yaml.ScalarNode)}
    document = yaml.load(text, Loader=_LOADER)
    problems: list[LintProblem] = []

    def problem(key: str | None, message: str) -> None:
        problems.append(LintProblem(where, lines.get(key, 1) if key else 1, message))

    for key in REQUIRED_FIELDS:
        if key not in document:
            problem(None, f"required field '{key}' is missing")
    for key in lines:
        if key not in REQUIRED_FIELDS and key not in _OPTIONAL_FIELDS:
            problem(
                key,
                f"unknown field '{key}'; known fields: {', '.join(REQUIRED_FIELDS + _OPTIONAL_FIELDS)}",
            )
    name = document.get("name")
    if "name" in document:
        try:
            FlagName(name)
        except InvalidFlagName as error:
            problem("name", str(error))
        if name != path.stem:
            problem("name", f"name '{name}' must equal the file name '{path.stem}'")
    flag_type = document.get("type")
    if "type" in document and flag_type not in KNOWN_TYPES:
        problem("type", f"unknown type '{flag_type}'; known types: {', '.join(sorted(KNOWN_TYPES))}")
    default = document.get("default_enabled")
    if "default_enabled" in document and not isinstance(default, bool):
        problem("default_enabled", f"default_enabled must be true or false, not {default!r}")
    if flag_type == "gitlab_com_derisk" and default is True:
        problem("default_enabled", "a gitlab_com_derisk flag must not be default_enabled: true")
    if "group" in document and not isinstance(document.get("group"), str):
        problem("group", "group must be text, e.g. 'group::database frameworks'")
    milestone = document.get("milestone")
    if milestone is not None and not isinstance(milestone, str):
        problem("milestone", f"milestone must be quoted text, e.g. '16.10', not {milestone!r}")
    for key in _BOOLEAN_FIELDS:
        if key in document and document[key] is not None and not isinstance(document[key], bool):
            problem(key, f"{key} must be true or false")
    checks = document.get("metrics")
    if checks is not None and (
        not isinstance(checks, list) or not all(isinstance(c, str) and _CHECK_NAME.fullmatch(c) for c in checks)
    ):
        problem("metrics", "metrics must be a list of check names, e.g. [error_ratio, checkout_errors]")
    return problems
