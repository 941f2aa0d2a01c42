"""``.ci/structure.py`` names a long function and an import of our packages inside a function,
and passes a tree with neither."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.configs import ROOT

SCRIPT = ROOT / ".ci" / "structure.py"
LATE = """\
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flags import Flags


class Late:
    def method(self):
        import json
        from flags.keys import key
        return key
"""


def _check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT)], cwd=tree, capture_output=True, text=True, timeout=60)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_long_function_and_a_late_import_fail_naming_both(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    _write(tmp_path / "bot" / "long.py", f"def long_one():\n{body}    return x0\n")
    _write(tmp_path / "handlers" / "late.py", LATE)
    (tmp_path / "flags").mkdir()
    done = _check(tmp_path)
    assert done.returncode == 1, done.stdout
    assert done.stdout.splitlines() == [
        "bot/long.py:1: long_one is 62 lines long (at most 60): split it",
        "handlers/late.py:10: late import in Late.method: `from flags.keys import key` (import at the top of the module)",
    ]


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(58))
    _write(tmp_path / "bot" / "short.py", f"from flags import Flags\n\n\ndef short_one():\n{body}    return x0\n")
    _write(tmp_path / "flags" / "__init__.py", "def f():\n    import json\n    return json\n")
    (tmp_path / "handlers").mkdir()
    done = _check(tmp_path)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("structure: 2 files, 2 functions")
