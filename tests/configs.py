"""Configurations for tests: the shipped example, pointed at the test's Redis and key prefix."""

from __future__ import annotations

import copy
import functools
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "FLAG",
    "ROOT",
    "add_staging_e2e_trigger",
    "deployments_section",
    "safety_section",
    "serve_command",
    "write_config",
]

ROOT = Path(__file__).resolve().parents[1]
FLAG = "enforce_explicit_connection_for_partitioned_shared_models"  # defined in deploy/feature_flags
#: libyaml's loader and dumper when PyYAML has them: the same documents, many times faster (tests
#: write and read a configuration for almost every harness).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@functools.cache
def _example() -> dict[str, Any]:
    """The shipped example, parsed once: callers get a copy of their own (``example()``)."""
    data: dict[str, Any] = yaml.load((ROOT / "deploy" / "chatops.example.yml").read_text(), Loader=_LOADER)
    return data


def example() -> dict[str, Any]:
    return copy.deepcopy(_example())


def write_config(directory: Path, redis_url: str | None, prefix: str, **overrides: Any) -> Path:
    """The shipped example config, pointed at the test Redis with this test's prefix."""
    data = example()
    data["redis_url"] = redis_url
    data["redis_prefix"] = prefix  # the bot's own keys (deployments, replay markers) are the test's too
    for environment in data["environments"]:
        environment["prefix"] = prefix + environment["prefix"]
    data["definitions"] = [str(ROOT / "deploy" / "feature_flags")]
    data.pop("deployments", None)  # tests that need one pass their own repository
    data.update(overrides)
    path = directory / "chatops.yml"
    path.write_text(yaml.dump(data, Dumper=_DUMPER))
    return path


def example_environments(prefix: str, **redis_urls: str) -> list[dict[str, Any]]:
    """The example's environments under this test's prefix; ``redis_urls`` (by option) puts some
    on a Redis of their own, e.g. ``ops="redis://127.0.0.1:1/0"``."""
    environments: list[dict[str, Any]] = example()["environments"]
    for environment in environments:
        environment["prefix"] = prefix + environment["prefix"]
        if environment["option"] in redis_urls:
            environment["redis_url"] = redis_urls[environment["option"]]
    return environments


def serve_command(config: Path, port: int, *extra: str, log_level: str | None = None) -> list[str]:
    """``chatops serve`` as a child process runs it, logging JSON."""
    levels = ["--log-level", log_level] if log_level else []
    serve = ["serve", "--config", str(config), "--port", str(port), *extra]
    return [sys.executable, "-m", "bot.cli", *levels, "--log-format", "json", *serve]


def safety_section(alertmanager_url: str, outside_url: str, label: str, timeout: float, **extra: Any) -> dict[str, Any]:
    """Every safety feature on: the production check asks Alertmanager (for alerts labelled
    ``test=label``), the HTTP check and running deployments; change-log issues go to GitLab at
    ``outside_url``. ``extra`` adds or replaces keys of the section."""
    return {
        "production_check": {
            "timeout": timeout,
            "alertmanager": {"url": alertmanager_url, "matchers": [f'test="{label}"', 'severity=~"s1|s2"']},
            "http": [f"{outside_url}/check"],
            "deployments": ["gprd", "gprd-cny"],
        },
        "percentage_step": 25,
        "gitlab_url": outside_url,
        "log_project": "gitlab-com/gl-infra/feature-flag-log",
        **extra,
    }


def deployments_section(repository: Path) -> dict[str, Any]:
    """Deployments tracked for the production check's deployments probe."""
    return {"environments": ["gprd", "gprd-cny", "gstg"], "repository": str(repository)}


def add_staging_e2e_trigger(config: Path) -> None:
    """Staging triggers the end-to-end pipeline (token from TEST_E2E_TOKEN; QA actor User:gitlab-qa)."""
    data = yaml.load(config.read_text(), Loader=_LOADER)
    staging = next(e for e in data["environments"] if e["option"] == "staging")
    staging["e2e_trigger"] = {
        "project": "gitlab-org/quality/staging",
        "token_env": "TEST_E2E_TOKEN",
        "qa_actors": ["User:gitlab-qa"],
    }
    config.write_text(yaml.dump(data, Dumper=_DUMPER))
