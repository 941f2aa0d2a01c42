"""``.ci/cycles.py`` finds modules that import each other, also when one import is only under
``if TYPE_CHECKING:``, and passes a package without."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.configs import ROOT

SCRIPT = ROOT / ".ci" / "cycles.py"
RUN = "import sys, runpy; sys.path.insert(0, '.'); sys.exit(runpy.run_path(sys.argv[1])['main'](('toy',)))"


def _package(tree: Path, a: str, b: str) -> None:
    (tree / "toy").mkdir()
    (tree / "toy" / "__init__.py").write_text("")
    (tree / "toy" / "a.py").write_text(a)
    (tree / "toy" / "b.py").write_text(b)


def _check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN, str(SCRIPT)], cwd=tree, capture_output=True, text=True, timeout=60
    )


def test_a_cycle_through_a_type_only_import_is_found(tmp_path: Path) -> None:
    _package(
        tmp_path,
        "from toy.b import B\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.a import A\nB = 1\n",
    )
    found = _check(tmp_path)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "import cycle among toy.a, toy.b: toy.a -> toy.b and toy.b -> toy.a" in found.stdout


def test_a_package_without_cycles_passes(tmp_path: Path) -> None:
    _package(tmp_path, "from toy.b import B\n", "B = 1\n")
    clean = _check(tmp_path)
    assert clean.returncode == 0 and "cycles: none in toy" in clean.stdout, clean.stdout + clean.stderr


def test_our_packages_have_no_cycles() -> None:
    ours = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ours.returncode == 0, ours.stdout + ours.stderr
