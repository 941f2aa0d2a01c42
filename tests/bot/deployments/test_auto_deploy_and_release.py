"""`auto_deploy status [SHA]` and `release check` through the HTTP endpoint, against a real repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.server import RUNTIME
from handlers.deployments.mirror import MIRROR, GitMirror
from tests.bot.conftest import write_config
from tests.bot.deployments.conftest import (
    PROJECT,
    WEBHOOK_TOKEN,
    DeployBot,
    build_history,
    deployment_event,
    deployments_section,
    serving,
)
from tests.bot.slack_stub import SlackStub

MR = "https://gitlab.com/gitlab-org/gitlab/-/merge_requests/"


async def deploy(bot: DeployBot, env: str, sha: str, status: str, at: str, **extra: object) -> None:
    code, body = await bot.webhook(deployment_event(env, sha, status, at, **extra))
    assert code == 200, body


async def test_status_lists_each_environment_with_markers_and_compare_links(deploy_bot: DeployBot) -> None:
    h = deploy_bot.history
    assert h is not None
    await deploy(deploy_bot, "gprd", h.mr101_merge, "success", "2026-11-26 01:00:00 +0000", package="16.6.202611260100")
    await deploy(deploy_bot, "gprd-cny", h.mr103_merge, "success", "2026-11-26 02:00:00 +0000")
    await deploy(deploy_bot, "gstg", h.mr103_merge, "success", "2026-11-26 03:00:00 +0000")
    await deploy(deploy_bot, "gstg", h.latest, "running", "2026-11-26 04:00:00 +0000")
    kind, text = await deploy_bot.text("run auto_deploy status", channel="#development")
    assert kind == "in_channel"
    assert (
        f"*gprd*: `{h.mr101_merge[:11]}` master · package `16.6.202611260100` · success · deployed 2026-11-26 01:00 UTC"
        in text
    )
    assert (
        f"differs from gprd-cny: <https://gitlab.com/gitlab-org/gitlab/-/compare/{h.mr103_merge}...{h.mr101_merge}|compare>"
        in text
    )
    assert f"new deployment running: `{h.latest[:11]}` master" in text
    assert "*gstg-cny*: no successful deployment recorded" in text
    assert text.count("differs from") == 1  # gprd-cny and gstg run the same revision


async def test_status_of_a_commit(deploy_bot: DeployBot) -> None:
    h = deploy_bot.history
    assert h is not None
    await deploy(deploy_bot, "gprd", h.mr101_merge, "success", "2026-11-26 01:00:00 +0000")
    await deploy(deploy_bot, "gstg", h.mr104_merge, "success", "2026-11-26 03:00:00 +0000")
    await deploy(deploy_bot, "gstg-ref", h.latest, "running", "2026-11-26 04:00:00 +0000")
    kind, text = await deploy_bot.text(f"run auto_deploy status {h.mr103_merge[:8]}", channel="#development")
    assert kind == "in_channel"
    assert f"`{h.mr103_merge[:11]}` Merge branch 'mr-103' into 'master'" in text
    assert ":white_check_mark: deployed to *gstg*" in text
    assert "being deployed now to *gstg-ref*" in text
    assert "not yet on gprd" in text
    # the newest commit is deployed nowhere: a clear warning, not an error
    kind, text = await deploy_bot.text(f"run auto_deploy status {h.latest}", channel="#development")
    assert kind == "in_channel" and "*deployed nowhere yet*" in text


async def test_status_of_an_unknown_or_malformed_sha(deploy_bot: DeployBot) -> None:
    kind, text = await deploy_bot.text("run auto_deploy status 1234567890abcdef", channel="#development")
    assert kind == "ephemeral" and "Commit `1234567890abcdef` was not found in the repository mirror" in text
    kind, text = await deploy_bot.text("run auto_deploy status xyz123", channel="#development")
    assert kind == "ephemeral" and "`xyz123` is not a commit SHA" in text
    kind, text = await deploy_bot.text("run auto_deploy status abc12", channel="#development")
    assert kind == "ephemeral" and "give 7 to 40 hexadecimal characters" in text
    kind, text = await deploy_bot.text("run auto_deploy status a b", channel="#development")
    assert kind == "ephemeral" and "takes at most one commit SHA" in text


async def test_release_check_answers(deploy_bot: DeployBot) -> None:
    h = deploy_bot.history
    assert h is not None
    cases = [
        (
            f"{MR}101 16.5",
            "in_channel",
            f":white_check_mark: *included* in `v16.5.0` (merge commit `{h.mr101_merge[:11]}`)",
        ),
        (f"{MR}102 16.5", "in_channel", "*included* in `v16.5.0`"),  # a squashed merge request
        (f"{MR}104 16.5", "in_channel", f"*included* in `v16.5.0` (picked as `{h.mr104_pick[:11]}`)"),
        (f"{MR}103 16.5", "in_channel", "*not included yet*: `v16.5.0` does not contain merge commit"),
        (f"{MR}103 16.6", "in_channel", "*included* in `16-6-stable` (merge commit"),
        (
            f"{MR}999 16.5",
            "ephemeral",
            '*merge request not found in the mirror*: no commit says "See merge request gitlab-org/gitlab!999"',
        ),
        (
            f"{MR}101 17.0",
            "ephemeral",
            "*release 17.0 is unknown*: neither tag `v17.0.0` nor branch `17-0-stable` exists",
        ),
        (
            "https://gitlab.com/gitlab-org/gitlab/merge_requests/101 %16.5",
            "in_channel",
            "*included* in `v16.5.0`",
        ),
        (f"<{MR}101> v16.5", "in_channel", "*included* in `v16.5.0`"),
    ]
    for args, kind, expected in cases:
        got_kind, text = await deploy_bot.text(f"run release check {args}", channel="#development")
        assert (got_kind, expected in text) == (kind, True), (args, text)
    _, text = await deploy_bot.text(f"run release check {MR}103 16.6", channel="#development")
    assert "tag `v16.6.0` does not exist yet" in text
    _, text = await deploy_bot.text(f"run release check {MR}105 16.5", channel="#development")
    assert "not included yet" in text  # found on a side branch only


async def test_release_check_bad_input(deploy_bot: DeployBot) -> None:
    cases = [
        (
            "run release check https://gitlab.com/gitlab-org/gitlab/-/issues/5 16.5",
            "is not a merge request URL",
        ),
        ("run release check not-a-url 16.5", "is not a merge request URL"),
        (f"run release check {MR}101 sixteen", "`sixteen` is not a milestone"),
        (f"run release check {MR}101", "needs a merge request URL and a milestone"),
        ("run release verify x", "Unknown subcommand `verify` for `release`"),
    ]
    for line, expected in cases:
        kind, text = await deploy_bot.text(line, channel="#development")
        assert kind == "ephemeral" and expected in text, (line, text)


async def test_release_check_with_a_project_path_needing_escapes(deploy_bot: DeployBot) -> None:
    # "gitlab-org/gitlab" must not match "gitlab-org/gitlabXcom!101", nor !1011 match !101.
    kind, text = await deploy_bot.text(
        f"run release check https://gitlab.com/{PROJECT.replace('/', '/')}/-/merge_requests/10 16.5",
        channel="#development",
    )
    assert kind == "ephemeral" and "not found in the mirror" in text


async def test_a_fetched_release_tag_is_walked_unasked_and_answers_like_git(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each fetch the newest releases' tags and stable branches and the default branch are
    walked in the background, nobody asking: the first `release check` of a tag just fetched is
    answered from those walks, without git, and as `git merge-base --is-ancestor` says."""
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    history = build_history(tmp_path / "remote")
    repo = history.repo
    section = deployments_section(f"file://{repo.path}", mirror_path=str(tmp_path / "mirror.git"), fetch_interval=3600)
    config = write_config(tmp_path, redis_url, prefix, redis_prefix=prefix, deployments=section)

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(repo.path), *args], capture_output=True, text=True)

    async with serving(config, slack, redis_url, prefix, history) as (bot, runner):
        mirror = runner.app[RUNTIME].app.ports.get(MIRROR)
        assert mirror is not None
        await mirror.walked()  # cloned at start, then walked
        assert set(mirror._reach) == {git("rev-parse", r).stdout.strip() for r in ("v16.5.0", "16-6-stable", "master")}
        repo.git("tag", "-a", "-m", "16.6", "v16.6.0", "16-6-stable")  # 16.6 is released (an annotated tag)
        assert await mirror.fetch()
        await mirror.walked()
        tag = git("rev-parse", "v16.6.0^{commit}").stdout.strip()
        assert tag in mirror._reach
        mirror._ancestry.clear()  # every answer below is git's if it is here afterwards
        for iid in (101, 102, 103, 104, 105, 999):
            _, text = await bot.text(f"run release check {MR}{iid} 16.6", channel="#development")
            found = git("log", "--all", "--format=%H", f"--grep=See merge request {PROJECT}!{iid}$").stdout.split()
            included = any(git("merge-base", "--is-ancestor", sha, tag).returncode == 0 for sha in found)
            expected = "*included* in `v16.6.0`" if included else "*not included yet*" if found else "not found"
            assert expected in text, (iid, text)
        assert not mirror._ancestry, "answered by asking git, not from the walks"


async def test_a_local_repository_walks_its_releases_at_warm_up(tmp_path: Path) -> None:
    history = build_history(tmp_path / "gitlab")
    mirror = GitMirror(history.repo.path, releases=("v{major}.{minor}.0", "{major}-{minor}-stable"))
    await mirror.warm()
    await mirror.walked()
    assert mirror._release_tips == {
        name: history.repo.git("rev-parse", name).strip()
        for name in ("v16.5.0", "16-5-stable", "16-6-stable", "master")
    }
    await mirror.close()
