"""Benchmark of auto_deploy status SHA, release check and the deployment webhook (not a timed test).

Builds a repository of 100,000 commits with `git fast-import` (GitLab-style merge commits every
tenth commit, a stable branch with a tag and picks), records five deployed environments, then
times `auto_deploy status SHA` (old, recent and undeployed commits) and `release check` through
the bot's own command path, and drives GitLab deployment webhooks at `chatops serve` over HTTP.
Prints readable lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.runtime import Runtime  # noqa: E402
from handlers.config import load_config  # noqa: E402
from handlers.core import pipeline  # noqa: E402
from handlers.core.caller import Caller  # noqa: E402
from handlers.core.context import Context  # noqa: E402
from handlers.core.text_chat import ShellBackend  # noqa: E402
from handlers.deployments.mirror import MIRROR  # noqa: E402
from handlers.deployments.registry import REGISTRY, Deployment  # noqa: E402
from handlers.deployments.rule import code_deployed  # noqa: E402
from tests.bot.conftest import ROOT as _ROOT  # noqa: E402,F401
from tests.bot.conftest import wait_healthy  # noqa: E402
from tests.bot.deployments.conftest import deployment_event  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

PROJECT = "gitlab-org/gitlab"
ENVIRONMENTS = ["gprd", "gprd-cny", "gstg", "gstg-cny", "gstg-ref"]


def build_repository(path: Path, commits: int) -> dict[str, int]:
    """Mainline with a merge request merged every 10th commit; 16-5-stable cut at 90%, tagged, with picks.
    Returns the mainline mark of each merge request's merge commit."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch=master", str(path)], check=True)
    out: list[str] = []
    mark = 0
    mainline: list[int] = []
    merges: dict[int, int] = {}
    stamp = 1_700_000_000

    def commit(branch: str, message: str, parents: list[int], file: str) -> int:
        nonlocal mark, stamp
        mark += 1
        stamp += 30
        data = message.encode()
        content = f"{mark}\n"
        out.append(
            f"commit refs/heads/{branch}\nmark :{mark}\ncommitter Dev <dev@example.com> {stamp} +0000\n"
            f"data {len(data)}\n{message}\n"
        )
        if parents:
            out.append(f"from :{parents[0]}\n")
        for parent in parents[1:]:
            out.append(f"merge :{parent}\n")
        out.append(f"M 644 inline {file}\ndata {len(content)}\n{content}\n")
        return mark

    iid = 0
    cut_at = int(commits * 0.9)
    stable_tip = None
    while mark < commits:
        if mainline and len(mainline) % 5 == 4:
            iid += 1
            side = commit(f"mr-{iid}", f"Work for merge request {iid}", [mainline[-1]], f"mr/{iid % 500}.txt")
            merge = commit(
                "master",
                f"Merge branch 'mr-{iid}' into 'master'\n\nMerge request {iid}\n\nSee merge request {PROJECT}!{iid}",
                [mainline[-1], side],
                f"main/{iid % 100}.txt",
            )
            mainline.append(merge)
            merges[iid] = merge
        else:
            mainline.append(commit("master", f"Commit {mark + 1} on master", mainline[-1:], f"main/{mark % 100}.txt"))
        if stable_tip is None and mark >= cut_at:
            stable_tip = mainline[-1]
            out.append(f"reset refs/heads/16-5-stable\nfrom :{stable_tip}\n\n")
    # Pick the last merge request into the stable branch, then tag it.
    last = iid
    pick = commit(
        "16-5-stable",
        f"Merge request {last} (picked)\n\nSee merge request {PROJECT}!{last}",
        [stable_tip or mainline[0]],
        "stable.txt",
    )
    out.append(f"reset refs/tags/v16.5.0\nfrom :{pick}\n\n")
    out.append(f"reset refs/heads/master\nfrom :{mainline[-1]}\n\n")
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input="".join(out).encode(), check=True)
    subprocess.run(["git", "-C", str(path), "commit-graph", "write", "--reachable"], check=True, capture_output=True)
    return {
        "merges": len(merges),
        "last_iid": last,
        "cut_iid": next(i for i, m in merges.items() if m > cut_at) - 1,
    }


