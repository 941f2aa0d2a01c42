"""A real repository shaped like GitLab's, and a bot whose deployments section points at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from tests.bot.conftest import BotUnderTest, start_bot, write_config
from tests.bot.slack_stub import SlackStub
from tests.git_repo import GitRepo

PROJECT = "gitlab-org/gitlab"
WEBHOOK_TOKEN = "test-webhook-token-5f0e"
DEPLOY_ENVS = ["gprd", "gprd-cny", "gstg", "gstg-cny", "gstg-ref"]


@dataclass
class History:
    """The commits of the scenario repository, by what they are."""

    repo: GitRepo
    initial: str
    mr101_merge: str  # in 16-5-stable and v16.5.0
    mr102_squash: str  # in 16-5-stable and v16.5.0 (squashed, no merge commit)
    mr103_merge: str  # merged after 16-5-stable was cut; in 16-6-stable (no tag yet)
    mr104_merge: str  # merged after the cut, then picked into 16-5-stable
    mr104_pick: str
    mr105_side: str  # only on a side branch
    latest: str


def build_history(path: Path) -> History:
    repo = GitRepo(path)
    initial = repo.commit("Initial commit")
    mr101 = repo.merge_request(PROJECT, 101, "Add partitioned shared models")
    mr102 = repo.merge_request(PROJECT, 102, "Enforce explicit connection", squash=True)
    repo.checkout("16-5-stable", new=True, start="master")
    repo.checkout("master")
    mr103 = repo.merge_request(PROJECT, 103, "Tidy the connection pool")
    mr104 = repo.merge_request(PROJECT, 104, "Fix a crash in the scheduler")
    pick = repo.cherry_pick(mr104, "16-5-stable")
    repo.git("tag", "v16.5.0", "16-5-stable")
    repo.checkout("16-6-stable", new=True, start="master")
    repo.checkout("side", new=True, start="master")
    mr105 = repo.commit(f"Experiment\n\nSee merge request {PROJECT}!105", file="side.txt")
    repo.checkout("master")
    latest = repo.commit("Latest work on master")
    repo.checkout("16-6-auto-deploy-2026112600", new=True, start="master")
    repo.checkout("master")
    return History(repo, initial, mr101, mr102, mr103, mr104, pick, mr105, latest)


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("gitlab-repo") / "gitlab")


def deployments_section(repository: str, **extra: object) -> dict[str, object]:
    return {
        "environments": DEPLOY_ENVS,
        "repository": repository,
        "web_url": "https://gitlab.com/gitlab-org/gitlab",
        "default_branch": "master",
        **extra,
    }


@dataclass
class DeployBot(BotUnderTest):
    history: History | None = None

    async def webhook(
        self,
        payload: object,
        *,
        token: str | None = WEBHOOK_TOKEN,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, object]]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["X-Gitlab-Token"] = token
        data = raw if raw is not None else __import__("json").dumps(payload).encode()
        async with self.session.post(f"{self.url}/webhooks/gitlab", data=data, headers=headers) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = {}
            return response.status, body


@pytest.fixture
async def deploy_bot(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    history: History,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[DeployBot]:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    config = write_config(
        tmp_path,
        redis_url,
        prefix,
        redis_prefix=prefix,
        deployments=deployments_section(str(history.repo.path)),
    )
    async with serving(config, slack, redis_url, prefix, history) as (bot, _):
        yield bot


@asynccontextmanager
async def serving(
    config: Path, slack: SlackStub, redis_url: str, prefix: str, history: History | None = None, port: int = 0
) -> AsyncIterator[tuple[DeployBot, web.AppRunner]]:
    """The bot on ``config`` (its embedded data beside it) serving HTTP, and a client for it."""
    runner, url = await start_bot(config, slack, config.parent / ".chatops", port=port)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            yield DeployBot(url, slack, prefix, client, session, history), runner
    finally:
        await runner.cleanup()
        await client.aclose()


def deployment_event(
    env: str, sha: str, status: str, at: str, *, ref: str = "master", **extra: object
) -> dict[str, object]:
    """A deployment event in GitLab's documented shape."""
    return {
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": at,
        "deployment_id": 15,
        "deployable_id": 796,
        "deployable_url": "https://gitlab.com/gitlab-org/gitlab/-/jobs/796",
        "environment": env,
        "environment_slug": env,
        "environment_external_url": f"https://{env}.example.com",
        "project": {
            "id": 30,
            "name": "gitlab",
            "path_with_namespace": PROJECT,
            "web_url": "https://gitlab.com/gitlab-org/gitlab",
            "default_branch": "master",
        },
        "short_sha": sha[:8],
        "user": {"id": 1, "name": "Release Tools", "username": "release-tools"},
        "user_url": "https://gitlab.com/release-tools",
        "commit_url": f"https://gitlab.com/gitlab-org/gitlab/-/commit/{sha}",
        "commit_title": "A commit",
        "ref": ref,
        **extra,
    }
