"""What the production check costs a production change (not a timed test).

Runs `feature set NAME true --staging --production` and back to false, through the bot's own
command path, first with no production check, then with a real Alertmanager (Debian's
prometheus-alertmanager, started here) and a local HTTP check configured. Prints readable
lines, then one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.runtime import Runtime  # noqa: E402
from handlers.config import load_config  # noqa: E402
from handlers.core import pipeline  # noqa: E402
from handlers.core.caller import Caller  # noqa: E402
from handlers.core.text_chat import ShellBackend  # noqa: E402
from handlers.core.text_render import to_text  # noqa: E402
from tests.alertmanager_process import Alertmanager  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402

FLAG = "enforce_explicit_connection_for_partitioned_shared_models"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(config_path: Path, work: Path, rounds: int, expect: str) -> list[float]:
    runtime = Runtime.start(load_config(config_path), work / ".chatops")
    await runtime.app.start()
    backend = ShellBackend("sre", frozenset({"sre"}))
    caller = Caller("sre", "sre", "#production", "#production")
    timings = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            reply = await pipeline.run(
                f"run feature set {FLAG} true --staging --production", caller, runtime.app, backend
            )
            timings.append((time.perf_counter() - start) * 1000)
            assert reply.ok and expect in to_text(reply), to_text(reply)
            await pipeline.run(f"run feature set {FLAG} false --production", caller, runtime.app, backend)
            await pipeline.run(f"run feature set {FLAG} false --staging", caller, runtime.app, backend)
    finally:
        await runtime.close()
    return timings


async def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="chatops-checks-"))
    redis_url = os.environ.get("REDIS_URL") or None
    prefix = f"bench-checks:{uuid.uuid4().hex[:8]}:"
    base = yaml.safe_load((ROOT / "deploy" / "chatops.example.yml").read_text())
    base.update(redis_url=redis_url, definitions=[str(ROOT / "deploy" / "feature_flags")])
    base.pop("deployments", None)
    base.pop("access", None)
    base["slack"] = {"production_channel": "#production"}  # no cross-posts: measure the checks
    for environment in base["environments"]:
        environment["prefix"] = prefix + environment["prefix"]
        environment.pop("qa_channel", None)
    plain = work / "plain.yml"
    plain.write_text(yaml.safe_dump(base))

    alertmanager = Alertmanager(work)
    alertmanager.fire({"alertname": "Unrelated", "env": "gstg", "severity": "s4"})
    app = web.Application()
    app.router.add_get("/check", lambda request: web.json_response({"safe": True, "reasons": []}))  # type: ignore[arg-type,return-value]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    check_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/check"  # type: ignore[union-attr]
    checked = work / "checked.yml"
    checked.write_text(
        yaml.safe_dump(
            {
                **base,
                "safety": {
                    "production_check": {
                        "timeout": 5,
                        "alertmanager": {"url": alertmanager.url, "matchers": ['env="gprd"', 'severity=~"s1|s2"']},
                        "http": [check_url],
                    }
                },
            }
        )
    )
    try:
        without = await measure(plain, work, rounds, "production check not configured")
        with_checks = await measure(checked, work, rounds, "production check passed")
    finally:
        await runner.cleanup()
        alertmanager.stop()
        if redis_url:
            delete_prefixed(redis_url, prefix)
    print(f"production set (staging + production), {rounds} rounds each, cross-posts off")
    print(f"  no production check:     p50 {statistics.median(without):6.1f} ms  p99 {pct(without, 99):6.1f} ms")
    print(
        f"  Alertmanager + HTTP:     p50 {statistics.median(with_checks):6.1f} ms  p99 {pct(with_checks, 99):6.1f} ms"
    )
    print(
        json.dumps(
            {
                "prod_set_no_check_p50_ms": round(statistics.median(without), 1),
                "prod_set_no_check_p99_ms": round(pct(without, 99), 1),
                "prod_set_with_checks_p50_ms": round(statistics.median(with_checks), 1),
                "prod_set_with_checks_p99_ms": round(pct(with_checks, 99), 1),
                "check_cost_p50_ms": round(statistics.median(with_checks) - statistics.median(without), 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
