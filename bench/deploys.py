"""Benchmark of auto_deploy status SHA, release check and the deployment webhook (not a timed test).

Builds a repository of 100,000 commits with `git fast-import` (GitLab-style merge commits every
tenth commit, a stable branch with picks; --cache keeps it), which the bot mirrors as it does a
URL (cloned, then fetched), records five deployed environments, then times `auto_deploy status
SHA` (old, recent and undeployed commits) through the bot's own command path; tags the release,
fetches it as the bot does on its interval (its walks run in the background) and times `release
check` from the first question on; checks both answers against `git merge-base --is-ancestor`; and
drives GitLab deployment webhooks at `chatops serve` over HTTP. Prints readable lines, then one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
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
from handlers.core.reply import plain  # noqa: E402
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
TAG, STABLE = "v16.5.0", "16-5-stable"  # the release tagged during the run (its stable branch is there before)
RELEASE_ANSWERS = [("included", "included in"), ("not included", "not included yet"), ("not found", "not found")]


def build_repository(path: Path, commits: int) -> dict[str, int]:
    """Mainline with a merge request merged every 10th commit; 16-5-stable cut at 90%, with a pick
    (tagged later, by time_release). Returns the number of merge requests, the last, the last before the cut."""
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
            out.append(f"reset refs/heads/{STABLE}\nfrom :{stable_tip}\n\n")
    last = iid  # picked into the stable branch
    commit(STABLE, f"Merge request {last} (picked)\n\nSee merge request {PROJECT}!{last}", [stable_tip or 1], "pick")
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
    mirror = runtime.app.ports.need(MIRROR)
    assert mirror is not None and app.ports.need(REGISTRY) is not None
    # A new deployment to gprd, asked about at once: its history is not walked yet (the walk
    # starts with the first question, from the deployment it descends from).
    fresh = rev(repo, "master~350")
    await app.ports.need(REGISTRY).record(
        Deployment(production.deployment or production.name, fresh, "master", "success", time.time())
    )
    current = {s.environment: s.current for s in await app.ports.need(REGISTRY).status()}
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


def repository(work: Path, commits: int, cache: Path | None) -> tuple[Path, Path, dict[str, int]]:
    """The repository (built, or kept in ``cache`` from an earlier run, untagged again) and where the
    bot mirrors it (in ``cache`` too: a mirror kept is fetched, as the bot's is when it starts again)."""
    if cache is None:
        return work / "gitlab", work / "mirror.git", build_repository(work / "gitlab", commits)
    repo, shape = cache / f"gitlab-{commits}", cache / f"gitlab-{commits}.json"
    if not shape.exists():
        shutil.rmtree(repo, ignore_errors=True)
        shape.write_text(json.dumps(build_repository(repo, commits)))
    mirror = cache / f"mirror-{commits}.git"
    released = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{TAG}^"], capture_output=True
    )
    if released.returncode == 0:  # by the run before: undone (in the mirror too: a fetch prunes no tag)
        subprocess.run(
            ["git", "-C", str(repo), "update-ref", f"refs/heads/{STABLE}", released.stdout.strip()], check=True
        )
        for path in (repo, mirror):
            subprocess.run(["git", "-C", str(path), "tag", "--delete", TAG], capture_output=True)
    return repo, mirror, json.loads(shape.read_text())


def release(repo: Path) -> None:
    """What release tools do: a commit on the stable branch (the version), tagged."""
    git = ["git", "-C", str(repo)]
    message = ["-m", f"Update VERSION to {TAG.removeprefix('v')}"]
    made = subprocess.run(
        [*git, "commit-tree", *message, "-p", STABLE, f"{STABLE}^{{tree}}"], capture_output=True, text=True, check=True
    )
    subprocess.run([*git, "update-ref", f"refs/heads/{STABLE}", made.stdout.strip()], check=True)
    subprocess.run([*git, "tag", TAG, STABLE], check=True)


