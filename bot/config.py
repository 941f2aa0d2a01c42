"""The bot's configuration: YAML (SPEC §5), validated at start, secrets only from the environment."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flags.redis_url import parse_sentinel_url

__all__ = [
    "AccessRule",
    "Config",
    "ConfigError",
    "Deployments",
    "E2ETrigger",
    "Environment",
    "ProductionCheck",
    "Safety",
    "Secrets",
    "SlackChannels",
    "load_config",
]

_OPTION = re.compile(r"[a-z][a-z0-9-]{0,39}")
_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{2,}")
RESERVED_OPTIONS = frozenset(
    {
        "actors", "random", "user", "project", "group", "namespace", "repository", "feature-group",
        "match", "limit", "help", "ignore-production-check", "ignore-feature-flag-consistency-check",
        "ignore-random-deprecation-check",
    }
)  # fmt: skip


class ConfigError(ValueError):
    """A configuration problem, naming the key where it is."""


@dataclass(frozen=True, slots=True)
class E2ETrigger:
    """A GitLab pipeline trigger that runs the end-to-end tests of an environment."""

    project: str  # GitLab project ID or full path
    ref: str = "master"
    token_env: str = "E2E_TRIGGER_TOKEN"  # the environment variable holding the trigger token
    qa_actors: tuple[str, ...] = ()  # a change scoped to these actors only still triggers


@dataclass(frozen=True, slots=True)
class Environment:
    option: str
    name: str
    host: str = ""
    redis_url: str | None = None
    prefix: str = ""
    production: bool = False
    default: bool = False
    channels: tuple[str, ...] = ()
    qa_channel: str | None = None
    e2e_trigger: E2ETrigger | None = None


@dataclass(frozen=True, slots=True)
class SlackChannels:
    production_channel: str = "#production"
    log_channel: str | None = None
    security_channel: str | None = None


@dataclass(frozen=True, slots=True)
class AccessRule:
    environments: tuple[str, ...]
    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
    anyone: bool = False

    def matches(self, environment: Environment) -> bool:
        return (
            "*" in self.environments
            or environment.option in self.environments
            or (environment.name in self.environments)
        )


@dataclass(frozen=True, slots=True)
class Secrets:
    """Secrets come only from environment variables, never from the YAML file."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str | None = None
    gitlab_webhook_token: str | None = None
    gitlab_api_token: str | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Secrets:
        values = os.environ if env is None else env
        return cls(
            bot_token=values.get("SLACK_BOT_TOKEN") or None,
            signing_secret=values.get("SLACK_SIGNING_SECRET") or None,
            app_token=values.get("SLACK_APP_TOKEN") or None,
            api_url=values.get("SLACK_API_URL") or None,
            gitlab_webhook_token=values.get("GITLAB_WEBHOOK_TOKEN") or None,
            gitlab_api_token=values.get("GITLAB_API_TOKEN") or None,
        )


@dataclass(frozen=True, slots=True)
class Deployments:
    """Deployment tracking (``auto_deploy status``) and releases (``release check``)."""

    environments: tuple[str, ...]  # deployment environment names, in display order
    repository: str  # a local path, or a URL the bot clones (a bare mirror) and fetches
    web_url: str = ""  # the repository's web page, for compare links
    default_branch: str = "master"
    fetch_interval: float = 60.0
    mirror_path: Path | None = None  # where a URL is cloned; default .chatops/mirror
    history: int = 50
    tag_pattern: str = "v{major}.{minor}.0"
    stable_branch_pattern: str = "{major}-{minor}-stable"

    @property
    def is_url(self) -> bool:
        return "://" in self.repository or self.repository.startswith("git@")


@dataclass(frozen=True, slots=True)
class ProductionCheck:
    timeout: float = 5.0  # for all checks together
    alertmanager_url: str | None = None
    alertmanager_matchers: tuple[str, ...] = ()
    http_urls: tuple[str, ...] = ()
    deployments: tuple[str, ...] = ()  # a deployment running in these blocks

    @property
    def configured(self) -> bool:
        return bool(self.alertmanager_url or self.http_urls or self.deployments)


@dataclass(frozen=True, slots=True)
class Safety:
    production_check: ProductionCheck = field(default_factory=ProductionCheck)
    consistency_environment: str | None = "staging"  # paired with production; None: no consistency check
    percentage_step: float | None = None  # warn when production rises more than this many points
    require_rollout_issue: bool = False
    gitlab_url: str = "https://gitlab.com"
    log_project: str | None = None  # GitLab project for change-log issues; token: GITLAB_API_TOKEN


