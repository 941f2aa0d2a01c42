"""The metrics application (tests/metrics_app.py) as a real separate process, on a fixed port so
Prometheus keeps scraping it across restarts with other settings."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.children import spawn, stop, wait_until_answers
from tests.configs import ROOT
from tests.metrics_app import AppSettings

__all__ = ["MetricsAppProcess"]


class MetricsAppProcess:
    """``python -m tests.metrics_app`` with ``settings``; its output goes to ``directory/metrics-app.log``."""

    def __init__(self, settings: AppSettings, directory: Path) -> None:
        self.settings = settings
        self.log = directory / "metrics-app.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def target(self) -> str:
        """What Prometheus scrapes (``host:port``)."""
        return f"127.0.0.1:{self.settings.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> MetricsAppProcess:
        """Start it and wait until ``/metrics`` answers (the flags read, the load running)."""
        if self.running:
            raise RuntimeError("the metrics app is already running")
        command = [sys.executable, "-m", "tests.metrics_app", *self.settings.argv()]
        self._process = spawn(command, self.log, cwd=ROOT)
        wait_until_answers(self._process, f"{self.url}/metrics", self.log)
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop(self._process)
            self._process = None

    def restart(self, **changes: Any) -> MetricsAppProcess:
        """Stop it and start it again with some settings changed, e.g. ``restart(error_rate=0.2)``
        (same port: Prometheus goes on scraping it; its counters start from zero, which rate() takes)."""
        if "port" in changes:
            raise ValueError("the port stays: Prometheus scrapes this one")
        self.stop()
        self.settings = dataclasses.replace(self.settings, **changes)
        return self.start()