def gate_definitions(folder: Path, shape: dict[str, int]) -> dict[str, int]:
    """Flag definitions whose merge requests span the history (old, recent, after the cut, picked,
    unknown); by flag name, its merge request IID."""
    folder.mkdir(parents=True)
    merges, cut, last = shape["merges"], shape["cut_iid"], shape["last_iid"]
    iids = sorted({1, merges // 4, merges // 2, 3 * merges // 4, cut, cut + 1, last - 40, last - 5, last - 1, last})
    gates = {f"gate_{iid}": iid for iid in iids} | {"gate_unknown": 99_999_999}
    for name, iid in gates.items():
        (folder / f"{name}.yml").write_text(
            f"---\nname: {name}\nintroduced_by_url: https://gitlab.com/{PROJECT}/-/merge_requests/{iid}\n"
            f"rollout_issue_url: https://gitlab.com/{PROJECT}/-/issues/1\nmilestone: '16.6'\n"
            "group: group::bench\ntype: gitlab_com_derisk\ndefault_enabled: false\n"
        )
    return gates


async def gating(
    runtime: Runtime, repo: Path, gates: dict[str, int], rounds: int
) -> tuple[list[float], list[float], int, int]:
    """What the deployment check costs a production change, and its answers against
    ``git merge-base --is-ancestor`` over every (flag, environment) pair."""
    app = runtime.app
    context = Context(app, Caller("bench", "bench", "#production", "production"), ShellBackend("bench", frozenset()))
    tracked = [e for e in app.config.environments if (e.deployment or e.name) in ENVIRONMENTS]
    production = next(e for e in tracked if e.production)
    cold: list[float] = []  # right after a deployment: its history is being walked meanwhile
    timings: list[float] = []  # once walked (seconds after a deployment webhook, or at start)
    mirror = runtime.app.ports.get(MIRROR)
    assert mirror is not None and app.ports.get(REGISTRY) is not None
    # A new deployment to gprd, asked about at once: its history is not walked yet (the walk
    # starts with the first question, from the deployment it descends from).
    fresh = rev(repo, "master~350")
    await app.ports.get(REGISTRY).record(
        Deployment(production.deployment or production.name, fresh, "master", "success", time.time())
    )
    current = {s.environment: s.current for s in await app.ports.get(REGISTRY).status()}
    assert fresh not in mirror._reach
    for flag in gates:
        start = time.perf_counter()
        await code_deployed(flag, [production], context)
        cold.append((time.perf_counter() - start) * 1000)
    walk = time.perf_counter()
    for deployment in current.values():  # what the webhook (or the start) sets off, in the background
        assert deployment is not None
        mirror.learn_soon(deployment.sha)
    while mirror._learning:
        await asyncio.sleep(0.01)
    print(f"deployed revisions' histories walked in {time.perf_counter() - walk:.2f} s (in the background)")
    for _ in range(rounds):
        for flag in gates:
            start = time.perf_counter()
            await code_deployed(flag, [production], context)
            timings.append((time.perf_counter() - start) * 1000)
    mismatches = pairs = 0
    for flag, iid in gates.items():
        answers = await code_deployed(flag, tracked, context)
        found = subprocess.run(
            ["git", "-C", str(repo), "log", "--all", "--format=%H", f"--grep=See merge request {PROJECT}!{iid}$"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for environment in tracked:
            pairs += 1
            deployed = current[environment.deployment or environment.name]
            if not found or deployed is None:
                expected = "unknown"
            else:
                ancestry = [
                    subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", c, deployed.sha]).returncode
                    == 0
                    for c in found
                ]
                expected = "yes" if any(ancestry) else "no"
            if answers[environment.option].state != expected:
                mismatches += 1
                print(f"  disagreement: {flag} on {environment.name}: {answers[environment.option]} vs git {expected}")
    return cold, timings, mismatches, pairs


def rev(path: Path, spec: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), "rev-parse", spec], capture_output=True, text=True, check=True
    ).stdout.strip()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def time_commands(runtime: Runtime, lines: list[str], rounds: int) -> list[float]:
    backend = ShellBackend("bench", frozenset())
    caller = Caller("bench", "bench", "#development", "#development")
    timings = []
    for _ in range(rounds):
        for line in lines:
            start = time.perf_counter()
            reply = await pipeline.run(line, caller, runtime.app, backend)
            timings.append((time.perf_counter() - start) * 1000)
            assert reply.sections, line
    return timings


async def webhook_rate(url: str, token: str, events: list[dict[str, object]]) -> float:
    queue = list(events)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        await wait_healthy(session, url)

        async def worker() -> None:
            while queue:
                event = queue.pop()
                async with session.post(f"{url}/webhooks/gitlab", json=event, headers={"X-Gitlab-Token": token}) as r:
                    await r.read()
                    assert r.status == 200, r.status

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(16)))
        return len(events) / (time.perf_counter() - start)


