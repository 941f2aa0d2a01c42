"""300 generated command texts through the HTTP endpoint: no 5xx, no crash, no write when refused.

The bulk (2,000 examples) runs in-process in tests/handlers/test_grammar.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tests.bot.background import BackgroundBot
from tests.bot.conftest import FLAG, write_config
from tests.helpers import BACKGROUND_KEYS, delete_prefixed

WORDS = [
    "run",
    "feature",
    "set",
    "get",
    "list",
    "delete",
    "history",
    "help",
    FLAG,
    "x",
    "Bad-Name",
    "true",
    "false",
    "TRUE",
    "50",
    "12.5",
    "0.001",
    "101",
    "-1",
    "0",
    "100",
    "--actors",
    "--random",
    "--staging",
    "--production",
    "--dev",
    "--pre",
    "--ops",
    "--staging-ref",
    "--user=alice",
    "--user",
    "--project=gitlab-org/gitaly",
    "--feature-group=beta",
    "--match",
    "--match=enforce",
    "--limit=3",
    "--limit",
    "\u2014staging",
    "\u2013dev",
    f"`{FLAG}`",
    "<!channel>",
    "<@U0SRE>",
    "&amp;",
    "'",
    '"',
    "“quoted”",
    "--help",
    "-h",
    "--",
    "=",
    ",",
    "--ignore-production-check",
    "--ignore-random-deprecation-check",
    "auto_deploy",
    "status",
    "\u00a0",
    "🙂",
]

grammar_like = st.lists(st.sampled_from(WORDS), min_size=0, max_size=9).map(" ".join)
anything = st.text(max_size=300)
commands = st.one_of(grammar_like, grammar_like.map(lambda s: "run feature " + s), anything)


def keyspace(client: redis.Redis, prefix: str) -> dict[str, object]:
    dump: dict[str, object] = {}
    for key in sorted(client.scan_iter(match=f"{prefix}*", count=1000)):
        if any(marker in key for marker in BACKGROUND_KEYS):
            continue
        kind = client.type(key)
        if kind == "hash":
            dump[key] = client.hgetall(key)
        elif kind == "set":
            dump[key] = sorted(client.smembers(key))
        else:
            dump[key] = (kind, client.xlen(key) if kind == "stream" else None)
    return dump


@pytest.fixture(scope="module")
def background_bot(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[BackgroundBot, str]]:
    directory = tmp_path_factory.mktemp("fuzz")
    prefix = "chatops-test:fuzz:"
    bot = BackgroundBot(write_config(Path(directory), redis_url, prefix), Path(directory) / ".chatops")
    yield bot, prefix
    bot.stop()
    delete_prefixed(redis_url, prefix)


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=commands,
    channel=st.sampled_from(["#development", "#production"]),
    user=st.sampled_from(["U0SRE", "U0DEV"]),
)
def test_generated_commands(
    background_bot: tuple[BackgroundBot, str], redis_url: str, text: str, channel: str, user: str
) -> None:
    bot, prefix = background_bot
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    before = keyspace(client, prefix)
    with capture_logs() as logs:
        status, kind, answer = bot.command(text, user=user, channel=channel)
    assert status == 200
    assert not [e for e in logs if e.get("log_level") in ("error", "critical")], logs
    assert answer.strip()
    if kind == "ephemeral":  # refused or invalid (or help): nothing written
        assert keyspace(client, prefix) == before, (text, answer)
    client.close()