@dataclass(frozen=True, slots=True)
class Config:
    environments: tuple[Environment, ...]
    slack: SlackChannels = field(default_factory=SlackChannels)
    redis_url: str | None = None
    redis_prefix: str = ""  # prefix of the bot's own keys (deployments) in redis_url
    teams: Mapping[str, str] = field(default_factory=dict)
    access: tuple[AccessRule, ...] | None = None
    definitions: tuple[Path, ...] = ()
    deployments: Deployments | None = None
    safety: Safety = field(default_factory=Safety)
    path: Path | None = None

    @property
    def default_environment(self) -> Environment:
        return next(e for e in self.environments if e.default)

    def environment(self, option: str) -> Environment | None:
        return next((e for e in self.environments if e.option == option), None)

    def channels_for(self, environment: Environment) -> tuple[str, ...]:
        """Where commands changing this environment may run; empty means anywhere."""
        if environment.channels:
            return environment.channels
        if environment.production:
            return (self.slack.production_channel,)
        return ()


_TOP = (
    "redis_url",
    "redis_prefix",
    "safety",
    "slack",
    "environments",
    "teams",
    "access",
    "definitions",
    "deployments",
)
_DEPLOYMENTS = (
    "environments", "repository", "web_url", "default_branch", "fetch_interval", "mirror_path", "history",
    "tag_pattern", "stable_branch_pattern",
)  # fmt: skip
_SLACK = ("production_channel", "log_channel", "security_channel")
_ENV = (
    "option", "name", "host", "redis_url", "prefix", "production", "default", "channels", "qa_channel",
    "e2e_trigger",
)  # fmt: skip
_TRIGGER = ("project", "ref", "token_env", "qa_actors")
_SAFETY = (
    "production_check", "consistency_environment", "percentage_step", "require_rollout_issue", "gitlab_url",
    "log_project",
)  # fmt: skip
_CHECK = ("timeout", "alertmanager", "http", "deployments")
_ALERTMANAGER = ("url", "matchers")
_ACCESS = ("environments", "users", "usergroups", "anyone")


