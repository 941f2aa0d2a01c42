"""200 concurrent changes to one flag from two OS processes: nothing lost, nothing torn."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flags import FlagStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_two_processes_200_concurrent_changes(redis_url: str, prefix: str) -> None:
    start_at = f"{time.time() + 1.5:.3f}"
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.flags.concurrent_writer", redis_url, prefix, name, "100", start_at],
            cwd=ROOT,
        )
        for name in ("one", "two")
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]

    store = FlagStore.from_url(redis_url, prefix=prefix, environment="gstg")
    record = await store.get("contended_flag")
    entries = await store.history("contended_flag", limit=1000)
    await store.close()

    assert record.version == 200
    assert len(entries) == 200
    assert sorted(e.version for e in entries) == list(range(1, 201))
    assert {e.who.split("-")[0] for e in entries} == {"one", "two"}
    assert entries[0].version == 200 and entries[0].after == record.state
    writers_in_order = [e.who.split("-")[0] for e in reversed(entries)]
    switches = sum(a != b for a, b in itertools.pairwise(writers_in_order))
    print(f"the two writers interleaved {switches} times")
    # Every entry's `before` is the previous entry's `after`: the changes were serialised.
    newest_first = entries
    for newer, older in itertools.pairwise(newest_first):
        assert newer.before == older.after
