"""A bot with every safety feature configured: a real Alertmanager, an HTTP check, GitLab's API."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.alertmanager_process import Alertmanager
from tests.bot.conftest import CHANNELS, BotUnderTest, signed_headers, start_bot, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.configs import add_staging_e2e_trigger, deployments_section, safety_section
from tests.git_repo import GitRepo
from tests.http_stubs import ChecksAndGitLab


@dataclass
class SafeBot(BotUnderTest):
    run_label: str = ""  # alerts with this `test` label are the ones this bot's check sees
    alertmanager: Alertmanager | None = None
    outside: ChecksAndGitLab | None = None

    def fire(self, alertname: str, summary: str = "", **labels: str) -> None:
        assert self.alertmanager is not None
        self.alertmanager.fire({"alertname": alertname, "test": self.run_label, "env": "gprd", **labels}, summary)

    async def click(
        self, value: str, *, user: str = "U0SRE", channel: str = "#production", headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """A signed block_actions payload, as Slack sends a button click; returns (HTTP status, response id)."""
        response_id = f"click-{uuid.uuid4().hex[:8]}"
        payload = {
            "type": "block_actions",
            "team": {"id": "T0TEST", "domain": "test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEST"},
            "api_app_id": "A0APP",
            "token": "legacy",
            "trigger_id": "1.2.3",
            "container": {
                "type": "message",
                "message_ts": "1.0",
                "channel_id": CHANNELS.get(channel.lstrip("#"), channel),
            },
            "channel": {"id": CHANNELS.get(channel.lstrip("#"), channel), "name": channel.lstrip("#")},
            "response_url": f"{self.slack.url}/respond/{response_id}",
            "actions": [
                {
                    "action_id": "rollback",
                    "block_id": "b1",
                    "value": value,
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Roll back"},
                    "action_ts": "1.1",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        async with self.session.post(
            f"{self.url}/slack/events", data=body, headers=headers or signed_headers(body)
        ) as response:
            await response.read()
            return response.status, response_id

    async def click_answer(self, value: str, **kwargs: Any) -> tuple[str, str]:
        status, response_id = await self.click(value, **kwargs)
        assert status == 200
        await self.slack.wait_for(lambda: self.slack.responses.get(response_id))
        message = self.slack.responses[response_id][-1]
        return message.get("response_type", ""), message_text(message)


def rollback_values(message: dict[str, Any]) -> dict[str, str]:
    """The Roll back buttons of a message: label → value."""
    values = {}
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            for element in block["elements"]:
                values[element["text"]["text"]] = element["value"]
    return values


def safety_config(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    outside: ChecksAndGitLab,
    alertmanager: Alertmanager,
    label: str,
    **safety: Any,
) -> Path:
    repo = GitRepo(tmp_path / "app")
    repo.commit("Initial")
    path = write_config(
        tmp_path,
        redis_url,
        prefix,
        redis_prefix=prefix,
        safety=safety_section(alertmanager.url, outside.url, label, 2, **safety),
        deployments=deployments_section(repo.path),
    )
    add_staging_e2e_trigger(path)
    return path


@pytest.fixture
async def safe_bot(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    slack: SlackStub,
    outside: ChecksAndGitLab,
    alertmanager: Alertmanager,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[SafeBot]:
    monkeypatch.setenv("TEST_E2E_TOKEN", "e2e-trigger-token")
    monkeypatch.setenv("GITLAB_API_TOKEN", "glpat-test-token")
    label = uuid.uuid4().hex[:10]
    config = safety_config(tmp_path, redis_url, prefix, outside, alertmanager, label)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    async with aiohttp.ClientSession() as session:
        yield SafeBot(url, slack, prefix, client, session, label, alertmanager, outside)
    await runner.cleanup()
    await client.aclose()
