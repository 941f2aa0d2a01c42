"""An environment's flags on a Redis with TLS and an ACL user, beside the bot's own plain Redis."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import redis
import yaml

from tests.bot.conftest import FLAG, BotUnderTest, start_bot, write_config
from tests.bot.slack_stub import SlackStub
from tests.redis_process import free_port, redis_server_binary

PASSWORD = "s3cret-acl-password"


@pytest.fixture
def tls_redis(tmp_path: Path) -> tuple[str, str]:
    """A redis-server on TLS only, whose default user is off: only user `chatops` may connect."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
            "--user",
            "chatops",
            "on",
            f">{PASSWORD}",
            "~*",
            "&*",
            "+@all",
            "--user",
            "default",
            "off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"rediss://chatops:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield url, str(cert)
    process.kill()
    process.wait(timeout=10)


def staging_on(url: str, tmp_path: Path, redis_url: str, prefix: str) -> Path:
    """The example configuration with staging's flags on ``url`` and the rest on ``redis_url``."""
    data = yaml.safe_load(write_config(tmp_path, redis_url, prefix).read_text())
    next(e for e in data["environments"] if e["option"] == "staging")["redis_url"] = url
    config = tmp_path / "tls.yml"
    config.write_text(yaml.safe_dump(data))
    return config


async def test_flags_on_tls_with_an_acl_user(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, tls_redis: tuple[str, str]
) -> None:
    url, _ = tls_redis
    config = staging_on(url, tmp_path, redis_url, prefix)
    runner, bot_url = await start_bot(config, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        bot = BotUnderTest(bot_url, slack, prefix, None, session)  # type: ignore[arg-type]
        kind, text = await bot.text(f"run feature set {FLAG} 25 --actors --staging --dev", channel="#development")
        assert kind == "in_channel", text
        async with session.get(f"{bot_url}/readyz") as response:
            assert response.status == 200
    await runner.cleanup()
    tls = redis.Redis.from_url(url, decode_responses=True)
    assert tls.hgetall(f"{prefix}gstg:{FLAG}") == {"percentage_of_actors": "25"}
    plain = redis.Redis.from_url(redis_url, decode_responses=True)
    assert plain.hgetall(f"{prefix}dev:{FLAG}") == {"percentage_of_actors": "25"}  # the other server
    assert not plain.exists(f"{prefix}gstg:{FLAG}")


async def test_a_wrong_password_is_a_clear_answer(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, tls_redis: tuple[str, str]
) -> None:
    url, _ = tls_redis
    data = yaml.safe_load(write_config(tmp_path, redis_url, prefix).read_text())
    next(e for e in data["environments"] if e["option"] == "staging")["redis_url"] = url.replace(
        PASSWORD, "wrong-password"
    )
    config = tmp_path / "wrong.yml"
    config.write_text(yaml.safe_dump(data))
    runner, bot_url = await start_bot(config, slack, tmp_path / ".chatops")
    async with aiohttp.ClientSession() as session:
        bot = BotUnderTest(bot_url, slack, prefix, None, session)  # type: ignore[arg-type]
        kind, text = await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
        assert kind == "ephemeral" and "Could not reach Redis for gstg" in text
        assert "wrong-password" not in text
    await runner.cleanup()
