"""Long-running child processes the tests start (Prometheus, the metrics application): none may
outlive the test run, whatever way it ends.

Three nets: the owner stops its process (fixtures, ``finally``); whatever is still running when the
interpreter exits is killed (``atexit``: a fixture whose teardown never ran); and a child spawned
from the main thread gets SIGTERM from the kernel when pytest itself dies (SIGKILL, ``os._exit``
after a timeout), through util-linux's ``setpriv --pdeathsig``. Only from the main thread: Linux
sends that signal when the spawning *thread* ends, and a worker thread (``asyncio.to_thread``) ends
long before the process should.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = ["spawn", "stop", "wait_until_answers"]

_running: set[subprocess.Popen[bytes]] = set()


def spawn(command: Sequence[str], log: Path, *, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output appended to ``log`` (to read when it fails)."""
    setpriv = shutil.which("setpriv")
    guarded = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv and _on_main_thread() else []
    with log.open("ab") as output:
        process = subprocess.Popen([*guarded, *command], stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
    _running.add(process)
    return process


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM and wait (a clean shutdown: Prometheus writes its head block); SIGKILL after ``grace``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    _running.discard(process)


def wait_until_answers(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 20.0) -> None:
    """Until ``url`` answers 200; RuntimeError with the end of ``log`` if the process exits or
    ``timeout`` passes first (the process is stopped then)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    stop(process)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{url} did not answer (exit status {process.returncode}); {log}:\n{tail}")


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_running):
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    _running.clear()
