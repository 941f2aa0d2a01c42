"""``chatops flags-api`` as a real process, read by OpenFeature's own Python SDK and OFREP provider
(from PyPI, written by nobody here) and by plain HTTP as the protocol defines it: single and bulk
evaluation, ETags, changes arriving by push, Ruby Flipper's answers, every kind of bad input,
browsers (CORS, front-end keys), a Redis outage, and the same routes mounted in ``chatops serve``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from multidict import CIMultiDict
from openfeature import api as openfeature
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from flags import ActorId, GroupName
from flags.evaluation import compile_flag
from flags.state import FlagState
from tests.bot.conftest import BotUnderTest, start_bot
from tests.bot.slack_stub import SlackStub
from tests.configs import FLAG, ROOT, write_config
from tests.flags.flipper_oracle import FlipperOracle
from tests.flags_api_server import (
    BACKEND,
    FRONTEND,
    KEYS,
    ORIGIN,
    flags_api_config,
    flags_api_server,
    gprd_store,
    start_process,
    until,
)
from tests.redis_process import RedisProcess, free_port

GPRD, GSTG, WEB = KEYS["FLAGS_API_KEY_GPRD"], KEYS["FLAGS_API_KEY_GSTG"], KEYS["FLAGS_API_KEY_WEB"]
ONE = "/gprd/ofrep/v1/evaluate/flags/"
ALL = "/gprd/ofrep/v1/evaluate/flags"


def openfeature_client(base_url: str, key: str) -> OpenFeatureClient:
    """OpenFeature's client, through the OFREP provider, with its own domain (provider) per call."""
    domain = uuid.uuid4().hex
    provider = OFREPProvider(base_url, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
    openfeature.set_provider(provider, domain)
    return openfeature.get_client(domain)


async def post(
    session: aiohttp.ClientSession, url: str, body: Any, key: str | None = GPRD, **headers: str
) -> tuple[int, Any, CIMultiDict[str]]:
    """(status, JSON body or None, headers) of a POST; ``body`` bytes are sent as they are."""
    sent = dict(headers)
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with session.post(url, data=data, headers=sent) as response:
        text = await response.read()
        return response.status, json.loads(text) if text else None, response.headers.copy()


async def value_of(session: aiohttp.ClientSession, url: str, name: str, actor: str = "User:1") -> Any:
    status, body, _ = await post(session, url + ONE + name, {"context": {"targetingKey": actor}})
    return body.get("value") if status == 200 else body.get("errorCode")


async def test_the_python_openfeature_client_reads_each_gate_with_its_reason(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as server,
    ):
        await set_one_of_each_gate(set_flag)
        await until(lambda: _is(session, server.url, "half", actor="User:1", value={True, False}), 2, "flags pushed")
        client = openfeature_client(f"{server.url}/gprd", GPRD)
        admin = EvaluationContext("User:1", {"groups": ["admins"]})
        other = EvaluationContext("User:2")

        def details(name: str, context: EvaluationContext | None) -> tuple[Any, ...]:
            found = client.get_boolean_details(name, False, context)
            return found.value, found.reason, found.variant, found.error_code

        assert details("everyone", other) == (True, Reason.STATIC, "on", None)
        assert details("named", admin) == (True, Reason.TARGETING_MATCH, "on", None)
        assert details("named", other) == (False, Reason.DEFAULT, "off", None)
        assert details("admins_only", admin) == (True, Reason.TARGETING_MATCH, "on", None)
        assert details("admins_only", other) == (False, Reason.DEFAULT, "off", None)
        assert details("nobody", admin) == (False, Reason.DISABLED, "off", None)
        assert details(BACKEND, other) == (True, Reason.DEFAULT, "on", None)  # defined, not set: its default
        for n in range(40):  # a share of actors: the same ones the SDK picks
            expected = compile_flag("half", FlagState(percentage_of_actors="50"), {})(f"User:{n}")
            reason = Reason.SPLIT if expected else Reason.DEFAULT
            assert details("half", EvaluationContext(f"User:{n}")) == (
                expected,
                reason,
                "on" if expected else "off",
                None,
            )
        unknown = client.get_boolean_details("no_such_flag", True, other)
        assert (unknown.value, unknown.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
        anonymous = client.get_boolean_details("half", False, EvaluationContext(None, {}))
        assert (anonymous.value, anonymous.error_code) == (False, ErrorCode.TARGETING_KEY_MISSING)
        assert details("everyone", None) == (True, Reason.STATIC, "on", None)  # no context at all: {} is sent
        elsewhere = openfeature_client(f"{server.url}/gprd", GSTG).get_boolean_details("everyone", False, other)
        assert (elsewhere.value, elsewhere.error_code, elsewhere.error_message) == (
            False,
            ErrorCode.GENERAL,
            "forbidden",
        )
        own = openfeature_client(server.url, GPRD)  # no environment in the URL: the key's own
        assert own.get_boolean_details("everyone", False, other).value is True


async def _is(session: aiohttp.ClientSession, url: str, name: str, *, actor: str = "User:1", value: Any) -> bool:
    found = await value_of(session, url, name, actor)
    return found in value if isinstance(value, set) else found == value


async def test_bulk_evaluation_with_its_etag(tmp_path: Path, redis_url: str, prefix: str) -> None:
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as server,
    ):
        await set_flag("everyone", "true")
        await until(lambda: _is(session, server.url, "everyone", value=True), 2, "the flag pushed")
        context = {"context": {"targetingKey": "User:1", "plan": "premium"}}
        status, body, headers = await post(session, server.url + ALL, context)
        assert status == 200 and body["metadata"] == {"environment": "gprd", "stale": False}
        by_key = {item["key"]: item for item in body["flags"]}
        assert by_key["everyone"] == {"key": "everyone", "value": True, "reason": "STATIC", "variant": "on"}
        assert set(by_key) == {"everyone", BACKEND, FRONTEND}  # stored and defined flags
        etag = headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
        status, body, again = await post(session, server.url + ALL, context, **{"If-None-Match": etag})
        assert (status, body, again["ETag"]) == (304, None, etag)
        other = {"context": {"targetingKey": "User:2"}}
        status, _, headers = await post(session, server.url + ALL, other, **{"If-None-Match": etag})
        assert status == 200 and headers["ETag"] != etag  # another actor: another answer
        await set_flag("everyone", "false")
        await until(lambda: _is(session, server.url, "everyone", value=False), 2, "the change pushed")
        status, body, headers = await post(session, server.url + ALL, context, **{"If-None-Match": etag})
        assert status == 200 and headers["ETag"] != etag
        assert {i["key"]: i["value"] for i in body["flags"]}["everyone"] is False


async def test_a_change_reaches_every_replica_within_50_ms_and_they_agree_on_etags(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as first,
        flags_api_server(config, session) as second,
    ):
        await set_flag("rollout", "false")
        for server in (first, second):
            await until(lambda s=server: _is(session, s.url, "rollout", value=False), 2, "the flag pushed")
        waits = []
        for round_ in range(6):
            value = "true" if round_ % 2 == 0 else "false"
            await set_flag("rollout", value)
            for server in (first, second):  # measured from the write's return, the second one included
                waits.append(
                    await until(
                        lambda s=server, v=value: _is(session, s.url, "rollout", value=v == "true"),
                        0.05,
                        f"round {round_}",
                    )
                )
        assert max(waits) <= 0.05, waits
        context = {"context": {"targetingKey": "User:7", "groups": ["admins"]}}
        tags = {(await post(session, server.url + ALL, context))[2]["ETag"] for server in (first, second)}
        assert len(tags) == 1, "replicas holding the same flags give the same ETag"


#: Flags of every gate kind Ruby's Flipper can be compared on (a percentage of time only at 0 and 100).
GATE_KINDS: dict[str, list[dict[str, Any]]] = {
    "kind_on": [{"value": "true"}],
    "kind_off": [{"value": "true", "actors": ["User:1"]}, {"value": "false", "actors": ["User:1"]}],
    "kind_actors": [{"value": "true", "actors": ["User:3", "Project:gitlab-org/gitaly", "User:admin2"]}],
    "kind_groups": [{"value": "true", "groups": ["admins", "sevens"]}],
    "kind_unregistered_group": [{"value": "true", "groups": ["nobody_registers_this"]}],
    "kind_actors_0": [{"value": "0", "percentage_of": "actors"}],
    "kind_actors_37": [{"value": "37", "percentage_of": "actors"}],
    "kind_actors_fraction": [{"value": "12.345", "percentage_of": "actors"}],
    "kind_actors_tiny": [{"value": "0.001", "percentage_of": "actors"}],
    "kind_actors_100": [{"value": "100", "percentage_of": "actors"}],
    "kind_time_0": [{"value": "0", "percentage_of": "time"}],
    "kind_time_100": [{"value": "100", "percentage_of": "time"}],
    "kind_everything": [
        {"value": "true", "actors": ["User:5"]},
        {"value": "true", "groups": ["projects"]},
        {"value": "25", "percentage_of": "actors"},
        {"value": "0", "percentage_of": "time"},
    ],
}
GROUPS = {  # as tests/flags/flipper/oracle.rb registers them; an OpenFeature caller states membership
    "admins": lambda actor: actor.startswith("User:admin"),
    "projects": lambda actor: actor.startswith("Project:"),
    "sevens": lambda actor: actor.endswith("7"),
}
ACTORS = (
    [f"User:admin{i}" for i in range(20)]
    + [f"User:{i}" for i in range(700)]
    + [f"Project:gitlab-org/project-{i}" for i in range(200)]
    + [f"Group:{i}" for i in range(79)]
    + ["User:ünïcode"]
)


def groups_of(actor: str) -> list[str]:
    return sorted(name for name, member in GROUPS.items() if member(actor))


async def set_one_of_each_gate(set_flag: Callable[..., Awaitable[None]]) -> None:
    """One flag per kind of answer (everyone, a group, an actor, half of the actors, nobody left)."""
    await set_flag("everyone", "true")
    await set_flag("admins_only", "true", groups=[GroupName("admins")])
    await set_flag("named", "true", actors=[ActorId("User:1")])
    await set_flag("half", "50", percentage_of="actors")
    await set_flag("nobody", "true", actors=[ActorId("User:9")])
    await set_flag("nobody", "false", actors=[ActorId("User:9")])


async def set_gate_kinds(set_flag: Callable[..., Awaitable[None]]) -> None:
    """GATE_KINDS written as the bot writes them (``set_flag`` of gprd_store)."""
    for name, changes in GATE_KINDS.items():
        for change in changes:
            scopes = {
                "actors": [ActorId(a) for a in change.get("actors", [])],
                "groups": [GroupName(g) for g in change.get("groups", [])],
                "percentage_of": change.get("percentage_of"),
            }
            await set_flag(name, change["value"], **scopes)


def provider_answers(base_url: str, actors: list[str]) -> list[bool | None]:
    """Each (flag, actor) through OpenFeature's client (None: an error)."""
    client = openfeature_client(base_url, GPRD)
    answers: list[bool | None] = []
    for actor in actors:
        context = EvaluationContext(actor, {"groups": groups_of(actor)})
        for name in GATE_KINDS:
            details = client.get_boolean_details(name, False, context)
            answers.append(None if details.error_code else details.value)
    return answers


@pytest.mark.slow
async def test_every_client_answers_as_ruby_flipper_for_every_gate_kind_and_1000_actors(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    oracle = FlipperOracle(redis_url)
    config = flags_api_config(tmp_path, redis_url, prefix)
    assert len(ACTORS) == 1000
    try:
        async with (
            aiohttp.ClientSession() as session,
            gprd_store(redis_url, prefix) as set_flag,
            flags_api_server(config, session) as server,
        ):
            await set_gate_kinds(set_flag)
            await until(lambda: _is(session, server.url, "kind_everything", actor="User:5", value=True), 2, "pushed")
            pairs = [(name, actor) for actor in ACTORS for name in GATE_KINDS]
            flipper = oracle.evaluate(f"{prefix}gprd:", pairs)

            bulk: list[bool | None] = []
            for actor in ACTORS:
                context = {"context": {"targetingKey": actor, "groups": groups_of(actor)}}
                status, body, _ = await post(session, server.url + ALL, context)
                assert status == 200, body
                values = {item["key"]: item.get("value") for item in body["flags"]}
                bulk += [values[name] for name in GATE_KINDS]
            quarters = [ACTORS[i::4] for i in range(4)]
            parts = await asyncio.gather(
                *(asyncio.to_thread(provider_answers, f"{server.url}/gprd", q) for q in quarters)
            )
            single = {}
            for quarter, answers in zip(quarters, parts, strict=True):
                asked = [(name, actor) for actor in quarter for name in GATE_KINDS]
                single.update(zip(asked, answers, strict=True))
    finally:
        oracle.close()
    disagreements = [
        (pair, ruby, over_bulk, single[pair])
        for pair, ruby, over_bulk in zip(pairs, flipper, bulk, strict=True)
        if not ruby == over_bulk == single[pair]
    ]
    assert disagreements == [], f"{len(disagreements)} of {len(pairs)} differ from Flipper, e.g. {disagreements[:5]}"
    assert 0.2 < sum(flipper) / len(flipper) < 0.8  # both answers occur often


HUGE = b'{"context": {"targetingKey": "' + b"x" * (1024 * 1024) + b'"}}'
#: (what, path, key, body, extra headers) -> (status, errorCode or None, words of errorDetails, reason logged)
BAD_INPUT: list[tuple[str, str, str | None, Any, dict[str, str], tuple[int, str | None, str, str]]] = [
    (
        "unknown flag",
        ONE + "no_such_flag",
        GPRD,
        {"context": {}},
        {},
        (404, "FLAG_NOT_FOUND", "No flag named no_such_flag in gprd", "flag not found"),
    ),
    (
        "malformed JSON",
        ONE + "everyone",
        GPRD,
        b'{"context": {',
        {},
        (400, "PARSE_ERROR", "The request body is not JSON", "PARSE_ERROR"),
    ),
    (
        "body not an object",
        ALL,
        GPRD,
        b"[1, 2]",
        {},
        (400, "PARSE_ERROR", "must be a JSON object, not list", "PARSE_ERROR"),
    ),
    (
        "context not an object",
        ONE + "everyone",
        GPRD,
        {"context": "User:1"},
        {},
        (400, "INVALID_CONTEXT", "context must be an object, not str", "INVALID_CONTEXT"),
    ),
    (
        "context not an object, bulk",
        ALL,
        GPRD,
        {"context": None},
        {},
        (400, "INVALID_CONTEXT", "context must be an object, not null", "INVALID_CONTEXT"),
    ),
    (
        "targetingKey not text",
        ONE + "everyone",
        GPRD,
        {"context": {"targetingKey": 42}},
        {},
        (400, "INVALID_CONTEXT", "targetingKey must be text", "INVALID_CONTEXT"),
    ),
    (
        "groups not a list",
        ONE + "everyone",
        GPRD,
        {"context": {"targetingKey": "User:1", "groups": "admins"}},
        {},
        (400, "INVALID_CONTEXT", "groups must be a list", "INVALID_CONTEXT"),
    ),
    ("1 MB body", ONE + "everyone", GPRD, HUGE, {}, (413, "PARSE_ERROR", "at most 65536 are read", "body too large")),
    ("1 MB body, bulk", ALL, GPRD, HUGE, {}, (413, "PARSE_ERROR", "at most 65536 are read", "body too large")),
    (
        "no key",
        ONE + "everyone",
        None,
        {"context": {}},
        {},
        (401, None, "No API key: send Authorization: Bearer KEY or X-API-Key: KEY", "no key"),
    ),
    (
        "another scheme",
        ALL,
        None,
        {"context": {}},
        {"Authorization": f"Basic {GPRD}"},
        (401, None, "No API key", "no key"),
    ),
    (
        "wrong key",
        ONE + "everyone",
        "not-a-key-of-ours-0123456789",
        {"context": {}},
        {},
        (401, None, "This API key is not known here", "unknown key"),
    ),
    (
        "wrong X-API-Key",
        "/gprd/ofrep/v1/configuration",
        None,
        None,
        {"X-API-Key": "not-a-key-of-ours-0123456789"},
        (401, None, "not known", "unknown key"),
    ),
    (
        "another environment's key",
        ONE + "everyone",
        GSTG,
        {"context": {}},
        {},
        (403, None, "The key rails-gstg is for gstg; it cannot read gprd", "key for another environment"),
    ),
    (
        "an environment nobody has",
        "/nowhere/ofrep/v1/evaluate/flags",
        GPRD,
        {"context": {}},
        {},
        (403, None, "it cannot read nowhere", "key for another environment"),
    ),
    (
        "front-end key, back-end flag",
        ONE + BACKEND,
        WEB,
        {"context": {}},
        {},
        (404, "FLAG_NOT_FOUND", f"No flag named {BACKEND} for front ends in gprd", "back-end flag"),
    ),
    (
        "front-end key, unknown flag",
        ONE + "no_such_flag",
        WEB,
        {"context": {}},
        {},
        (404, "FLAG_NOT_FOUND", "No flag named no_such_flag for front ends in gprd", "flag not found"),
    ),
    (
        "no targetingKey where actors decide",
        ONE + "named",
        GPRD,
        {"context": {}},
        {},
        (400, "TARGETING_KEY_MISSING", "say which with targetingKey", "TARGETING_KEY_MISSING"),
    ),
]


async def test_bad_input_gets_the_protocols_answer_and_every_refusal_is_logged(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as server,
    ):
        await set_flag("everyone", "true")
        await set_flag("named", "true", actors=[ActorId("User:1")])
        await until(lambda: _is(session, server.url, "named", value=True), 2, "the flags pushed")
        for what, path, key, body, headers, (status, code, words, _) in BAD_INPUT:
            if body is None:
                if key is not None:
                    headers = {**headers, "Authorization": f"Bearer {key}"}
                async with session.get(server.url + path, headers=headers) as response:
                    found, answer = response.status, await response.json()
            else:
                found, answer, _ = await post(session, server.url + path, body, key, **headers)
            assert found == status, (what, found, answer)
            assert answer.get("errorCode") == code and words in answer["errorDetails"], (what, answer)
            if path.startswith(ONE) and code is not None:
                assert answer["key"] == path.removeprefix(ONE), what
            if status == 401:
                assert "errorCode" not in answer

        # A body sent in chunks, with no length announced, is bounded all the same.
        async def chunks() -> Any:
            for _ in range(20):
                yield b" " * 65536

        async with session.post(server.url + ALL, data=chunks(), headers={"X-API-Key": GPRD}) as response:
            assert response.status == 413 and (await response.json())["errorCode"] == "PARSE_ERROR"
        async with session.get(f"{server.url}/healthz") as response:  # the server is fine
            assert response.status == 200
    log = [json.loads(line) for line in server.stderr[-1].splitlines() if line.startswith("{")]
    refused = [line for line in log if line["event"] == "flags_api.refused"]
    # asking for "named" before its first snapshot arrived is a (logged) 404 of the wait, not of the table
    refused = [r for r in refused if not (r["reason"] == "flag not found" and r["path"] == ONE + "named")]
    assert [(r["status"], r["reason"]) for r in refused] == [(s, reason) for *_, (s, _, _, reason) in BAD_INPUT] + [
        (413, "body too large")
    ]
    assert {r["key"] for r in refused if r["reason"] == "key for another environment"} == {"rails-gstg", "rails-gprd"}
    assert not any(GPRD in line or GSTG in line or WEB in line for line in server.stderr[-1].splitlines())
    assert "Traceback" not in server.stderr[-1] and not any(r["status"] >= 500 for r in refused)


async def test_browsers_read_front_end_flags_from_allowed_origins_only(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as server,
    ):
        await set_flag(FRONTEND, "true", actors=[ActorId("User:1")])
        await until(lambda: _is(session, server.url, FRONTEND, value=True), 2, "the flag pushed")
        asking = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,if-none-match",
        }
        async with session.options(server.url + ALL, headers={"Origin": ORIGIN, **asking}) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == ORIGIN and response.headers["Vary"] == "Origin"
            assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
        async with session.options(server.url + ALL, headers={"Origin": "https://evil.example", **asking}) as response:
            assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
            assert "https://evil.example is not one of them" in (await response.json())["errorDetails"]
        page = {"context": {"targetingKey": "User:1"}}
        status, body, headers = await post(session, server.url + ALL, page, WEB, Origin=ORIGIN)
        assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
        assert headers["Access-Control-Expose-Headers"] == "ETag"
        assert body["flags"] == [{"key": FRONTEND, "value": True, "reason": "TARGETING_MATCH", "variant": "on"}]
        status, body, headers = await post(session, server.url + ALL, page, WEB, Origin="https://evil.example")
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        status, body, _ = await post(session, server.url + ALL, page, GPRD, Origin=ORIGIN)
        assert status == 403 and "a page needs a front-end key" in body["errorDetails"]
        status, body, _ = await post(session, server.url + ONE + FRONTEND, page, WEB)  # a front end's server side
        assert (status, body["value"]) == (200, True)
    reasons = [json.loads(line)["reason"] for line in server.stderr[-1].splitlines() if "flags_api.refused" in line]
    assert reasons == ["origin not allowed", "origin not allowed", "back-end key from a browser"]


async def test_a_front_end_keys_etag_changes_only_when_a_front_end_flag_does(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = flags_api_config(tmp_path, redis_url, prefix)
    async with (
        aiohttp.ClientSession() as session,
        gprd_store(redis_url, prefix) as set_flag,
        flags_api_server(config, session) as server,
    ):
        page = {"context": {"targetingKey": "User:1"}}
        _, _, headers = await post(session, server.url + ALL, page, WEB)
        _, _, backend = await post(session, server.url + ALL, page, GPRD)
        await set_flag(BACKEND, "false")
        await until(lambda: _is(session, server.url, BACKEND, value=False), 2, "the back-end change pushed")
        status, _, again = await post(session, server.url + ALL, page, WEB, **{"If-None-Match": headers["ETag"]})
        assert (status, again["ETag"]) == (304, headers["ETag"])  # nothing a page reads changed
        status, _, _ = await post(session, server.url + ALL, page, GPRD, **{"If-None-Match": backend["ETag"]})
        assert status == 200  # a back-end key reads it
        await set_flag(FRONTEND, "true", actors=[ActorId("User:1")])
        await until(lambda: _is(session, server.url, FRONTEND, value=True), 2, "the front-end change pushed")
        status, body, again = await post(session, server.url + ALL, page, WEB, **{"If-None-Match": headers["ETag"]})
        assert status == 200 and again["ETag"] != headers["ETag"]
        assert [(item["key"], item["value"]) for item in body["flags"]] == [(FRONTEND, True)]


async def test_a_redis_outage_serves_the_last_good_snapshot_marked_stale(tmp_path: Path, prefix: str) -> None:
    redis = RedisProcess(tmp_path).start()
    config = flags_api_config(tmp_path, redis.url, prefix)
    try:
        async with (
            aiohttp.ClientSession() as session,
            gprd_store(redis.url, prefix) as set_flag,
            flags_api_server(config, session) as server,
        ):
            await set_flag("everyone", "true")
            await until(lambda: _is(session, server.url, "everyone", value=True), 2, "the flag pushed")
            redis.stop()

            async def stale() -> bool:
                status, body, _ = await post(
                    session, server.url + ONE + "everyone", {"context": {"targetingKey": "User:1"}}
                )
                assert status == 200 and body["value"] is True, body  # never an error while it goes stale
                return body.get("metadata") == {"stale": True}

            await until(stale, 15, "the answer marked stale")
            status, body, _ = await post(session, server.url + ALL, {"context": {"targetingKey": "User:1"}})
            assert status == 200 and body["metadata"]["stale"] is True
            assert {i["key"]: i["value"] for i in body["flags"]}["everyone"] is True
            async with session.get(f"{server.url}/readyz") as response:
                assert response.status == 200  # still serving: the last good flags
            redis.start()

            async def fresh() -> bool:
                _, body, _ = await post(session, server.url + ALL, {"context": {"targetingKey": "User:1"}})
                return body["metadata"]["stale"] is False

            await until(fresh, 15, "fresh again once Redis is back")
    finally:
        redis.stop()
    assert "flags.redis_unavailable" in server.stderr[-1] and "flags.redis_recovered" in server.stderr[-1]


async def test_started_while_redis_is_away_it_is_not_ready_and_says_so_until_redis_answers(
    tmp_path: Path, prefix: str
) -> None:
    redis = RedisProcess(tmp_path)  # not started yet
    config = flags_api_config(tmp_path, redis.url, prefix)
    port = free_port()
    process = start_process(config, port)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def healthy() -> bool:
                try:
                    async with session.get(f"{url}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await until(healthy, 20, "alive")
            async with session.get(f"{url}/readyz") as response:
                assert response.status == 503 and "the flags of gprd have not been read yet" in await response.text()
            status, body, headers = await post(session, url + ONE + "everyone", {"context": {}})
            assert (status, headers["Retry-After"]) == (503, "1")
            assert body == {
                "errorDetails": "The flags of gprd have not been read from Redis yet; try again in a second"
            }
            redis.start()

            async def ready() -> bool:
                async with session.get(f"{url}/readyz") as response:
                    return response.status == 200

            await until(ready, 20, "ready once Redis answers")
            status, body, _ = await post(session, url + ONE + BACKEND, {"context": {}})
            assert (status, body["value"]) == (200, True)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
        redis.stop()
    assert "Traceback" not in stderr


async def test_a_flags_api_that_cannot_read_its_keys_says_which_and_does_not_start(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = flags_api_config(tmp_path, redis_url, prefix)
    command = [sys.executable, "-m", "bot.cli", "flags-api", "--config", str(config)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **KEYS, "FLAGS_API_KEY_WEB": ""}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "flags_api key web-gprd: the environment variable FLAGS_API_KEY_WEB is not set" in done.stderr


async def test_mounted_in_serve_a_change_typed_in_slack_is_served(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in KEYS.items():
        monkeypatch.setenv(variable, value)
    config = flags_api_config(tmp_path, redis_url, prefix, mount_in_serve=True)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    try:
        async with aiohttp.ClientSession() as session:
            gstg = "/gstg/ofrep/v1/evaluate/flags/" + BACKEND
            status, body, _ = await post(session, url + gstg, {"context": {"targetingKey": "User:1"}}, GSTG)
            assert (status, body["value"], body["reason"]) == (200, True, "DEFAULT")  # its definition's default
            async with session.get(f"{url}/readyz") as response:
                assert response.status == 200, await response.text()
            bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
            await bot.command(f"run feature set {BACKEND} false --staging", channel="#development")

            async def off() -> bool:
                _, body, _ = await post(session, url + gstg, {"context": {"targetingKey": "User:1"}}, GSTG)
                return body["value"] is False and body["reason"] == "DISABLED"

            await until(off, 1, "the change typed in Slack served")
            async with session.get(f"{url}/slack/events") as response:  # the bot's own routes are still there
                assert response.status == 405
    finally:
        await runner.cleanup()


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Any language: the flags API (OFREP)\n")
    return readme[start : readme.index("\n## ", start + 1)]


@pytest.mark.slow
async def test_the_readme_commands_and_python_example_run(tmp_path: Path, redis_url: str, prefix: str) -> None:
    section = _readme_section()
    [shell] = re.findall(r"```sh\n(.*?)```", section, re.S)
    [configuration] = re.findall(r"```yaml\n(.*?)```", section, re.S)
    [example] = re.findall(r"```python\n(.*?)```", section, re.S)
    config = write_config(tmp_path, redis_url, prefix, **yaml.safe_load(configuration))
    assert config.name == "chatops.yml"
    port = str(free_port())
    (tmp_path / "example.py").write_text(example.replace("8080", port))
    shim = tmp_path / "bin" / "chatops"  # `chatops` as installed: this checkout's command line
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m bot.cli "$@"\n')
    shim.chmod(0o755)
    script = shell.replace("8080", port) + f"{sys.executable} example.py\nkill $!\nwait\n"
    environment = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "ready"
    assert json.loads(lines[1]) == {"key": FLAG, "value": False, "reason": "DEFAULT", "variant": "off"}
    assert lines[2] == "False DEFAULT off"