def _unknown_keys(where: str, found: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in found:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key '{key}'{hint}")


def _mapping(where: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping of key: value, not {type(value).__name__}")
    return value


def _text(where: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be text, not {value!r}")
    return value


def _bool(where: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false, not {value!r}")
    return value


def _channel(where: str, value: Any, *, optional: bool = False) -> str | None:
    text = _text(where, value, optional=optional)
    if text is not None and not _CHANNEL.fullmatch(text):
        raise ConfigError(f"{where}: {text!r} is not a channel; write '#name' or a channel ID like C012AB3CD")
    return text


def _list(where: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f'{where}: must be a list, e.g. ["a", "b"]')
    return value


def _redis_url(where: str, value: Any) -> str | None:
    text = _text(where, value, optional=True)
    if text is not None and not text.startswith(
        ("redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://")
    ):
        raise ConfigError(
            f"{where}: {text!r} is not a Redis URL (redis://, rediss://, unix:// or "
            "redis+sentinel://host:port,host:port/MASTER)"
        )
    if text is not None:
        try:
            parse_sentinel_url(text)
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from error
    return text


def _environment(i: int, raw: Any) -> Environment:
    where = f"environments[{i}]"
    data = _mapping(where, raw)
    _unknown_keys(where, data, _ENV)
    option = _text(f"{where}.option", data.get("option"))
    assert option is not None
    if not _OPTION.fullmatch(option):
        raise ConfigError(f"{where}.option: {option!r} must be lower-case letters, digits and dashes")
    if option in RESERVED_OPTIONS:
        raise ConfigError(f"{where}.option: --{option} is already a command option; choose another")
    name = _text(f"{where}.name", data.get("name", option))
    assert name is not None
    prefix = data.get("prefix", "")
    if not isinstance(prefix, str):
        raise ConfigError(f"{where}.prefix: must be text")
    return Environment(
        option=option,
        name=name,
        host=str(data.get("host") or ""),
        redis_url=_redis_url(f"{where}.redis_url", data.get("redis_url")),
        prefix=prefix,
        production=_bool(f"{where}.production", data.get("production")),
        default=_bool(f"{where}.default", data.get("default")),
        channels=tuple(
            str(_channel(f"{where}.channels[{j}]", c))
            for j, c in enumerate(_list(f"{where}.channels", data.get("channels")))
        ),
        qa_channel=_channel(f"{where}.qa_channel", data.get("qa_channel"), optional=True),
        e2e_trigger=_trigger(f"{where}.e2e_trigger", data.get("e2e_trigger")),
    )


def _trigger(where: str, raw: Any) -> E2ETrigger | None:
    if raw is None:
        return None
    data = _mapping(where, raw)
    _unknown_keys(where, data, _TRIGGER)
    return E2ETrigger(
        project=str(_text(f"{where}.project", str(data.get("project") or ""))),
        ref=str(data.get("ref") or "master"),
        token_env=str(data.get("token_env") or "E2E_TRIGGER_TOKEN"),
        qa_actors=tuple(str(a) for a in _list(f"{where}.qa_actors", data.get("qa_actors"))),
    )


def _http_url(where: str, value: Any) -> str:
    text = str(_text(where, value))
    if not text.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: {text!r} is not an http(s) URL")
    return text.rstrip("/")


def _safety(raw: Any, environments: tuple[Environment, ...]) -> Safety:
    data = _mapping("safety", raw)
    _unknown_keys("safety", data, _SAFETY)
    check_raw = _mapping("safety.production_check", data.get("production_check"))
    _unknown_keys("safety.production_check", check_raw, _CHECK)
    alert_raw = _mapping("safety.production_check.alertmanager", check_raw.get("alertmanager"))
    _unknown_keys("safety.production_check.alertmanager", alert_raw, _ALERTMANAGER)
    timeout = check_raw.get("timeout", 5)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0.1 <= timeout <= 60:
        raise ConfigError("safety.production_check.timeout: seconds for all checks together, 0.1-60")
    check = ProductionCheck(
        timeout=float(timeout),
        alertmanager_url=_http_url("safety.production_check.alertmanager.url", alert_raw["url"])
        if alert_raw.get("url") else None,
        alertmanager_matchers=tuple(str(m) for m in _list("safety.production_check.alertmanager.matchers",
                                                            alert_raw.get("matchers"))),
        http_urls=tuple(_http_url(f"safety.production_check.http[{i}]", u)
                        for i, u in enumerate(_list("safety.production_check.http", check_raw.get("http")))),
        deployments=tuple(str(d) for d in _list("safety.production_check.deployments", check_raw.get("deployments"))),
    )  # fmt: skip
    pair: str | None = str(data.get("consistency_environment") or "staging")
    if not any(e.option == pair for e in environments):
        if "consistency_environment" in data:
            raise ConfigError(f"safety.consistency_environment: no environment has option {pair!r}")
        pair = None  # the default, staging, is not configured: no consistency check
    step = data.get("percentage_step")
    if step is not None and (not isinstance(step, int | float) or isinstance(step, bool) or not 0 < step <= 100):
        raise ConfigError("safety.percentage_step: percentage points, more than 0 and at most 100")
    return Safety(
        production_check=check,
        consistency_environment=pair,
        percentage_step=float(step) if step is not None else None,
        require_rollout_issue=_bool("safety.require_rollout_issue", data.get("require_rollout_issue")),
        gitlab_url=_http_url("safety.gitlab_url", data.get("gitlab_url") or "https://gitlab.com"),
        log_project=str(data["log_project"]) if data.get("log_project") else None,
    )


def _access_rule(i: int, raw: Any, environments: tuple[Environment, ...]) -> AccessRule:
    where = f"access[{i}]"
    data = _mapping(where, raw)
    _unknown_keys(where, data, _ACCESS)
    targets = tuple(str(t) for t in _list(f"{where}.environments", data.get("environments")))
    if not targets:
        raise ConfigError(f'{where}.environments: list the environments it covers, or ["*"] for all')
    known = {e.option for e in environments} | {e.name for e in environments} | {"*"}
    for target in targets:
        if target not in known:
            raise ConfigError(
                f"{where}.environments: unknown environment {target!r}; known: {', '.join(sorted(known))}"
            )
    rule = AccessRule(
        environments=targets,
        users=tuple(str(u) for u in _list(f"{where}.users", data.get("users"))),
        usergroups=tuple(str(g).lstrip("@") for g in _list(f"{where}.usergroups", data.get("usergroups"))),
        anyone=_bool(f"{where}.anyone", data.get("anyone")),
    )
    if not (rule.anyone or rule.users or rule.usergroups):
        raise ConfigError(f"{where}: name users, usergroups, or set anyone: true")
    return rule


def _deployments(raw: Any, base: Path) -> Deployments | None:
    if raw is None:
        return None
    data = _mapping("deployments", raw)
    _unknown_keys("deployments", data, _DEPLOYMENTS)
    names = tuple(str(_text(f"deployments.environments[{i}]", e)) for i, e in enumerate(
        _list("deployments.environments", data.get("environments"))
    ))  # fmt: skip
    if not names:
        raise ConfigError("deployments.environments: list the deployment environments, e.g. [gprd, gstg]")
    repository = str(_text("deployments.repository", data.get("repository")))
    is_url = "://" in repository or repository.startswith("git@")
    if not is_url:
        repository = str((base / repository).resolve())
    interval = data.get("fetch_interval", 60)
    if not isinstance(interval, int | float) or isinstance(interval, bool) or interval < 1:
        raise ConfigError("deployments.fetch_interval: seconds between fetches, at least 1")
    history = data.get("history", 50)
    if not isinstance(history, int) or isinstance(history, bool) or not 1 <= history <= 10_000:
        raise ConfigError("deployments.history: how many deployments to keep per environment, 1-10000")
    patterns = {}
    for key, default in (
        ("tag_pattern", "v{major}.{minor}.0"),
        ("stable_branch_pattern", "{major}-{minor}-stable"),
    ):
        pattern = str(data.get(key, default))
        try:
            pattern.format(major=16, minor=5)
        except (KeyError, IndexError, ValueError) as error:
            raise ConfigError(f"deployments.{key}: {pattern!r} may only use {{major}} and {{minor}}") from error
        patterns[key] = pattern
    mirror = data.get("mirror_path")
    return Deployments(
        environments=names,
        repository=repository,
        web_url=str(data.get("web_url") or "").rstrip("/"),
        default_branch=str(data.get("default_branch") or "master"),
        fetch_interval=float(interval),
        mirror_path=(base / str(mirror)).resolve() if mirror else None,
        history=history,
        tag_pattern=patterns["tag_pattern"],
        stable_branch_pattern=patterns["stable_branch_pattern"],
    )


def parse_config(data: Any, path: Path | None = None) -> Config:
    root = _mapping("configuration", data)
    _unknown_keys("configuration", root, _TOP)
    slack_raw = _mapping("slack", root.get("slack"))
    _unknown_keys("slack", slack_raw, _SLACK)
    slack = SlackChannels(
        production_channel=str(
            _channel("slack.production_channel", slack_raw.get("production_channel", "#production"))
        ),
        log_channel=_channel("slack.log_channel", slack_raw.get("log_channel"), optional=True),
        security_channel=_channel("slack.security_channel", slack_raw.get("security_channel"), optional=True),
    )
    env_list = _list("environments", root.get("environments"))
    if not env_list:
        raise ConfigError("environments: declare at least one environment (see deploy/chatops.example.yml)")
    environments = tuple(_environment(i, raw) for i, raw in enumerate(env_list))
    for attribute in ("option", "name"):
        values = [getattr(e, attribute) for e in environments]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ConfigError(f"environments: {attribute} {duplicates[0]!r} is used twice")
    defaults = [e.option for e in environments if e.default]
    if len(defaults) != 1:
        raise ConfigError(
            f"environments: exactly one environment must have default: true (found {len(defaults)}: {defaults})"
        )
    teams_raw = _mapping("teams", root.get("teams"))
    teams = {str(k): str(_channel(f"teams[{k!r}]", v)) for k, v in teams_raw.items()}
    access = None
    if "access" in root and root["access"] is not None:
        access = tuple(_access_rule(i, r, environments) for i, r in enumerate(_list("access", root["access"])))
    base = path.parent if path else Path.cwd()
    definitions = tuple(
        (base / str(_text(f"definitions[{i}]", d))).resolve()
        for i, d in enumerate(_list("definitions", root.get("definitions")))
    )
    for i, folder in enumerate(definitions):
        if not folder.is_dir():
            raise ConfigError(f"definitions[{i}]: folder {folder} does not exist")
    return Config(
        environments=environments,
        slack=slack,
        redis_url=_redis_url("redis_url", root.get("redis_url")),
        redis_prefix=str(root.get("redis_prefix") or ""),
        teams=teams,
        access=access,
        definitions=definitions,
        deployments=_deployments(root.get("deployments"), base),
        safety=_safety(root.get("safety"), environments),
        path=path,
    )


def load_config(path: str | Path | None = None) -> Config:
    """Load from ``path``, else ``$CHATOPS_CONFIG``. Raises ConfigError naming the bad key."""
    chosen = path or os.environ.get("CHATOPS_CONFIG")
    if not chosen:
        raise ConfigError("no configuration: pass --config FILE or set CHATOPS_CONFIG")
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read configuration {file}: {error.strerror or error}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}") from error
    try:
        return parse_config(data, file.resolve())
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from error
