"""The flags API's application side, without HTTP: its configuration section, its keys (read once,
kept as SHA-256 digests), the request bodies it accepts, and each refusal's words."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.config import ConfigError, parse_config
from handlers.flags_api import BadRequest, EvaluationContext, KeyRing, KeysUnavailable, parse_request, presented_key
from tests.configs import ROOT

KEY = "gprd-backend-key-0123456789abcdef"


def config_with(flags_api: dict[str, Any]) -> Any:
    data = yaml.safe_load((ROOT / "deploy" / "chatops.example.yml").read_text())
    data["flags_api"] = flags_api
    return parse_config(data, ROOT / "deploy" / "chatops.example.yml")


def one_key(**key: Any) -> dict[str, Any]:
    return {"keys": [{"name": "rails", "environment": "gprd", **key}]}


def test_a_flags_api_section_loads_with_keys_from_the_environment_a_file_or_a_digest(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"another-key-0123456789abcdef").hexdigest()
    (tmp_path / "key").write_text(" web-key-0123456789abcdef\n")
    config = config_with(
        {
            "keys": [
                {"name": "rails", "environment": "gprd", "env": "FLAGS_API_KEY_GPRD"},
                {"name": "web", "environment": "production", "file": str(tmp_path / "key"), "frontend": True},
                {"name": "ci", "environment": "gstg", "sha256": f"sha256:{digest.upper()}"},
            ],
            "cors_origins": ["https://gitlab.example.com/"],
        }
    )
    assert config.flags_api is not None and config.flags_api.cors_origins == ("https://gitlab.example.com",)
    ring = KeyRing.from_config(config, {"FLAGS_API_KEY_GPRD": KEY})
    assert [(k.name, k.environment, k.option, k.frontend) for k in ring.keys] == [
        ("rails", "gprd", "production", False),
        ("web", "gprd", "production", True),
        ("ci", "gstg", "staging", False),
    ]
    assert ring.identify(KEY) is ring.keys[0]
    assert ring.identify("web-key-0123456789abcdef") is ring.keys[1]  # the file's key, spaces trimmed
    assert ring.identify("another-key-0123456789abcdef") is ring.keys[2]
    assert ring.identify("gprd-backend-key-0123456789abcdeF") is None
    assert ring.identify("x" * 10_000) is None
    assert all(KEY.encode() not in repr(k).encode() for k in ring.keys)  # only digests are kept


@pytest.mark.parametrize(
    ("flags_api", "message"),
    [
        (one_key(), "flags_api.keys[0]: say where the key is: exactly one of env, file or sha256"),
        (one_key(env="A", sha256="0" * 64), "exactly one of env, file or sha256 (found env, sha256)"),
        (one_key(env="A", environment="gprod"), "flags_api.keys[0].environment: unknown environment 'gprod'; known:"),
        (one_key(env="not a name"), "flags_api.keys[0].env: 'not a name' is not an environment variable's name"),
        (one_key(sha256="abc"), "flags_api.keys[0].sha256: must be the key's SHA-256 in hex"),
        (one_key(env="A", name="has space"), "flags_api.keys[0].name: 'has space' must be letters, digits"),
        (one_key(env="A", secret="x"), "flags_api.keys[0]: unknown key 'secret'"),
        ({"keys": []}, "flags_api.keys: list at least one key"),
        ({**one_key(env="A"), "cors_origins": ["gitlab.example.com"]}, "is not an origin like https://"),
        ({**one_key(env="A"), "cors_origins": ["https://a.example/path"]}, "is not an origin like https://"),
        ({**one_key(env="A"), "max_body_bytes": 10}, "flags_api.max_body_bytes: bytes, 1024-1048576"),
        ({**one_key(env="A"), "poll_seconds": 0}, "flags_api.poll_seconds: seconds, 1-3600"),
        ({**one_key(env="A"), "mount": True}, "flags_api: unknown key 'mount'; known keys: keys, cors_origins"),
        ({"keys": [*one_key(env="A")["keys"], *one_key(env="B")["keys"]]}, "key name 'rails' is used twice"),
    ],
)
def test_each_mistake_in_the_section_is_named(flags_api: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_with(flags_api)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("key", "environ", "message"),
    [
        (
            {"env": "FLAGS_API_KEY_GPRD"},
            {},
            "flags_api key rails: the environment variable FLAGS_API_KEY_GPRD is not set",
        ),
        ({"env": "FLAGS_API_KEY_GPRD"}, {"FLAGS_API_KEY_GPRD": "short"}, "a key must be 16-512 characters, not 5"),
        ({"file": "/nonexistent/key"}, {}, "flags_api key rails: cannot read /nonexistent/key"),
    ],
)
def test_a_key_that_cannot_be_read_is_named(key: dict[str, Any], environ: dict[str, str], message: str) -> None:
    config = config_with(one_key(**key))
    with pytest.raises(KeysUnavailable, match=message):
        KeyRing.from_config(config, environ)


def test_two_entries_with_the_same_key_are_refused() -> None:
    config = config_with(
        {
            "keys": [
                {"name": "one", "environment": "gprd", "env": "A"},
                {"name": "two", "environment": "gstg", "env": "B"},
            ]
        }
    )
    with pytest.raises(KeysUnavailable, match="flags_api keys one and two are the same key"):
        KeyRing.from_config(config, {"A": KEY, "B": KEY})


def test_a_request_carries_its_key_as_a_bearer_token_or_in_x_api_key() -> None:
    assert presented_key(f"Bearer {KEY}", None) == KEY
    assert presented_key(f"bearer   {KEY} ", None) == KEY
    assert presented_key(None, f" {KEY}") == KEY
    assert presented_key(f"Basic {KEY}", None) is None
    assert presented_key("Bearer ", "") is None
    assert presented_key(None, None) is None


def test_the_evaluation_context_is_read_as_ofrep_defines_it() -> None:
    assert parse_request(b'{"context": {"targetingKey": "User:42", "groups": ["b", "a", "a"], "plan": "x"}}') == (
        EvaluationContext("User:42", ("a", "b"))
    )
    assert parse_request(b"{}") == EvaluationContext()  # OpenFeature's providers send {} for no context
    assert parse_request(b'{"context": {"targetingKey": ""}}') == EvaluationContext()
    assert EvaluationContext("User:1", ("a",)).canonical != EvaluationContext("User:1", ()).canonical


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"", "PARSE_ERROR", "The request body is not JSON"),
        (b"\xff\xfe", "PARSE_ERROR", "The request body is not JSON"),
        (b'"context"', "PARSE_ERROR", "must be a JSON object, not str"),
        (b'{"context": []}', "INVALID_CONTEXT", "context must be an object, not list"),
        (b'{"context": {"targetingKey": ["User:1"]}}', "INVALID_CONTEXT", "targetingKey must be text"),
        (b'{"context": {"targetingKey": "User:1", "groups": [1]}}', "INVALID_CONTEXT", "groups must be a list"),
    ],
)
def test_a_body_that_cannot_be_evaluated_says_why(body: bytes, code: str, words: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_request(body)
    assert raised.value.code == code and words in raised.value.details
