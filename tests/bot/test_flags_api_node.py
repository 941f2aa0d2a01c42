"""``chatops flags-api`` read by OpenFeature's own Node SDK with its OFREP provider (from npm,
written by nobody here), run as a real ``node`` process (tests/node/evaluate.mjs): each gate with
its reason and variant, the errors as the server answers them, Ruby Flipper's answers for every
gate kind and 1,000 actors, and the README's Node example."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flags import ActorId, GroupName
from flags.evaluation import compile_flag
from flags.state import FlagState
from tests.bot.test_flags_api import (
    ACTORS,
    GATE_KINDS,
    ONE,
    groups_of,
    post,
    set_gate_kinds,
    set_one_of_each_gate,
)
from tests.configs import ROOT
from tests.flags.flipper_oracle import FlipperOracle
from tests.flags_api_server import BACKEND, FRONTEND, KEYS, flags_api_config, flags_api_server, gprd_store, until
from tests.openfeature_js import NODE_DIR, node_evaluate, require_packages

GPRD, GSTG, WEB = KEYS["FLAGS_API_KEY_GPRD"], KEYS["FLAGS_API_KEY_GSTG"], KEYS["FLAGS_API_KEY_WEB"]
ADMIN = {"targetingKey": "User:1", "groups": ["admins"]}
OTHER = {"targetingKey": "User:2"}


def details(answer: dict[str, Any]) -> tuple[Any, ...]:
    """(value, reason, variant, errorCode) of an answer of evaluate.mjs."""
    return answer["value"], answer["reason"], answer["variant"], answer["errorCode"]


async def server_says(session: aiohttp.ClientSession, url: str, key: str, flag: str, context: Any) -> tuple[Any, ...]:
    """What the server answers over plain HTTP, as the SDK's details: (value, reason, variant,
    errorCode, errorMessage); an error's value is the caller's default (False here)."""
    body = {} if context is None else {"context": context}
    status, answer, _ = await post(session, url + ONE + flag, body, key)
    if status == 200:
        return answer["value"], answer["reason"], answer["variant"], None, None
    return False, "ERROR", None, answer["errorCode"], answer["errorDetails"]


async def test_the_node_openfeature_client_reads_each_gate_with_its_reason(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    require_packages()
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as server,
    ):
        await set_one_of_each_gate(set_flag)
        await set_flag(FRONTEND, "true", actors=[ActorId("User:1")])

        async def pushed() -> bool:
            return (await server_says(session, server.url, GPRD, FRONTEND, ADMIN))[0] is True

        await until(pushed, 2, "flags pushed")
        expected: list[tuple[str, Any, tuple[Any, ...]]] = [
            ("everyone", OTHER, (True, "STATIC", "on", None)),
            ("everyone", None, (True, "STATIC", "on", None)),  # no context at all
            ("named", ADMIN, (True, "TARGETING_MATCH", "on", None)),
            ("named", OTHER, (False, "DEFAULT", "off", None)),
            ("admins_only", ADMIN, (True, "TARGETING_MATCH", "on", None)),
            ("admins_only", OTHER, (False, "DEFAULT", "off", None)),
            ("nobody", ADMIN, (False, "DISABLED", "off", None)),
            (BACKEND, OTHER, (True, "DEFAULT", "on", None)),  # defined, not set: its definition's default
            ("no_such_flag", OTHER, (False, "ERROR", None, "FLAG_NOT_FOUND")),
            ("half", {"groups": ["admins"]}, (False, "ERROR", None, "TARGETING_KEY_MISSING")),
            ("everyone", {"targetingKey": "User:1", "groups": "admins"}, (False, "ERROR", None, "INVALID_CONTEXT")),
        ]
        for n in range(40):  # a share of actors: the same ones the SDK picks
            on = compile_flag("half", FlagState(percentage_of_actors="50"), {})(f"User:{n}")
            answer = (True, "SPLIT", "on", None) if on else (False, "DEFAULT", "off", None)
            expected.append(("half", {"targetingKey": f"User:{n}"}, answer))
        questions = [{"flag": flag, "context": context} for flag, context, _ in expected]
        answers = await asyncio.to_thread(node_evaluate, f"{server.url}/gprd", GPRD, questions)
        assert [details(a) for a in answers] == [answer for *_, answer in expected]
        for (flag, context, _), answer in zip(expected, answers, strict=True):  # as the server answers
            said = await server_says(session, server.url, GPRD, flag, context)
            assert (*details(answer), answer["errorMessage"]) == said, (flag, context)

        # The caller's default on errors, and a type the flag is not.
        odd = [
            {"flag": "no_such_flag", "context": OTHER, "default": True},
            {"flag": "everyone", "context": OTHER, "type": "string", "default": "fallback"},
            {"flag": "everyone", "context": OTHER, "type": "number", "default": 7},
        ]
        answers = await asyncio.to_thread(node_evaluate, f"{server.url}/gprd", GPRD, odd)
        assert [details(a) for a in answers] == [
            (True, "ERROR", None, "FLAG_NOT_FOUND"),
            ("fallback", "ERROR", None, "TYPE_MISMATCH"),
            (7, "ERROR", None, "TYPE_MISMATCH"),
        ]

        # Keys: another environment's is refused (the SDK's general error), the base URL without an
        # environment reads the key's own, a front-end key sees front-end flags only.
        [elsewhere] = await asyncio.to_thread(node_evaluate, f"{server.url}/gprd", GSTG, questions[:1])
        assert details(elsewhere) == (False, "ERROR", None, "GENERAL")
        [own] = await asyncio.to_thread(node_evaluate, server.url, GPRD, questions[:1])
        assert details(own) == (True, "STATIC", "on", None)
        front = [{"flag": FRONTEND, "context": ADMIN}, {"flag": BACKEND, "context": ADMIN}]
        answers = await asyncio.to_thread(node_evaluate, f"{server.url}/gprd", WEB, front)
        assert [details(a) for a in answers] == [
            (True, "TARGETING_MATCH", "on", None),
            (False, "ERROR", None, "FLAG_NOT_FOUND"),
        ]
        hidden = await server_says(session, server.url, WEB, BACKEND, ADMIN)
        assert (*details(answers[1]), answers[1]["errorMessage"]) == hidden
        assert f"No flag named {BACKEND} for front ends in gprd" in answers[1]["errorMessage"]


@pytest.mark.slow
async def test_node_answers_as_ruby_flipper_for_every_gate_kind_and_1000_actors(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    require_packages()
    config = flags_api_config(tmp_path, redis_url, prefix)
    oracle = FlipperOracle(redis_url)
    try:
        async with (
            aiohttp.ClientSession() as session,
            gprd_store(redis_url, prefix) as set_flag,
            flags_api_server(config, session) as server,
        ):
            await set_gate_kinds(set_flag)

            async def pushed() -> bool:
                found = await server_says(session, server.url, GPRD, "kind_everything", {"targetingKey": "User:5"})
                return found[0] is True

            await until(pushed, 2, "the flags pushed")
            pairs = [(name, actor) for actor in ACTORS for name in GATE_KINDS]
            flipper = oracle.evaluate(f"{prefix}gprd:", pairs)
            questions = [
                {"flag": name, "context": {"targetingKey": actor, "groups": groups_of(actor)}} for name, actor in pairs
            ]
            answers = await asyncio.to_thread(node_evaluate, f"{server.url}/gprd", GPRD, questions, 240)
    finally:
        oracle.close()
    assert len(ACTORS) == 1000 and len(pairs) == 1000 * len(GATE_KINDS)
    errors = [(pair, a) for pair, a in zip(pairs, answers, strict=True) if a["errorCode"] is not None]
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:3]}"
    disagreements = [
        (pair, ruby, a["value"]) for pair, ruby, a in zip(pairs, flipper, answers, strict=True) if a["value"] != ruby
    ]
    assert disagreements == [], f"{len(disagreements)} of {len(pairs)} differ from Flipper, e.g. {disagreements[:5]}"
    assert 0.2 < sum(flipper) / len(flipper) < 0.8  # both answers occur often


def _readme_node_example() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Any language: the flags API (OFREP)\n")
    section = readme[start : readme.index("\n## ", start + 1)]
    [example] = [block for block in re.findall(r"```js\n(.*?)```", section, re.S) if block.startswith("// Node")]
    return str(example)


async def test_the_readme_node_example_runs(tmp_path: Path, redis_url: str, prefix: str) -> None:
    node = require_packages()
    example = _readme_node_example()
    assert "https://flags.example.com/gprd" in example and "'new_checkout'" in example
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as server,
    ):
        await set_flag("new_checkout", "true", groups=[GroupName("admins")])  # the example's actor is in admins

        async def pushed() -> bool:
            return (await server_says(session, server.url, GPRD, "new_checkout", ADMIN))[0] is True

        await until(pushed, 2, "the flag pushed")
        script = tmp_path / "example.mjs"  # beside a link to tests/node's packages, as in an app
        script.write_text(
            example.replace("https://flags.example.com/gprd", f"{server.url}/gprd")
            + "console.log(JSON.stringify(on));\n"
        )
        (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules")
        done = await asyncio.to_thread(
            subprocess.run,
            [node, str(script)],
            cwd=tmp_path,
            env={**os.environ, "FLAGS_API_KEY_GPRD": GPRD},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) is True
