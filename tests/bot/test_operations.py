"""Running it for real: metrics, readiness naming the failing part, no secret in any log line,
and a SIGTERM that lets acknowledged commands finish."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import pytest
import structlog
import yaml

from bot.logs import add_secrets, configure_logging
from tests.bot.conftest import (
    FLAG,
    SIGNING_SECRET,
    BotUnderTest,
    serve_process,
    start_bot,
    wait_healthy,
    write_config,
)
from tests.bot.deployments.conftest import WEBHOOK_TOKEN, DeployBot, deployment_event
from tests.bot.slack_stub import SlackStub, message_text
from tests.http_stubs import ChecksAndGitLab
from tests.redis_process import free_port


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def scrape(bot: BotUnderTest) -> str:
    async with bot.session.get(f"{bot.url}/metrics") as response:
        assert response.status == 200
        return await response.text()


async def test_metrics_count_commands_latency_and_outcomes(bot: BotUnderTest) -> None:
    before = await scrape(bot)
    await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
    await bot.text(f"run feature set {FLAG} true --production", channel="#development")  # refused
    await bot.text("run feature set x maybe", channel="#development")  # error
    after = await scrape(bot)

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert delta("chatops_commands_total", command="feature", subcommand="set", environment="gstg", outcome="ok") == 1
    assert (
        delta("chatops_commands_total", command="feature", subcommand="set", environment="gprd", outcome="refused") == 1
    )
    assert delta("chatops_commands_total", command="unknown", outcome="error") == 0
    assert (
        delta("chatops_commands_total", command="feature", subcommand="set", environment="gprd", outcome="error") == 1
    )
    assert delta("chatops_ack_seconds_count") == 3
    assert delta("chatops_command_seconds_count", command="feature") == 3


async def test_webhook_metrics(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    from tests.git_repo import GitRepo

    repo = GitRepo(tmp_path / "repo")
    sha = repo.commit("one")
    config = write_config(
        tmp_path,
        redis_url,
        prefix,
        redis_prefix=prefix,
        deployments={"environments": ["gstg"], "repository": str(repo.path)},
    )
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        bot = DeployBot(url, slack, prefix, None, session)  # type: ignore[arg-type]
        before = await scrape(bot)
        await bot.webhook(deployment_event("gstg", sha, "success", "2026-11-26 01:00:00 +0000"))
        await bot.webhook(deployment_event("gstg", sha, "success", "2026-11-26 01:00:00 +0000"), token="bad")
        await bot.webhook(deployment_event("review/x", sha, "success", "2026-11-26 01:00:00 +0000"))
        after = await scrape(bot)
    await runner.cleanup()
    for outcome in ("recorded", "refused", "ignored"):
        assert (
            metric(after, "chatops_webhook_events_total", outcome=outcome)
            - metric(before, "chatops_webhook_events_total", outcome=outcome)
            == 1
        )


async def test_readiness_names_what_is_failing(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> None:
    data = yaml.safe_load(write_config(tmp_path, redis_url, prefix).read_text())
    data["environments"][-1]["redis_url"] = "redis://127.0.0.1:1/0"  # gprd's Redis is down
    config = tmp_path / "down.yml"
    config.write_text(yaml.safe_dump(data))
    slack.fail_next("auth.test", 200, body={"ok": False, "error": "invalid_auth"})
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/readyz") as response:
            text = await response.text()
            assert response.status == 503
            assert "redis for gprd" in text and "slack auth: invalid_auth" in text
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 200  # alive, only not ready
        bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
        kind, text = await bot.text(f"run feature get {FLAG} --production", channel="#development")
        assert kind == "ephemeral" and "could not reach Redis for gprd" in text
    await runner.cleanup()


def test_no_secret_reaches_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="debug")
    add_secrets(["signing-secret-0123456789", "hunter2-redis-password"])
    log = structlog.get_logger("test")
    log.info(
        "event",
        token="xoxb-1234-5678-abcdefghijkl",
        url="rediss://default:hunter2-redis-password@redis:6380/0",
        nested={"secret": "signing-secret-0123456789", "app": "xapp-1-A0-123-abc"},
        gitlab="glpat-abcdef123456",
    )
    try:
        raise RuntimeError("connecting with hunter2-redis-password failed")
    except RuntimeError:
        log.exception("failed")
    err = capsys.readouterr().err
    for secret in ("xoxb-1234", "hunter2-redis-password", "signing-secret-0123456789", "xapp-1-A0", "glpat-abcdef"):
        assert secret not in err, secret
    assert "rediss://default:***@redis:6380/0" in err
    structlog.reset_defaults()


@pytest.mark.slow
async def test_sigterm_finishes_acknowledged_commands_then_exits_0(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    checks = await ChecksAndGitLab().start()
    checks.check_delay = 2.0  # the production check takes a while: the command is in flight
    config = write_config(
        tmp_path, redis_url, prefix, safety={"production_check": {"timeout": 5, "http": [f"{checks.url}/check"]}}
    )
    port = free_port()
    process = serve_process(config, port, slack.url, token="xoxb-shutdown-test")
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
            answer = await bot.send(
                f"run feature set {FLAG} true --staging --production --ignore-feature-flag-consistency-check"
            )
            assert answer.status == 200  # acked
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 20)
            assert code == 0
            await slack.wait_for(
                lambda: any("*Enabled*" in message_text(m) for m in slack.responses.get(answer.response_id, []))
            )
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate(timeout=10)
        await checks.stop()
    assert '"unfinished_commands": 0' in stderr
    assert "xoxb-shutdown-test" not in stderr and SIGNING_SECRET not in stderr
