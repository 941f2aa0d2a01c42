"""Rollouts guarded by the team's own metrics, and the watch after a change, against a real
Prometheus scraping a test application that reads the flag through our SDK: when the flag is on for
an actor, that actor's requests fail at the application's error rate. Nothing is injected into the
bot: it sees only what it asks Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.bot.conftest import FLAG, ROOT, BotUnderTest, start_bot, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.bot.test_charts import png_size
from tests.helpers import keyspace
from tests.metrics_harness import PrometheusWithApp, error_ratio, start_prometheus_with_app

pytestmark = pytest.mark.slow

WINDOW = "6s"
ERROR_RATIO = (
    f'sum(rate(http_requests_total{{env="{{env}}",code="500"}}[{WINDOW}]))'
    f' / sum(rate(http_requests_total{{env="{{env}}"}}[{WINDOW}]))'
)


def metrics_section(prometheus_url: str, **extra: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "prometheus": {"url": prometheus_url, "timeout": 2},
        "checks": {
            "error_ratio": {"query": ERROR_RATIO, "worse_when": "higher", "max_increase": "2x", "unit": "ratio"},
        },
        "every": "1s",
        "failure_limit": 2,
    }
    return {**section, **extra}


@contextlib.asynccontextmanager
async def guarded_bot(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, metrics: dict[str, Any]
) -> AsyncIterator[BotUnderTest]:
    config = write_config(tmp_path, redis_url, prefix, metrics=metrics, safety={"rollout_min_every_seconds": 1})
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            yield BotUnderTest(url, slack, prefix, client, session)
    finally:
        await runner.cleanup()
        await client.aclose()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await condition():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


async def rollout_status(bot: BotUnderTest, rollout_id: str) -> str:
    record = await bot.redis.hget(f"{bot.prefix}chatops:schedules", rollout_id)
    return str(json.loads(record)["status"]) if record else ""


def thread_texts(slack: SlackStub, channel: str, starting: str) -> list[str]:
    """The texts of the replies in the thread of the first message in ``channel`` starting so."""
    posts = slack.posts(channel)
    parent = next(p for p in posts if message_text(p).startswith(starting))
    return [message_text(p) for p in posts if p.get("thread_ts") == parent["_ts"]]


@pytest.fixture
def harmful(tmp_path: Path, redis_url: str, prefix: str) -> Any:
    with start_prometheus_with_app(tmp_path, redis_url, prefix, error_rate=0.6, base_error_rate=0.02) as world:
        yield world


async def test_a_step_that_raises_errors_is_aborted_and_rolled_back(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, harmful: PrometheusWithApp
) -> None:
    async with guarded_bot(tmp_path, redis_url, prefix, slack, metrics_section(harmful.prometheus.url)) as bot:
        start = f"run feature rollout {FLAG} --steps 50,100 --every 30s --staging --metrics error_ratio"
        _, text = await bot.text(start, channel="#development")
        assert "Started R1 on gstg" in text, text
        key = f"{prefix}gstg:{FLAG}"
        await until(lambda: _equals(bot.redis.hget(key, "percentage_of_actors"), "50"), 10, "step 1 written")
        await until(lambda: _equals(rollout_status(bot, "R1"), "aborted"), 30, "the rollout aborted")
        assert not await bot.redis.exists(key)  # restored: the flag did not exist before the rollout
        await slack.wait_for(lambda: any("aborted and rolled back" in t for t in _thread(slack)), timeout=5)
        (said,) = [t for t in _thread(slack) if "aborted and rolled back" in t]
        assert "error ratio on gstg is " in said and "past its bound" in said and "baseline" in said, said
        assert "the query in Prometheus" in said and "<@U0" in said, said
        card = next(p for p in slack.posts("#development") if message_text(p).startswith("Rollout R1 of"))
        assert "Metric checks: error ratio (before: gstg " in message_text(card)
        await slack.wait_for(lambda: slack.uploads("#development"), timeout=10)
        (chart,) = slack.uploads("#development")
        assert chart.thread_ts == card["_ts"] and chart.title == f"Rollout R1 of {FLAG}"
        assert png_size(chart.data) == (1000, 360) and 10_000 < len(chart.data) < 300_000
        assert "error ratio on gstg:" in chart.alt_txt, chart.alt_txt
        if os.environ.get("CHATOPS_SCREENSHOTS"):
            (ROOT / os.environ["CHATOPS_SCREENSHOTS"] / "chart-rollout-abort.png").write_bytes(chart.data)


def _thread(slack: SlackStub) -> list[str]:
    return thread_texts(slack, "#development", "Rollout R1 of")


async def _equals(value: Awaitable[Any], expected: str) -> bool:
    return str(await value) == expected


async def test_a_harmless_rollout_completes(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> None:
    with start_prometheus_with_app(tmp_path, redis_url, prefix, error_rate=0.02, base_error_rate=0.02) as world:
        async with guarded_bot(tmp_path, redis_url, prefix, slack, metrics_section(world.prometheus.url)) as bot:
            start = f"run feature rollout {FLAG} --steps 25,100 --every 3s --staging --metrics error_ratio"
            _, text = await bot.text(start, channel="#development")
            assert "Started R1" in text, text
            await until(lambda: _equals(rollout_status(bot, "R1"), "done"), 30, "the rollout done")
            assert await bot.redis.hget(f"{prefix}gstg:{FLAG}", "boolean") == "true"


async def test_prometheus_stopped_pauses_the_rollout_and_it_goes_on_when_it_answers(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    with start_prometheus_with_app(tmp_path, redis_url, prefix, error_rate=0.02, base_error_rate=0.02) as world:
        async with guarded_bot(tmp_path, redis_url, prefix, slack, metrics_section(world.prometheus.url)) as bot:
            start = f"run feature rollout {FLAG} --steps 10,50,100 --every 4s --staging --metrics error_ratio"
            await bot.text(start, channel="#development")
            key = f"{prefix}gstg:{FLAG}"
            await until(lambda: _equals(bot.redis.hget(key, "percentage_of_actors"), "10"), 10, "step 1 written")
            world.prometheus.stop()
            await until(lambda: _equals(rollout_status(bot, "R1"), "paused"), 15, "paused while Prometheus is down")
            await asyncio.sleep(5)  # longer than a step: it never advances while paused
            assert await bot.redis.hget(key, "percentage_of_actors") == "10"
            assert any("cannot be read" in t and "goes on by itself" in t for t in _thread(slack)), _thread(slack)
            world.prometheus.start()
            await until(lambda: _equals(rollout_status(bot, "R1"), "done"), 60, "resumed and done")
            assert any("Resumed: every metric check can be read again" in t for t in _thread(slack))


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            "--metrics nope",
            "`--metrics` names an unknown check `nope`; configured checks: bad_syntax, error_ratio, two",
        ),
        ("--metrics bad_syntax", "Prometheus refused the query: "),
        ("--metrics two_series", 'answers 2 series ({code="200"}; {code="500"})'),
    ],
)
async def test_bad_checks_are_refused_and_nothing_starts(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, harmful: PrometheusWithApp, given: str, said: str
) -> None:
    checks = {
        "error_ratio": {"query": ERROR_RATIO, "max_increase": "2x"},
        "bad_syntax": {"query": 'sum(rate(http_requests_total{env="{env}"}[1m]) /', "max": 1},
        "two_series": {"query": 'sum by (code) (rate(http_requests_total{env="{env}"}[1m]))', "max": 1000},
    }
    metrics = metrics_section(harmful.prometheus.url, checks=checks)
    async with guarded_bot(tmp_path, redis_url, prefix, slack, metrics) as bot:
        before = await keyspace(bot.redis, prefix)
        _, text = await bot.text(
            f"run feature rollout {FLAG} --steps 50,100 --every 30s --staging {given}", channel="#development"
        )
        assert said in text, text
        assert await keyspace(bot.redis, prefix) == before


def watch_section(prometheus_url: str, environments: list[str] | None = ["gstg"]) -> dict[str, Any]:  # noqa: B006
    watch = {"checks": ["error_ratio"], "minutes": 0.25, "every": "1s", "environments": environments}
    # an absolute bound: a 2x bound on a 2% rate read over a few seconds trips on noise (a baseline read low)
    checks = {"error_ratio": {"query": ERROR_RATIO, "max_increase": "+0.05", "unit": "ratio"}}
    return metrics_section(prometheus_url, watch=watch, checks=checks)


def log_thread(slack: SlackStub) -> list[dict[str, Any]]:
    """The watch's replies in threads of the log channel's posts."""
    return [p for p in slack.posts("#feature-flag-log") if p.get("thread_ts") and "Watch of" in message_text(p)]


def latest_reply(slack: SlackStub) -> str:
    """The watch reply as it reads now (its last update, or the reply itself)."""
    (reply,) = log_thread(slack)
    updates = [c.params for c in slack.calls if c.method == "chat.update" and c.params.get("ts") == reply["_ts"]]
    return message_text(updates[-1] if updates else reply)


async def test_a_production_change_that_raises_errors_gets_a_warning_with_a_working_undo(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    with start_prometheus_with_app(
        tmp_path, redis_url, prefix, environment="gprd", error_rate=0.6, base_error_rate=0.02
    ) as world:
        metrics = watch_section(world.prometheus.url, environments=None)  # default: the production ones
        async with guarded_bot(tmp_path, redis_url, prefix, slack, metrics) as bot:
            _, text = await bot.text(f"run feature set {FLAG} true --ignore-feature-flag-consistency-check")
            assert "on gprd" in text, text
            await slack.wait_for(lambda: log_thread(slack) and ":warning:" in latest_reply(slack), timeout=20)
            said = latest_reply(slack)
            assert said.startswith(":warning: error ratio ") and "on gprd since this change — <@U0SRE>" in said
            parent = next(p for p in slack.posts("#feature-flag-log") if not p.get("thread_ts"))
            reply = log_thread(slack)[0]
            assert reply["thread_ts"] == parent["_ts"]  # in the thread of the change's post
            updates = [
                c.params for c in slack.calls if c.method == "chat.update" and c.params.get("ts") == reply["_ts"]
            ]
            blocks = (updates[-1] if updates else reply)["blocks"]
            buttons = [e for b in blocks for e in [*b.get("elements", []), b.get("accessory") or {}]]
            (undo,) = [e for e in buttons if e.get("action_id")]
            assert undo["text"]["text"] == "Undo on gprd: on → off", undo
            assert "goes back to off" in undo["confirm"]["text"]["text"]
            answer = await bot.button(undo["action_id"], undo["value"])
            assert "off" in message_text(answer), message_text(answer)
            assert await bot.redis.hget(f"{prefix}gprd:{FLAG}", "boolean") is None
            await world.prometheus.until(
                error_ratio("gprd", "6s"), lambda ratio: ratio < 0.1, 20, "errors back to base after the undo"
            )


async def test_a_harmless_change_gets_no_change_and_changes_close_together_are_watched_together(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    with start_prometheus_with_app(tmp_path, redis_url, prefix, error_rate=0.02, base_error_rate=0.02) as world:
        async with guarded_bot(tmp_path, redis_url, prefix, slack, watch_section(world.prometheus.url)) as bot:
            await bot.text(f"run feature set {FLAG} 50 --actors --staging", channel="#development")
            await bot.text(f"run feature set {FLAG} true --staging", channel="#development")
            await slack.wait_for(lambda: len(log_thread(slack)) == 2, timeout=10)

            def final() -> bool:
                return all("Final: the watch has ended." in _now(slack, r) for r in log_thread(slack))

            await slack.wait_for(final, timeout=40)
            first, second = (_now(slack, r) for r in log_thread(slack))
            assert first.startswith("No change in error ratio "), first
            assert "on gstg in the " in first and "after this change" in first, first
            assert "Watched together with the other changes on gstg close to it" in first, first
            assert f"{FLAG} 50% of actors → on by " in first, first
            assert f"{FLAG} off → 50% of actors by " in second, second
            parents = {r["thread_ts"] for r in log_thread(slack)}
            await slack.wait_for(lambda: len(slack.uploads("#feature-flag-log")) == 2, timeout=10)
            charts = slack.uploads("#feature-flag-log")
            assert {c.thread_ts for c in charts} == parents  # each in the thread of its change's post
            assert all(png_size(c.data)[0] == 1000 for c in charts)
            if os.environ.get("CHATOPS_SCREENSHOTS"):
                (ROOT / os.environ["CHATOPS_SCREENSHOTS"] / "chart-watch.png").write_bytes(charts[0].data)


def _now(slack: SlackStub, reply: dict[str, Any]) -> str:
    updates = [c.params for c in slack.calls if c.method == "chat.update" and c.params.get("ts") == reply["_ts"]]
    return message_text(updates[-1] if updates else reply)


def test_check_metrics_tries_every_check_and_fails_on_a_problem(
    tmp_path: Path, redis_url: str, prefix: str, harmful: PrometheusWithApp
) -> None:
    checks = {
        "error_ratio": {"query": ERROR_RATIO, "max_increase": "2x", "unit": "ratio"},
        "bad_syntax": {"query": 'sum(rate(http_requests_total{env="{env}"}[1m]) /', "max": 1},
    }
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = write_config(tmp_path / "good", redis_url, prefix, metrics=metrics_section(harmful.prometheus.url))
    bad = write_config(
        tmp_path / "bad", redis_url, prefix, metrics=metrics_section(harmful.prometheus.url, checks=checks)
    )
    command = [sys.executable, "-m", "bot.cli", "--log-level", "error", "check-metrics", "--config"]
    done = subprocess.run([*command, str(good)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^error_ratio on gstg: \d", done.stdout, re.M), done.stdout
    assert "error_ratio on gprd: no data now (the query finds no series there)" in done.stdout
    assert "1 check(s) in 6 environment(s): 0 problem(s)" in done.stderr
    done = subprocess.run([*command, str(bad)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "problem: bad_syntax on gstg: Prometheus refused the query: " in done.stdout, done.stdout
    assert "parse error" in done.stdout
    assert "2 check(s) in 6 environment(s): 6 problem(s)" in done.stderr
