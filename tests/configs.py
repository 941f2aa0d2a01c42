"""Configurations for tests: the shipped example, pointed at the test's Redis and key prefix."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["FLAG", "ROOT", "serve_command", "write_config"]

ROOT = Path(__file__).resolve().parents[1]
FLAG = "enforce_explicit_connection_for_partitioned_shared_models"  # defined in deploy/feature_flags


def write_config(directory: Path, redis_url: str | None, prefix: str, **overrides: Any) -> Path:
    """The shipped example config, pointed at the test Redis with this test's prefix."""
    data = yaml.safe_load((ROOT / "deploy" / "chatops.example.yml").read_text())
    data["redis_url"] = redis_url
    data["redis_prefix"] = prefix  # the bot's own keys (deployments, replay markers) are the test's too
    for environment in data["environments"]:
        environment["prefix"] = prefix + environment["prefix"]
    data["definitions"] = [str(ROOT / "deploy" / "feature_flags")]
    data.pop("deployments", None)  # tests that need one pass their own repository
    data.update(overrides)
    path = directory / "chatops.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def serve_command(config: Path, port: int, *extra: str, log_level: str | None = None) -> list[str]:
    """``chatops serve`` as a child process runs it, logging JSON."""
    levels = ["--log-level", log_level] if log_level else []
    serve = ["serve", "--config", str(config), "--port", str(port), *extra]
    return [sys.executable, "-m", "bot.cli", *levels, "--log-format", "json", *serve]