async def main(commits: int, rounds: int, events: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="chatops-deploys-"))
    repo = work / "gitlab"
    started = time.perf_counter()
    shape = build_repository(repo, commits)
    count = int(
        subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"], capture_output=True, text=True).stdout
    )
    print(
        f"repository: {count:,} commits, {shape['merges']:,} merge requests, built in {time.perf_counter() - started:.1f} s"
    )

    redis_url = os.environ.get("REDIS_URL") or None
    prefix = f"bench-deploys:{uuid.uuid4().hex[:8]}:"
    config_data = yaml.safe_load((ROOT / "deploy" / "chatops.example.yml").read_text())
    gates = gate_definitions(work / "gates", shape)
    config_data.update(
        redis_url=redis_url,
        redis_prefix=prefix,
        definitions=[str(ROOT / "deploy" / "feature_flags"), str(work / "gates")],
        deployments={
            "environments": ENVIRONMENTS,
            "repository": str(repo),
            "web_url": "https://gitlab.com/gitlab-org/gitlab",
        },
    )
    config_path = work / "chatops.yml"
    config_path.write_text(yaml.safe_dump(config_data))
    runtime = Runtime.start(load_config(config_path), work / ".chatops")
    assert runtime.app.ports.get(REGISTRY) is not None and runtime.app.ports.get(MIRROR) is not None
    warm = time.perf_counter()
    await runtime.app.ports.get(MIRROR).warm()  # what `chatops serve` does in the background at start
    print(f"merge request index built in {time.perf_counter() - warm:.2f} s (at start, in the background)")
    deployed = {
        "gprd": "master~400",
        "gprd-cny": "master~300",
        "gstg": "master~200",
        "gstg-cny": "master~100",
        "gstg-ref": "master~50",
    }
    for env, spec in deployed.items():
        await runtime.app.ports.get(REGISTRY).record(
            Deployment(env, rev(repo, spec), "master", "success", time.time() - 3600)
        )

    old, recent, undeployed = rev(repo, "master~75000"), rev(repo, "master~250"), rev(repo, "master~10")
    status_lines = [f"run auto_deploy status {sha[:10]}" for sha in (old, recent, undeployed)]
    status_times = await time_commands(runtime, status_lines, rounds)
    print(
        f"auto_deploy status SHA (old, recent, undeployed) x{rounds}: p50 {statistics.median(status_times):.1f} ms, "
        f"p99 {pct(status_times, 99):.1f} ms"
    )
    mr = "https://gitlab.com/gitlab-org/gitlab/-/merge_requests/"
    release_lines = [
        f"run release check {mr}10 16.5",  # merged long before the cut: included
        f"run release check {mr}{shape['last_iid']} 16.5",  # merged after the cut, picked: included
        f"run release check {mr}{shape['last_iid'] - 1} 16.5",  # merged after the cut: not included
        f"run release check {mr}99999999 16.5",  # not found
    ]
    release_times = await time_commands(runtime, release_lines, max(5, rounds // 4))
    print(
        f"release check (included, picked, not included, not found): p50 {statistics.median(release_times):.1f} ms, "
        f"p99 {pct(release_times, 99):.1f} ms"
    )

    cold, added, mismatches, pairs = await gating(runtime, repo, gates, max(5, rounds // 4))
    print(
        f"deployment check (gprd) over {len(gates)} flags: right after the deployment p50 "
        f"{statistics.median(cold):.1f} ms, p99 {pct(cold, 99):.1f} ms; once its history is walked p50 {statistics.median(added):.1f} ms, p99 {pct(added, 99):.1f} ms; "
        f"{mismatches} disagreements with git merge-base over {pairs} (flag, environment) pairs"
    )

    token = "bench-webhook-token"
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench",
        "GITLAB_WEBHOOK_TOKEN": token,
    }
    server = subprocess.Popen(
        serve_command(config_path, port, log_level="warning"),
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = time.time()
        payloads = [
            deployment_event(
                ENVIRONMENTS[i % 5],
                rev(repo, "master") if i == 0 else f"{i:040x}",
                ("running", "success")[i % 2],
                time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(base + i)),
            )
            for i in range(events)
        ]
        rate = await webhook_rate(f"http://127.0.0.1:{port}", token, payloads)
    finally:
        server.terminate()
        server.wait(timeout=20)
        await runtime.close()
        if redis_url:
            delete_prefixed(redis_url, prefix)
    print(f"webhook events: {rate:.0f} /s over {events} events, 16 connections")
    print(
        json.dumps(
            {
                "status_sha_p50_ms": round(statistics.median(status_times), 1),
                "status_sha_p99_ms": round(pct(status_times, 99), 1),
                "release_check_p99_ms": round(pct(release_times, 99), 1),
                "webhook_events_per_s": round(rate),
                "gating_added_p50_ms": round(statistics.median(added), 1),
                "gating_added_p99_ms": round(pct(added, 99), 1),
                "gating_added_first_p50_ms": round(statistics.median(cold), 1),
                "gating_added_first_p99_ms": round(pct(cold, 99), 1),
                "gating_mismatches": mismatches,
                "gating_pairs": pairs,
                "commits": count,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40, help="repetitions of each status SHA command")
    parser.add_argument("--events", type=int, default=3000, help="webhook events sent")
    args = parser.parse_args()
    asyncio.run(main(args.commits, args.rounds, args.events))
