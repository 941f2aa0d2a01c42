"""Deploy-aware gating over HTTP, with deployments recorded by real GitLab deployment webhooks into
a real repository: deployed, not deployed, deployed via a pick, merge request unknown, and a mirror
whose fetching fails (stale)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.server import RUNTIME
from handlers.deployments.mirror import MIRROR
from tests.bot.conftest import write_config
from tests.bot.deployments.conftest import (
    WEBHOOK_TOKEN,
    DeployBot,
    History,
    deployment_event,
    deployments_section,
    serving,
)
from tests.bot.slack_stub import SlackStub
from tests.git_repo import GitRepo

FLAGS = {"picked_flag": 104, "side_flag": 105, "unknown_flag": 999}


def _definitions(tmp_path: Path, flags: dict[str, int] = FLAGS) -> str:
    folder = tmp_path / "definitions"
    folder.mkdir()
    for name, iid in flags.items():
        (folder / f"{name}.yml").write_text(
            f"---\nname: {name}\nintroduced_by_url: https://gitlab.com/gitlab-org/gitlab/-/merge_requests/{iid}\n"
            "rollout_issue_url: https://gitlab.com/gitlab-org/gitlab/-/issues/1\nmilestone: '16.6'\n"
            "group: group::database frameworks\ntype: gitlab_com_derisk\ndefault_enabled: false\n"
        )
    return str(folder)


@pytest.fixture
async def gating_bot(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, history: History, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[DeployBot]:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    deployments = deployments_section(str(history.repo.path))
    config = write_config(
        tmp_path, redis_url, prefix, redis_prefix=prefix, deployments=deployments, definitions=[_definitions(tmp_path)]
    )
    async with serving(config, slack, redis_url, prefix, history) as (bot, _):
        yield bot


async def test_gating_follows_the_deployments_gitlab_reports(gating_bot: DeployBot, history: History) -> None:
    bot = gating_bot
    for env, sha, ref in (("gstg", history.latest, "master"), ("gprd", history.initial, "master")):
        status, _ = await bot.webhook(deployment_event(env, sha, "success", "2026-11-26 09:00:00 +0000", ref=ref))
        assert status == 200
    _, staged = await bot.text("run feature set picked_flag true --staging", channel="#development")
    assert "*Enabled*: `picked_flag` on gstg" in staged, staged  # master, with !104, runs on gstg
    _, refused = await bot.text("run feature set picked_flag true --production")
    assert f"The code behind picked_flag ({history.mr104_merge[:11]}) is not deployed to gprd" in refused, refused
    assert not await bot.redis.exists(f"{bot.prefix}gprd:picked_flag")
    picked = deployment_event("gprd", history.mr104_pick, "success", "2026-11-26 10:00:00 +0000", ref="16-5-stable")
    assert (await bot.webhook(picked))[0] == 200
    _, allowed = await bot.text("run feature set picked_flag true --production")
    assert "*Enabled*: `picked_flag` on gprd" in allowed, allowed  # deployed through the pick into 16-5-stable
    _, side = await bot.text("run feature set side_flag true --staging", channel="#development")
    assert "The code behind side_flag" in side and "is not deployed to gstg" in side  # only on a side branch
    _, unknown = await bot.text("run feature set unknown_flag true --staging", channel="#development")
    assert (
        "*Enabled*: `unknown_flag` on gstg" in unknown
        and "Code deployed: unknown on gstg: merge request !999 is not found" in unknown
    )


async def test_a_stale_mirror_makes_the_answer_unknown_and_says_why(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    remote = GitRepo(tmp_path / "remote")
    remote.commit("Initial")
    remote.merge_request("gitlab-org/gitlab", 201, "Code the mirror has")
    deployments = deployments_section(
        f"file://{remote.path}", mirror_path=str(tmp_path / "mirror.git"), fetch_interval=3600
    )
    definitions = _definitions(tmp_path, {"known_flag": 201, "late_flag": 202})
    config = write_config(
        tmp_path, redis_url, prefix, redis_prefix=prefix, deployments=deployments, definitions=[definitions]
    )
    async with serving(config, slack, redis_url, prefix) as (bot, runner):  # cloned now
        late = remote.merge_request("gitlab-org/gitlab", 202, "Code merged after the last fetch")
        (tmp_path / "remote").rename(tmp_path / "gone")  # and from now on fetching fails
        mirror = runner.app[RUNTIME].app.ports.get(MIRROR)
        assert mirror is not None and not await mirror.fetch()
        assert (await bot.webhook(deployment_event("gstg", late, "success", "2026-11-26 09:00:00 +0000")))[0] == 200
        stale = "answered from the mirror as fetched "
        _, known = await bot.text("run feature set known_flag true --staging", channel="#development")
        assert "*Enabled*: `known_flag` on gstg" in known, known  # unknown warns by default
        assert f"Code deployed: unknown on gstg: the mirror does not know {late[:11]}, deployed there ({stale}" in known
        assert "fetching fails: " in known
        _, missing = await bot.text("run feature set late_flag true --staging", channel="#development")
        assert "Code deployed: unknown on gstg: merge request !202 is not found in the mirror (not merged yet?; " in (
            missing
        )
        assert stale in missing
        _, got = await bot.text("run feature get known_flag --staging", channel="#development")
        assert "Code deployed: unknown on gstg" in got, got
