"""The git mirror: cloning and fetching a URL, answering from the last good state, short SHAs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import redis

from bot.server import RUNTIME
from handlers.deployments.mirror import MIRROR, AmbiguousCommit, CommitNotFound, GitMirror
from tests.bot.conftest import ROOT, start_bot, write_config
from tests.bot.deployments.conftest import (
    WEBHOOK_TOKEN,
    DeployBot,
    build_history,
    deployment_event,
    deployments_section,
)
from tests.bot.slack_stub import SlackStub
from tests.git_repo import GitRepo


async def test_a_url_is_cloned_fetched_and_answered_from_when_fetching_fails(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    remote = GitRepo(tmp_path / "remote")
    first = remote.commit("First")
    section = deployments_section(
        f"file://{remote.path}", mirror_path=str(tmp_path / "mirror.git"), fetch_interval=3600
    )
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, deployments=section)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    mirror = runner.app[RUNTIME].app.ports.get(MIRROR)
    async with aiohttp.ClientSession() as session:
        bot = DeployBot(url, slack, prefix, None, session)  # type: ignore[arg-type]
        assert (tmp_path / "mirror.git" / "HEAD").exists()  # cloned at start
        await bot.webhook(deployment_event("gstg", first, "success", "2026-11-26 01:00:00 +0000"))
        _, text = await bot.text(f"run auto_deploy status {first[:10]}", channel="#development")
        assert "deployed to *gstg*" in text and "fetched" not in text

        second = remote.commit("Second")
        assert mirror is not None
        assert await mirror.fetch()
        _, text = await bot.text(f"run auto_deploy status {second[:10]}", channel="#development")
        assert "deployed nowhere yet" in text

        (tmp_path / "remote").rename(tmp_path / "gone")
        assert not await mirror.fetch()
        _, text = await bot.text(f"run auto_deploy status {second[:10]}", channel="#development")
        assert "deployed nowhere yet" in text
        assert ":hourglass: answered from the mirror as fetched" in text and "fetching fails:" in text
    await runner.cleanup()


@pytest.fixture(scope="module")
def crowded_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """60,000 commits made with git fast-import: deterministic SHAs, some sharing 7-character prefixes."""
    path = tmp_path_factory.mktemp("crowded") / "repo"
    subprocess.run(["git", "init", "--quiet", "--initial-branch=master", str(path)], check=True)
    lines = []
    for i in range(60_000):
        message = f"commit {i}\n"
        lines.append(
            f"commit refs/heads/master\nmark :{i + 1}\ncommitter T <t@example.com> {1_700_000_000 + i} +0000\n"
            f"data {len(message)}\n{message}" + (f"from :{i}\n" if i else "") + "\n"
        )
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input="".join(lines).encode(), check=True)
    shas = subprocess.run(["git", "-C", str(path), "rev-list", "master"], capture_output=True, text=True, check=True)
    seen: dict[str, str] = {}
    for sha in shas.stdout.split():
        if sha[:7] in seen:
            return path, sha[:7]
        seen[sha[:7]] = sha
    raise AssertionError("no two commits share a 7-character prefix")


@pytest.mark.slow
async def test_short_shas_resolve_and_an_ambiguous_one_is_named(crowded_repo: tuple[Path, str]) -> None:
    path, ambiguous = crowded_repo
    mirror = GitMirror(path)
    with pytest.raises(AmbiguousCommit) as raised:
        await mirror.resolve(ambiguous)
    assert len(raised.value.candidates) == 2 and all(c.startswith(ambiguous) for c in raised.value.candidates)
    full = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "master~100"], capture_output=True, text=True
    ).stdout.strip()
    commit = await mirror.resolve(full[:7].upper())
    assert commit.sha == full and commit.title == "commit 59899"
    with pytest.raises(CommitNotFound):
        await mirror.resolve("0000000000000000000000000000000000000000")


@pytest.mark.slow
def test_the_shell_answers_auto_deploy_the_same_way(
    tmp_path: Path, redis_url: str, prefix: str, crowded_repo: tuple[Path, str]
) -> None:
    path, ambiguous = crowded_repo
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, deployments=deployments_section(str(path)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    head = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "master"], capture_output=True, text=True
    ).stdout.strip()

    def chatops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    recorded = chatops(
        "deployments",
        "record",
        "--config",
        str(config),
        "--env",
        "gstg",
        "--sha",
        head,
        "--ref",
        "master",
        "--status",
        "success",
        "--package",
        "16.6.1",
    )
    assert recorded.returncode == 0 and f"recorded success of {head[:11]} on gstg (now current)" in recorded.stdout
    refused = chatops(
        "deployments",
        "record",
        "--config",
        str(config),
        "--env",
        "review-app",
        "--sha",
        head,
        "--ref",
        "master",
        "--status",
        "success",
    )
    assert refused.returncode == 2 and "unknown deployment environment 'review-app'" in refused.stderr
    shown = chatops("shell", "--config", str(config), "-c", f"/chatops run auto_deploy status {head[:9]}")
    assert shown.returncode == 0 and "deployed to gstg" in shown.stdout and "commit 59999" in shown.stdout
    status = chatops("shell", "--config", str(config), "-c", "/chatops run auto_deploy status")
    assert "gstg: `" + head[:11] + "` master · package `16.6.1` · success" in status.stdout
    ambiguous_answer = chatops("shell", "--config", str(config), "-c", f"/chatops run auto_deploy status {ambiguous}")
    assert (
        ambiguous_answer.returncode == 1
        and f"`{ambiguous}` is ambiguous: it starts 2 commits" in ambiguous_answer.stdout
    )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.hget(f"{prefix}chatops:deploy:gstg:current", "package") == "16.6.1"
    client.close()


async def test_the_merge_request_index_survives_a_vanished_tip(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Initial")
    repo.checkout("doomed", new=True)
    repo.commit("Experiment\n\nSee merge request g/p!7")
    repo.checkout("master")
    mirror = GitMirror(repo.path)
    assert [c.title for c in await mirror.merge_request_commits("g/p", 7)] == ["Experiment"]
    # The branch is force-deleted and its commits collected: the indexed tip no longer exists.
    repo.git("branch", "-D", "doomed")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "--quiet", "--prune=now")
    repo.merge_request("g/p", 8, "Merged for real")
    assert [c.title for c in await mirror.merge_request_commits("g/p", 8)] == ["Merge branch 'mr-8' into 'master'"]
    assert await mirror.merge_request_commits("g/p", 7) == []  # gone with its branch


async def test_a_learned_revision_answers_like_git_for_every_merge_request_commit(tmp_path: Path) -> None:
    """One walk of a deployed revision's history answers every flag's question about it; the
    answers match `git merge-base --is-ancestor`, also when walked on top of an earlier revision,
    and after merge requests were merged (and indexed) since that earlier walk."""
    history = build_history(tmp_path / "gitlab")
    repo = history.repo
    mirror = GitMirror(repo.path)
    commits = [
        history.mr101_merge,
        history.mr102_squash,
        history.mr103_merge,
        history.mr104_merge,
        history.mr104_pick,
        history.mr105_side,
    ]
    revisions = [history.initial, history.mr103_merge, history.latest, history.mr104_pick, history.mr105_side]

    def git_says(commit: str, revision: str) -> bool:
        found = subprocess.run(["git", "-C", str(repo.path), "merge-base", "--is-ancestor", commit, revision])
        return found.returncode == 0

    async def check(revisions: list[str], commits: list[str], from_walks: set[str]) -> None:
        for revision in revisions:
            for commit in commits:
                mirror._ancestry.clear()  # answers must come from the walk where they can
                assert await mirror.contains(commit, revision) is git_says(commit, revision), (commit, revision)
                if revision in from_walks:
                    assert not mirror._ancestry, "answered by asking git, not from the walk"

    for revision in revisions:  # latest is walked on top of mr103_merge, its ancestor
        await mirror.learn(revision)
    await check(revisions, commits, set(revisions))
    assert len(mirror._reach) == len(revisions)

    late = [repo.merge_request("gitlab-org/gitlab", iid, f"Merged later {iid}") for iid in (106, 107)]
    newest = repo.commit("After the merges")
    await mirror.warm()  # indexes 106 and 107
    await mirror.learn(newest)  # from latest, carrying 106 and 107 over (asked about one by one)
    await check([*revisions, newest], [*commits, *late], {newest})
    await mirror.close()
