"""Configuration: the example loads; mistakes are named by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.config import ConfigError, Secrets, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_configuration() -> None:
    config = load_config(ROOT / "deploy" / "chatops.example.yml")
    assert [e.option for e in config.environments] == [
        "dev",
        "pre",
        "staging",
        "staging-ref",
        "ops",
        "production",
    ]
    assert [e.name for e in config.environments] == ["dev", "pre", "gstg", "gstg-ref", "ops", "gprd"]
    assert config.default_environment.name == "gprd" and config.default_environment.production
    assert config.slack.production_channel == "#production"
    assert config.slack.log_channel == "#feature-flag-log"
    assert config.slack.security_channel == "#chatops-security"
    assert config.teams == {"group::database frameworks": "#g_database_frameworks"}
    assert config.channels_for(config.default_environment) == ("#production",)
    assert config.channels_for(config.environments[0]) == ()
    assert config.definitions == ((ROOT / "deploy" / "feature_flags").resolve(),)
    assert config.deployments is not None
    assert config.deployments.environments == ("gprd", "gprd-cny", "gstg", "gstg-cny", "gstg-ref")
    assert config.deployments.repository == str(ROOT) and not config.deployments.is_url


def base(**extra: Any) -> dict[str, Any]:
    return {"environments": [{"option": "production", "name": "gprd", "default": True}], **extra}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"environment": []}, "configuration: unknown key 'environment' (did you mean 'environments'?)"),
        ({}, "environments: declare at least one environment"),
        ({"environments": [{"option": "production"}]}, "exactly one environment must have default: true"),
        ({"environments": [{"option": "Prod", "default": True}]}, "environments[0].option: 'Prod' must be"),
        ({"environments": [{"option": "actors", "default": True}]}, "--actors is already a command option"),
        (
            base(slack={"production_channel": "production"}),
            "slack.production_channel: 'production' is not a channel",
        ),
        (base(slack={"log_chanel": "#x"}), "slack: unknown key 'log_chanel' (did you mean 'log_channel'?)"),
        (
            base(slack={"oncall_usergroup": "@sre"}),
            "slack.oncall_usergroup: '@sre' is not a user group ID like S0123ABCD",
        ),
        (base(redis_url="localhost:6379"), "redis_url: 'localhost:6379' is not a Redis URL"),
        (
            base(access=[{"environments": ["staging"], "anyone": True}]),
            "access[0].environments: unknown environment 'staging'",
        ),
        (base(access=[{"environments": ["*"]}]), "access[0]: name users, usergroups, or set anyone: true"),
        (base(teams={"g": "team"}), "teams['g']: 'team' is not a channel"),
        (base(definitions=["/no/such/folder"]), "definitions[0]: folder /no/such/folder does not exist"),
        ({"environments": [{"option": "a", "default": True}, {"option": "a"}]}, "option 'a' is used twice"),
        (
            {"environments": [{"option": "a", "default": True, "prefix": "x:"}, {"option": "b", "prefix": "x:"}]},
            "environments[1].prefix: 'a' and 'b' would be the same flags: they use the same Redis and the same "
            "prefix 'x:'; give each environment its own prefix",
        ),
        (
            {"environments": [{"option": "a", "default": "yes"}]},
            "environments[0].default: must be true or false, not 'yes'",
        ),
        (
            {"environments": [{"option": "a", "default": True}, {"option": "b"}, {"option": "c", "prefix": 5}]},
            "environments[2].prefix: must be text, not 5",
        ),
        (
            base(safety={"production_check": {"alertmanager": {"url": "alertmanager:9093"}}}),
            "safety.production_check.alertmanager.url: 'alertmanager:9093' is not an http(s) URL",
        ),
        (
            base(safety={"production_check": {"htp": ["https://x"]}}),
            "safety.production_check: unknown key 'htp' (did you mean 'http'?)",
        ),
        (
            base(safety={"production_check": {"timeout": 0}}),
            "safety.production_check.timeout: seconds for all checks together, 0.1-60",
        ),
        (
            base(deployments={"environments": ["gprd"], "repository": ".", "fetch_interval": "1m"}),
            "deployments.fetch_interval: seconds between fetches, at least 1",
        ),
        (base(safety={"percentage_step": 0}), "safety.percentage_step: percentage points, more than 0"),
        (
            base(safety={"lookalike_actors": "block"}),
            "safety.lookalike_actors: must be 'warn' or 'refuse', not 'block'",
        ),
        (
            base(ui={"base_url": "https://x.example.com", "trusted_header": "X-Forwarded-Email"}),
            "ui.trusted_proxies: trusted_header needs trusted_proxies: the addresses of the proxy that sets it",
        ),
        (base(ui={"base_url": "chatops.example.com"}), "ui.base_url: 'chatops.example.com' is not an http(s) URL"),
        (base(cleanup={"days": 0}), "cleanup.days: days, 1-3650"),
    ],
)
def test_mistakes_are_named_by_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    assert message in str(raised.value)


def test_null_means_none_where_a_key_may_be_none_and_its_default_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        yaml.safe_dump(base())
        + "safety:\n  consistency_environment: null\n  percentage_step: null\n  approval_expiry_seconds: null\n"
        + "slack:\n  production_channel: null\n  log_channel: null\n"
    )
    config = load_config(tmp_path / "c.yml")
    assert config.safety.consistency_environment is None  # no consistency check
    assert config.safety.percentage_step is None and config.slack.log_channel is None
    assert config.safety.approval_expiry_seconds == 1800.0  # cannot be none: the default
    assert config.slack.production_channel == "#production"
    staging = {"environments": [{"option": "staging", "prefix": "s:"}, {"option": "production", "default": True}]}
    assert parse_config(staging).safety.consistency_environment == "staging"  # absent: the default
    assert parse_config({**staging, "safety": {"consistency_environment": None}}).safety.consistency_environment is None


def test_file_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATOPS_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="pass --config FILE or set CHATOPS_CONFIG"):
        load_config(None)
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "missing.yml")
    (tmp_path / "bad.yml").write_text("environments: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yml")
    (tmp_path / "ok.yml").write_text(yaml.safe_dump(base()))
    monkeypatch.setenv("CHATOPS_CONFIG", str(tmp_path / "ok.yml"))
    assert load_config(None).default_environment.name == "gprd"


def test_secrets_come_from_the_environment_only() -> None:
    secrets = Secrets.from_environment(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://x/api/"}
    )
    assert (secrets.bot_token, secrets.signing_secret, secrets.app_token, secrets.api_url) == (
        "xoxb-1",
        "s",
        None,
        "http://x/api/",
    )
    with pytest.raises(ConfigError, match="unknown key 'slack_bot_token'"):
        parse_config(base(slack_bot_token="xoxb-in-the-file"))
