"""Drive the Ruby Flipper oracle (tests/flags/flipper/oracle.rb) as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ORACLE = Path(__file__).parent / "flipper" / "oracle.rb"
HOW_TO_INSTALL = (
    "the conformance tests need Ruby and Debian's Flipper: "
    "apt-get install -y ruby ruby-flipper ruby-redis (.ci/run does this)"
)


class FlipperOracle:
    def __init__(self, redis_url: str) -> None:
        ruby = shutil.which("ruby")
        if ruby is None:
            raise RuntimeError(HOW_TO_INSTALL)
        self._process = subprocess.Popen(
            [ruby, str(ORACLE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "REDIS_URL": redis_url},
        )

    def ask(self, request: dict[str, Any]) -> Any:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            assert self._process.stderr is not None
            raise RuntimeError(f"Ruby Flipper failed: {self._process.stderr.read()[-2000:]}\n{HOW_TO_INSTALL}")
        return json.loads(line)["ok"]

    def evaluate(self, prefix: str, pairs: list[tuple[str, str | None]]) -> list[bool]:
        return list(self.ask({"op": "evaluate", "prefix": prefix, "pairs": pairs}))

    def apply(self, prefix: str, flag: str, method: str, *args: Any) -> None:
        self.ask({"op": "apply", "prefix": prefix, "flag": flag, "method": method, "args": list(args)})

    def register_group(self, group: str, members: list[str]) -> None:
        """Register (or redefine) a Flipper group whose proc matches exactly the actors ``members``."""
        self.ask({"op": "register_group", "prefix": "", "group": group, "members": members})

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)