def write_configs(
    work: Path, repo: Path, mirror: Path, shape: dict[str, int], redis_url: str | None
) -> tuple[list[Path], dict[str, int]]:
    """The configurations of the bot measured here (mirroring the repository as a URL) and of the
    `chatops serve` the webhooks go to (reading the repository itself), with gated flags."""
    gates = gate_definitions(work / "gates", shape)
    base = yaml.safe_load((ROOT / "deploy" / "chatops.example.yml").read_text())
    prefix = f"bench-deploys:{uuid.uuid4().hex[:8]}:"
    base.update(
        redis_url=redis_url,
        redis_prefix=prefix,
        definitions=[str(ROOT / "deploy" / "feature_flags"), str(work / "gates")],
    )
    paths = []
    for name, where in (
        ("mirrored.yml", {"repository": f"file://{repo}", "mirror_path": str(mirror)}),
        ("chatops.yml", {"repository": str(repo)}),
    ):
        deployments = {
            "environments": ENVIRONMENTS,
            "web_url": "https://gitlab.com/gitlab-org/gitlab",
            "fetch_interval": 3600,
            **where,
        }
        (work / name).write_text(yaml.safe_dump({**base, "deployments": deployments}))
        paths.append(work / name)
    return paths, gates


async def time_status(runtime: Runtime, repo: Path, rounds: int) -> list[float]:
    assert runtime.app.ports.need(REGISTRY) is not None
    deployed = {
        "gprd": "master~400",
        "gprd-cny": "master~300",
        "gstg": "master~200",
        "gstg-cny": "master~100",
        "gstg-ref": "master~50",
    }
    for env, spec in deployed.items():
        await runtime.app.ports.need(REGISTRY).record(
            Deployment(env, rev(repo, spec), "master", "success", time.time() - 3600)
        )
    old, recent, undeployed = rev(repo, "master~75000"), rev(repo, "master~250"), rev(repo, "master~10")
    status_times = await time_commands(
        runtime, [f"run auto_deploy status {sha[:10]}" for sha in (old, recent, undeployed)], rounds
    )
    print(
        f"auto_deploy status SHA (old, recent, undeployed) x{rounds}: p50 {statistics.median(status_times):.1f} ms, "
        f"p99 {pct(status_times, 99):.1f} ms"
    )
    return status_times


async def time_release(
    runtime: Runtime, repo: Path, shape: dict[str, int], rounds: int
) -> tuple[list[float], int, int]:
    """The release is made and fetched, as the bot fetches on its interval, and its walks run in
    the background; then `release check` is timed from the first question about the release on,
    and its answers are checked against git."""
    mirror = runtime.app.ports.need(MIRROR)
    assert mirror is not None
    release(repo)
    start = time.perf_counter()
    assert await mirror.fetch()
    fetched = time.perf_counter()
    await mirror.walked()
    print(
        f"release fetched in {fetched - start:.2f} s; walked in {time.perf_counter() - fetched:.2f} s more (in the background)"
    )
    iids = [10, shape["last_iid"], shape["last_iid"] - 1, 99_999_999]  # included, picked, not included, not found
    lines = [f"run release check https://gitlab.com/gitlab-org/gitlab/-/merge_requests/{iid} 16.5" for iid in iids]
    timings = await time_commands(runtime, lines, rounds)
    print(
        f"release check (included, picked, not included, not found): first {timings[0]:.1f} ms, "
        f"p50 {statistics.median(timings):.1f} ms, p99 {pct(timings, 99):.1f} ms"
    )
    mismatches = 0
    for iid, line in zip(iids, lines, strict=True):
        reply = await pipeline.run(
            line,
            Caller("bench", "bench", "#development", "#development"),
            runtime.app,
            ShellBackend("bench", frozenset()),
        )
        text = " ".join(plain(shown) for shown in reply.all_lines())
        answer = next((said for said, words in RELEASE_ANSWERS if words in text), text)
        expected = release_by_git(repo, iid)
        if answer != expected:
            mismatches += 1
            print(f"  disagreement: release check of !{iid}: {answer} vs git {expected}")
    print(f"{mismatches} disagreements with git merge-base over {len(iids)} release answers")
    return timings, mismatches, len(iids)


