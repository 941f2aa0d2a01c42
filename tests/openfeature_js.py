"""OpenFeature's JavaScript clients (from npm, installed in tests/node by ``npm ci``) as the tests
run them: the Node SDK with its OFREP provider in a real ``node`` process (tests/node/evaluate.mjs),
and the web SDK with its OFREP web provider bundled by esbuild into a page (tests/node/web)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.configs import ROOT

__all__ = ["NODE_DIR", "bundle", "bundle_page", "node_evaluate", "require_packages"]

NODE_DIR = ROOT / "tests" / "node"
_PACKAGES = ("server-sdk", "ofrep-provider", "web-sdk", "ofrep-web-provider")


def require_packages() -> str:
    """The ``node`` executable, once tests/node's packages are installed (AssertionError saying
    how to install them otherwise)."""
    node = shutil.which("node")
    assert node, "these tests need Node.js 20 or later (Debian: apt-get install nodejs npm)"
    missing = [p for p in _PACKAGES if not (NODE_DIR / "node_modules" / "@openfeature" / p).is_dir()]
    assert not missing, f"@openfeature/{missing[0]} is not installed: run `npm ci` in tests/node (.ci/run does)"
    return node


def node_evaluate(base_url: str, key: str, questions: list[dict[str, Any]], timeout: float = 120) -> list[Any]:
    """Each question ({"flag", "context", optional "type" and "default"}) evaluated by OpenFeature's
    Node SDK through the OFREP provider against ``base_url``: the details as the SDK returns them."""
    node = require_packages()
    done = subprocess.run(
        [node, str(NODE_DIR / "evaluate.mjs"), base_url],
        input="".join(json.dumps(q) + "\n" for q in questions),
        env={**os.environ, "OFREP_API_KEY": key},
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"node exited {done.returncode}: {done.stderr[-3000:]}"
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(questions), done.stdout[-2000:]
    return answers


def bundle(entry: Path, outfile: Path) -> Path:
    """``entry`` and what it imports (from tests/node's packages) bundled by esbuild into ``outfile``,
    an ES module for browsers."""
    require_packages()
    esbuild = NODE_DIR / "node_modules" / ".bin" / "esbuild"
    outfile.parent.mkdir(parents=True, exist_ok=True)
    command = [str(esbuild), str(entry), "--bundle", "--format=esm", "--platform=browser", "--target=chrome110"]
    done = subprocess.run(
        [*command, "--log-level=warning", f"--outfile={outfile}"],
        cwd=NODE_DIR,
        env={**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")},  # for entries outside tests/node
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"esbuild exited {done.returncode}: {done.stderr[-3000:]}"
    return outfile


def bundle_page(directory: Path) -> Path:
    """tests/node/web's page bundled into ``directory`` (index.html and page.js)."""
    bundle(NODE_DIR / "web" / "page.mjs", directory / "page.js")
    shutil.copy(NODE_DIR / "web" / "index.html", directory / "index.html")
    return directory
