"""A real Alertmanager (Debian's prometheus-alertmanager) on a loopback port, for tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.redis_process import free_port

HOW_TO_INSTALL = (
    "the production check tests need Alertmanager: apt-get install -y prometheus-alertmanager (.ci/run does this)"
)


def alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(HOW_TO_INSTALL)


class Alertmanager:
    def __init__(self, directory: Path, webhook: str = "", bearer: str = "") -> None:
        """With ``webhook``, every alert is sent there at once (``Authorization: Bearer bearer``)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "alertmanager.yml"
        if webhook:
            config.write_text(
                "route:\n  receiver: bot\n  group_by: ['...']\n  group_wait: 100ms\n  group_interval: 1s\n"
                "  repeat_interval: 1h\nreceivers:\n  - name: bot\n    webhook_configs:\n"
                f"      - url: {webhook}\n        send_resolved: true\n        http_config:\n"
                f"          authorization: {{type: Bearer, credentials: {bearer}}}\n"
            )
        else:
            config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
        self._process = subprocess.Popen(
            [
                alertmanager_binary(),
                f"--config.file={config}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def _post(self, alert: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps([alert]).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def fire(self, labels: dict[str, str], summary: str = "", generator_url: str = "") -> None:
        """Post an alert through Alertmanager's v2 API, as Prometheus does."""
        alert: dict[str, Any] = {"labels": labels, "annotations": {"summary": summary} if summary else {}}
        if generator_url:
            alert["generatorURL"] = generator_url
        self._post(alert)
        deadline = time.monotonic() + 5  # visible once Alertmanager has processed it
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
                if any(a["labels"] == labels for a in json.loads(response.read())):
                    return
            time.sleep(0.05)
        raise AssertionError("the alert never showed up")

    def resolve(self, labels: dict[str, str]) -> None:
        """Post the alert again with an end in the past: Alertmanager resolves it (and says so)."""
        ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        self._post({"labels": labels, "annotations": {}, "endsAt": ended})

    def stop(self) -> None:
        self._process.kill()
        self._process.wait(timeout=10)