def release_by_git(repo: Path, iid: int) -> str:
    """What git says of merge request ``iid`` in 16.5: its commits (merge, picks) in the tag or the stable branch."""
    found = subprocess.run(
        ["git", "-C", str(repo), "log", "--all", "--format=%H", f"--grep=See merge request {PROJECT}!{iid}$"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not found:
        return "not found"
    ancestry = [
        subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", c, ref]).returncode == 0
        for c in found
        for ref in (TAG, STABLE)
    ]
    return "included" if any(ancestry) else "not included"


async def serve_webhooks(config: Path, work: Path, repo: Path, events: int) -> float:
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
        serve_command(config, port, log_level="warning"),
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base, head = time.time(), rev(repo, "master")
        payloads = [
            deployment_event(
                ENVIRONMENTS[i % 5],
                head if i == 0 else f"{i:040x}",
                ("running", "success")[i % 2],
                time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(base + i)),
            )
            for i in range(events)
        ]
        rate = await webhook_rate(f"http://127.0.0.1:{port}", token, payloads)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"webhook events: {rate:.0f} /s over {events} events, 16 connections")
    return rate


async def main(commits: int, rounds: int, events: int, cache: Path | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="chatops-deploys-"))
    started = time.perf_counter()
    repo, mirror_path, shape = repository(work, commits, cache)
    count = int(
        subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"], capture_output=True, text=True).stdout
    )
    print(
        f"repository: {count:,} commits, {shape['merges']:,} merge requests, ready in {time.perf_counter() - started:.1f} s"
    )
    redis_url = os.environ.get("REDIS_URL") or None
    (mirrored, served), gates = write_configs(work, repo, mirror_path, shape, redis_url)
    runtime = Runtime.start(load_config(mirrored), work / ".chatops")
    mirror = runtime.app.ports.need(MIRROR)
    assert runtime.app.ports.need(REGISTRY) is not None and mirror is not None
    try:
        start = time.perf_counter()
        assert await mirror.fetch()  # what `chatops serve` does at start (a clone the first time)
        fetched = time.perf_counter()
        await mirror.walked()
        print(
            f"mirror fetched and indexed in {fetched - start:.2f} s; walked in {time.perf_counter() - fetched:.2f} s more (in the background)"
        )
        status_times = await time_status(runtime, repo, rounds)
        release_times, release_mismatches, release_pairs = await time_release(runtime, repo, shape, max(5, rounds // 4))
        cold, added, mismatches, pairs = await gating(runtime, repo, gates, max(5, rounds // 4))
        print(
            f"deployment check (gprd) over {len(gates)} flags: right after the deployment p50 "
            f"{statistics.median(cold):.1f} ms, p99 {pct(cold, 99):.1f} ms; once its history is walked p50 {statistics.median(added):.1f} ms, p99 {pct(added, 99):.1f} ms; "
            f"{mismatches} disagreements with git merge-base over {pairs} (flag, environment) pairs"
        )
        rate = await serve_webhooks(served, work, repo, events)
    finally:
        await runtime.close()
        if redis_url:
            delete_prefixed(redis_url, runtime.app.config.redis_prefix)
    print(
        json.dumps(
            {
                "status_sha_p50_ms": round(statistics.median(status_times), 1),
                "status_sha_p99_ms": round(pct(status_times, 99), 1),
                "release_check_p99_ms": round(pct(release_times, 99), 1),
                "release_check_first_ms": round(release_times[0], 1),
                "release_mismatches": release_mismatches,
                "release_answers": release_pairs,
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
    parser.add_argument("--cache", type=Path, help="keep the repository and its mirror here, for the next run")
    args = parser.parse_args()
    asyncio.run(main(args.commits, args.rounds, args.events, args.cache.resolve() if args.cache else None))
