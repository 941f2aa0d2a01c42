"""GitLab deployment webhooks over HTTP into the registry: auth, bad bodies, ordering."""

from __future__ import annotations

from tests.bot.deployments.conftest import DeployBot, deployment_event
from tests.helpers import keyspace

SHA_A = "a" * 40
SHA_B = "b" * 40


async def registry_keys(bot: DeployBot) -> dict[str, object]:
    return await keyspace(bot.redis, f"{bot.prefix}chatops:deploy:")


async def test_a_success_event_becomes_the_current_deployment(deploy_bot: DeployBot) -> None:
    status, body = await deploy_bot.webhook(deployment_event("gstg", SHA_A, "success", "2026-11-26 06:00:00 +0100"))
    assert (status, body["became"]) == (200, "current")
    current = await deploy_bot.redis.hgetall(f"{deploy_bot.prefix}chatops:deploy:gstg:current")
    assert current["sha"] == SHA_A and current["ref"] == "master" and current["status"] == "success"
    assert float(current["at"]) == 1795669200.0  # 05:00 UTC
    assert current["url"] == "https://gitlab.com/gitlab-org/gitlab/-/jobs/796"


async def test_events_are_ordered_by_their_time_not_their_arrival(deploy_bot: DeployBot) -> None:
    assert (await deploy_bot.webhook(deployment_event("gprd", SHA_B, "success", "2026-11-26 10:00:00 +0000")))[0] == 200
    status, body = await deploy_bot.webhook(deployment_event("gprd", SHA_A, "success", "2026-11-26 09:00:00 +0000"))
    assert (status, body["became"]) == (200, "history")  # late and older: history only
    late_running = deployment_event("gprd", SHA_A, "running", "2026-11-26 08:50:00 +0000")
    assert (await deploy_bot.webhook(late_running))[1]["became"] == "history"
    prefix = f"{deploy_bot.prefix}chatops:deploy:gprd"
    assert (await deploy_bot.redis.hgetall(f"{prefix}:current"))["sha"] == SHA_B
    assert await deploy_bot.redis.exists(f"{prefix}:running") == 0
    assert await deploy_bot.redis.zcard(f"{prefix}:history") == 3


async def test_running_then_finished(deploy_bot: DeployBot) -> None:
    prefix = f"{deploy_bot.prefix}chatops:deploy:gstg-cny"
    await deploy_bot.webhook(deployment_event("gstg-cny", SHA_A, "success", "2026-11-26 09:00:00 +0000"))
    await deploy_bot.webhook(deployment_event("gstg-cny", SHA_B, "running", "2026-11-26 09:30:00 +0000"))
    assert (await deploy_bot.redis.hgetall(f"{prefix}:running"))["sha"] == SHA_B
    await deploy_bot.webhook(deployment_event("gstg-cny", SHA_B, "failed", "2026-11-26 09:40:00 +0000"))
    assert await deploy_bot.redis.exists(f"{prefix}:running") == 0
    assert (await deploy_bot.redis.hgetall(f"{prefix}:current"))["sha"] == SHA_A  # a failure changes nothing
    await deploy_bot.webhook(deployment_event("gstg-cny", SHA_B, "running", "2026-11-26 10:00:00 +0000"))
    await deploy_bot.webhook(deployment_event("gstg-cny", SHA_B, "success", "2026-11-26 10:20:00 +0000"))
    current = await deploy_bot.redis.hgetall(f"{prefix}:current")
    assert current["sha"] == SHA_B
    assert float(current["started_at"]) < float(current["finished_at"])


async def test_wrong_or_missing_token_is_401_and_stores_nothing(deploy_bot: DeployBot) -> None:
    event = deployment_event("gstg", SHA_A, "success", "2026-11-26 06:00:00 +0100")
    for token in (None, "", "wrong", "test-webhook-token-5f0", "\xff\xfe-not-utf-8"):
        status, _ = await deploy_bot.webhook(event, token=token)
        assert status == 401
    assert await registry_keys(deploy_bot) == {}


async def test_bad_bodies(deploy_bot: DeployBot) -> None:
    assert (await deploy_bot.webhook(None, raw=b"{not json"))[0] == 400
    assert (await deploy_bot.webhook(None, raw=b"[]"))[0] == 400
    assert (await deploy_bot.webhook(None, raw=b"x" * (300 * 1024)))[0] == 413
    missing = deployment_event("gstg", SHA_A, "success", "2026-11-26 06:00:00 +0100")
    del missing["ref"]
    status, body = await deploy_bot.webhook(missing)
    assert (status, body["message"]) == (400, "ref is missing")
    status, body = await deploy_bot.webhook(deployment_event("gstg", SHA_A, "exploded", "2026-11-26 06:00:00 +0100"))
    assert status == 400 and "status 'exploded' is not one of running, success, failed, canceled" in body["message"]
    status, body = await deploy_bot.webhook(deployment_event("gstg", SHA_A, "success", "yesterday"))
    assert status == 400 and "status_changed_at" in body["message"]
    bad_sha = deployment_event("gstg", "zz", "success", "2026-11-26 06:00:00 +0100", short_sha="zz")
    bad_sha["commit_url"] = "https://gitlab.com/x/-/commit/zz"
    assert (await deploy_bot.webhook(bad_sha))[0] == 400
    assert await registry_keys(deploy_bot) == {}


async def test_unknown_environments_and_other_events_are_accepted_and_ignored(deploy_bot: DeployBot) -> None:
    # GitLab disables a webhook that keeps failing, so review apps and pushes must not be errors.
    status, body = await deploy_bot.webhook(
        deployment_event("review/my-branch", SHA_A, "success", "2026-11-26 06:00:00 +0100")
    )
    assert status == 202 and "unknown deployment environment 'review/my-branch'" in body["message"]
    status, body = await deploy_bot.webhook({"object_kind": "push", "ref": "refs/heads/master"})
    assert status == 202 and "ignored" in body["message"]
    assert await registry_keys(deploy_bot) == {}


async def test_full_sha_from_commit_url_when_the_event_has_no_sha_field(deploy_bot: DeployBot) -> None:
    event = deployment_event("gstg-ref", SHA_B, "success", "2026-11-26T06:00:00Z")
    assert "sha" not in event
    await deploy_bot.webhook(event)
    current = await deploy_bot.redis.hgetall(f"{deploy_bot.prefix}chatops:deploy:gstg-ref:current")
    assert current["sha"] == SHA_B
