"""Deploy-aware gating on real git repositories: raising exposure needs the flag's code (its
merge request, by the definition's introduced_by_url) deployed to the environment."""

from __future__ import annotations

import time
from pathlib import Path

from handlers.deployments.registry import REGISTRY, Deployment
from tests.configs import deployments_section
from tests.git_repo import GitRepo
from tests.handlers.conftest import FLAG, FLAG_MERGE_REQUEST, Chatops, MakeChatops

SET = "/chatops run feature set"
D = "#development"


async def _deploy(bot: Chatops, environment: str, sha: str, ref: str = "master") -> None:
    assert bot.app.ports.get(REGISTRY) is not None
    await bot.app.ports.get(REGISTRY).record(Deployment(environment, sha, ref, "success", time.time()))


async def _bot(chatops: MakeChatops, tmp_path: Path, **safety: object) -> tuple[Chatops, GitRepo, str, str]:
    repo = GitRepo(tmp_path / "app")
    old = repo.commit("Initial")
    merged = repo.merge_request("gitlab-org/gitlab", FLAG_MERGE_REQUEST, "The flag's code")
    bot = await chatops(safety=dict(safety) or True, deployments=deployments_section(repo.path))
    await _deploy(bot, "gprd", old)  # production runs code from before the merge request
    await _deploy(bot, "gstg", merged)  # staging runs it
    return bot, repo, old, merged


async def test_a_raise_where_the_code_is_not_deployed_is_refused(chatops: MakeChatops, tmp_path: Path) -> None:
    bot, _, old, merged = await _bot(chatops, tmp_path)
    assert (await bot.run(f"{SET} {FLAG} true --staging", channel=D)).ok  # deployed there
    before = await bot.keyspace()
    refused = await bot.run(f"{SET} {FLAG} true --production")
    assert not refused.ok
    assert (
        f"The code behind {FLAG} ({merged[:11]}) is not deployed to gprd: gprd runs master ({old[:11]}); it is on gstg since "
        in refused.text
    )
    assert f"Check with `/chatops run auto_deploy status {merged[:11]}`." in refused.text
    assert await bot.keyspace() == before
    got = await bot.run(f"/chatops run feature get {FLAG} --staging --production")
    assert "gstg: `on`" in got.text and "Code deployed: yes on gstg\n" in got.text
    assert "gprd: `off`\n" in got.text and "Code deployed: no on gprd (gprd runs master" in got.text
    forced = await bot.run(f"{SET} {FLAG} true --production --ignore-deployment-check")
    assert forced.ok, forced.text
    (latest,) = await bot.app.stores["production"].history(FLAG, limit=1)
    assert latest.checks["deployment_check"] == "ignored (--ignore-deployment-check) by alice"
    assert (await bot.run(f"{SET} {FLAG} false --production")).ok  # reducing exposure is never gated


async def test_code_deployed_through_a_pick_counts(chatops: MakeChatops, tmp_path: Path) -> None:
    bot, repo, old, merged = await _bot(chatops, tmp_path)
    repo.checkout("16-6-stable", new=True, start=old)
    picked = repo.cherry_pick(merged, "16-6-stable")
    await _deploy(bot, "gprd", picked, "16-6-stable")
    answer = await bot.run(f"{SET} {FLAG} true --staging --production")
    assert answer.ok, answer.text
    [entry] = await bot.app.stores["production"].history(FLAG, limit=1)
    assert entry.checks["deployment_check"] == "passed (the code is deployed)"


async def test_an_unknown_merge_request_warns_or_refuses_as_configured(chatops: MakeChatops, tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "app")
    head = repo.commit("Initial")  # the flag's merge request is not in this repository
    for percentage, refuse in ((10, False), (20, True)):
        safety = {"deployment_check_unknown": "refuse"} if refuse else True
        bot = await chatops(safety=safety, deployments=deployments_section(repo.path))
        await _deploy(bot, "gstg", head)
        answer = await bot.run(f"{SET} {FLAG} {percentage} --actors --staging", channel=D)
        unknown = f"merge request !{FLAG_MERGE_REQUEST} is not found in the mirror (not merged yet?)"
        if refuse:
            assert (
                not answer.ok
                and f"Whether the code behind {FLAG} is deployed is unknown (gstg: {unknown})" in answer.text
            )
        else:
            assert answer.ok and f":grey_question: Code deployed: unknown on gstg: {unknown}." in answer.text
