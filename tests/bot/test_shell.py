"""`chatops shell` and `chatops definitions lint` as people run them: subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.bot.conftest import FLAG, ROOT, write_config

CHATOPS = [sys.executable, "-m", "bot.cli"]


def shell(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CHATOPS_CONFIG", None)
    return subprocess.run([*CHATOPS, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60, env=env)


def test_shell_runs_a_line_shows_every_cross_post_and_writes_redis(tmp_path: Path, redis_url: str, prefix: str) -> None:
    config = write_config(tmp_path, redis_url, prefix)
    done = shell(
        "shell",
        "--config",
        str(config),
        "--user",
        "alice",
        "--usergroups",
        "sre",
        "--channel",
        "#production",
        "-c",
        f"/chatops run feature set {FLAG} true --staging --production",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"[#production] (in channel)\nEnabled: `{FLAG}` on gstg, gprd by @alice\n")
    assert "[#g_database_frameworks] (team channel)" in done.stdout
    assert "[#feature-flag-log] (log channel)" in done.stdout
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.hgetall(f"{prefix}gprd:{FLAG}") == {"boolean": "true"}
    assert "Checks: production check not configured" in done.stdout
    assert "[Undo on gprd: on → off] to press it, type: :rollback production|" in done.stdout
    client.close()


def test_shell_exits_non_zero_when_refused_and_reports_it(tmp_path: Path, redis_url: str, prefix: str) -> None:
    config = write_config(tmp_path, redis_url, prefix)
    done = shell(
        "shell",
        "--config",
        str(config),
        "--user",
        "mallory",
        "--channel",
        "#production",
        "-c",
        f"/chatops run feature set {FLAG} true",
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "(only visible to you)" in done.stdout and "This action is not allowed" in done.stdout
    assert "[#chatops-security] (security channel)" in done.stdout
    done = shell("shell", "--config", str(config), "-c", "run feature set x maybe", cwd=tmp_path)
    assert done.returncode == 1 and "`maybe` is not a valid value" in done.stdout


@pytest.mark.slow
def test_interactive_shell_with_the_example_config_and_embedded_redis(tmp_path: Path) -> None:
    lines = (
        "\n".join(
            [
                f"/chatops run feature set {FLAG} 50 --actors --dev --pre --staging --staging-ref",
                f"/chatops run feature get {FLAG} --staging",
                "/chatops help",
            ]
        )
        + "\n"
    )
    done = shell(
        "shell",
        "--config",
        str(ROOT / "deploy" / "chatops.example.yml"),
        "--channel",
        "#development",
        cwd=tmp_path,
        stdin=lines,
    )
    assert done.returncode == 0, done.stderr
    assert f"Set to 50% of actors: `{FLAG}` on dev, pre, gstg, gstg-ref" in done.stdout
    assert "[#e2e-run-staging] (QA channel)" in done.stdout
    assert "gstg: `50% of actors` (last set to 50% of actors by @" in done.stdout
    assert "Rules in #development" in done.stdout
    assert "flags.embedded_redis_started" in done.stderr  # the first thing it logs
    assert (tmp_path / ".chatops" / "redis.db").exists()


def test_definitions_lint_exits_non_zero_on_problems(tmp_path: Path) -> None:
    good = shell("definitions", "lint", str(ROOT / "deploy" / "feature_flags"), cwd=tmp_path)
    assert good.returncode == 0 and "0 problem(s)" in good.stderr
    (tmp_path / "bad.yml").write_text("name: other\ntype: wip\n")
    bad = shell("definitions", "lint", str(tmp_path), cwd=tmp_path)
    assert bad.returncode == 1
    assert "bad.yml:1: name 'other' must equal the file name 'bad'" in bad.stdout


def test_a_bad_configuration_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("environments:\n  - {option: production, name: gprd, default: true, prefx: 'x:'}\n")
    done = shell("shell", "--config", str(config), "-c", "help", cwd=tmp_path)
    assert done.returncode == 2
    assert "environments[0]: unknown key 'prefx' (did you mean 'prefix'?)" in done.stderr
