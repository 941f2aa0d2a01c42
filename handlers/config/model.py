"""The configuration's shape: frozen pydantic models, checked key by key and then across keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    RootModel,
    StrictBool,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from handlers.config.base import ConfigModel as _Model
from handlers.config.base import known_keys
from handlers.config.checks import AlertmanagerSettings, DeploymentsSettings, HttpSettings
from handlers.config.flags_api import FlagsApi, FlagsApiKey
from handlers.config.metrics import Metrics
from handlers.config.types import (
    RESERVED_OPTIONS,
    Channel,
    Folder,
    HttpUrl,
    LocalPath,
    Option,
    Pattern,
    Project,
    RedisUrl,
    Text,
    base_folder,
    fail,
    in_range,
    nonempty,
)
from handlers.config.webhooks import SubscriptionAccess, Webhook

__all__ = ["RESERVED_OPTIONS", "AccessRule", "Config", "Deployments", "E2ETrigger", "Environment"]
__all__ += ["FlagsApi", "FlagsApiKey", "ProductionCheckSettings", "Safety", "SlackChannels", "known_keys"]


class E2ETrigger(_Model):
    """A GitLab pipeline trigger that runs the end-to-end tests of an environment."""

    project: Project  # GitLab project ID or full path
    ref: Text = "master"
    token_env: Text = "E2E_TRIGGER_TOKEN"  # the environment variable holding the trigger token
    qa_actors: tuple[str, ...] = ()  # a change scoped to these actors only still triggers


class Environment(_Model):
    option: Option
    name: Text = Field(default_factory=lambda data: data.get("option", ""))
    host: str = ""
    redis_url: RedisUrl | None = None  # None: the bot's own Redis
    prefix: StrictStr = ""
    production: StrictBool = False
    default: StrictBool = False
    channels: tuple[Channel, ...] = ()
    qa_channel: Channel | None = None
    e2e_trigger: E2ETrigger | None = None
    deployment: StrictStr | None = None  # its deployment environment (deploy-aware gating); default: its name


def _group_id(value: str) -> str:
    if not re.fullmatch(r"S[A-Z0-9]{2,20}", value):
        raise fail(f"{value!r} is not a user group ID like S0123ABCD (Slack shows it in the group's profile)")
    return value


class SlackChannels(_Model):
    production_channel: Channel = "#production"
    log_channel: Channel | None = None
    security_channel: Channel | None = None
    # The on-call user group's ID (S…), mentioned when an alert aborts a rollout.
    oncall_usergroup: Annotated[str, AfterValidator(_group_id)] | None = None
    # Members of user groups that production access rules name are re-read from Slack after this
    # (other groups: 60 s); Slack's subteam events drop the cache at once.
    production_group_cache_seconds: Annotated[float, in_range("seconds, 1-3600", lambda s: 1 <= s <= 3600)] = 15.0


class Approval(_Model):
    """A second person's approval, from these user groups, for changes under an access rule."""

    usergroups: Annotated[
        tuple[Annotated[str, AfterValidator(lambda group: group.lstrip("@"))], ...],
        nonempty("name the user groups whose members may approve"),
    ] = ()
    applies_to: Literal["raising", "all"] = "raising"  # changes that only reduce exposure never need it


class AccessRule(_Model):
    environments: Annotated[tuple[str, ...], nonempty('list the environments it covers, or ["*"] for all')] = ()
    users: tuple[str, ...] = ()
    usergroups: tuple[Annotated[str, AfterValidator(lambda group: group.lstrip("@"))], ...] = ()
    anyone: StrictBool = False
    approval: Approval | None = None  # changes here need a second person's approval

    @model_validator(mode="after")
    def _names_someone(self) -> AccessRule:
        if not (self.anyone or self.users or self.usergroups):
            raise fail("name users, usergroups, or set anyone: true")
        return self

    def matches(self, environment: Environment) -> bool:
        return bool({"*", environment.option, environment.name} & set(self.environments))


def _is_url(repository: str) -> bool:
    return "://" in repository or repository.startswith("git@")


def _repository(repository: str, info: ValidationInfo) -> str:
    return repository if _is_url(repository) else str((base_folder(info) / repository).resolve())


class Deployments(_Model):
    """Deployment tracking (``auto_deploy status``) and releases (``release check``)."""

    environments: Annotated[tuple[Text, ...], nonempty("list the deployment environments, e.g. [gprd, gstg]")] = ()
    repository: Annotated[Text, AfterValidator(_repository)]  # a local path, or a URL to clone (a bare mirror)
    web_url: Annotated[str, AfterValidator(lambda url: url.rstrip("/"))] = ""  # for compare links
    default_branch: Text = "master"
    fetch_interval: Annotated[float, in_range("seconds between fetches, at least 1", lambda s: s >= 1)] = 60.0
    mirror_path: LocalPath | None = None  # where a URL is cloned; None: .chatops/mirror
    history: Annotated[int, in_range("deployments kept per environment, 1-10000", lambda n: 0 < n <= 10_000, int)] = 50
    tag_pattern: Pattern = "v{major}.{minor}.0"
    stable_branch_pattern: Pattern = "{major}-{minor}-stable"

    @property
    def is_url(self) -> bool:
        return _is_url(self.repository)


def _keys_of(settings: type[BaseModel]) -> BeforeValidator:
    """A section of ``settings`` refuses unknown keys by name, as every other section does."""
    return BeforeValidator(partial(known_keys, settings))


class ProductionCheckSettings(_Model):
    """``safety.production_check``: a time limit, and one optional section per kind of check, named by
    the kind's key (the composition root registers the kinds; a test holds the two lists equal)."""

    timeout: Annotated[float, in_range("seconds for all checks together, 0.1-60", lambda s: 0.1 <= s <= 60)] = 5.0
    alertmanager: Annotated[AlertmanagerSettings | None, _keys_of(AlertmanagerSettings)] = None
    http: Annotated[HttpSettings | None, _keys_of(HttpSettings)] = None
    deployments: Annotated[DeploymentsSettings | None, _keys_of(DeploymentsSettings)] = None

    @property
    def configured(self) -> bool:
        sections = [getattr(self, key) for key in type(self).model_fields if key != "timeout"]
        return any(s is not None and (bool(s.root) if isinstance(s, RootModel) else True) for s in sections)


class Safety(_Model):
    production_check: ProductionCheckSettings = Field(default_factory=ProductionCheckSettings)
    consistency_environment: str | None = "staging"  # paired with production; None: no consistency check
    percentage_step: (
        Annotated[float, in_range("percentage points, more than 0 and at most 100", lambda p: 0 < p <= 100)] | None
    ) = None
    require_rollout_issue: StrictBool = False
    # How long an approval request may wait for its approver (seconds).
    approval_expiry_seconds: Annotated[float, in_range("seconds, 1-86400", lambda s: 1 <= s <= 86400)] = 1800.0
    # Deploy-aware gating: when whether a flag's code is deployed cannot be known, warn or refuse.
    deployment_check_unknown: Literal["warn", "refuse"] = "warn"
    # The shortest time between rollout steps in production (seconds); other environments: 1 s.
    rollout_min_every_seconds: Annotated[float, in_range("seconds, 1-86400", lambda s: 1 <= s <= 86400)] = 60.0
    # How often the driver asks Alertmanager about running rollouts' guards between steps (seconds).
    rollout_guard_poll_seconds: Annotated[float, in_range("seconds, 1-3600", lambda s: 1 <= s <= 3600)] = 15.0
    # Actor names that look like others (mixed scripts, full-width letters): applied with a warning, or refused.
    lookalike_actors: Literal["warn", "refuse"] = "warn"
    gitlab_url: HttpUrl = "https://gitlab.com"
    log_project: Project | None = None  # GitLab project for change-log issues; token: GITLAB_API_TOKEN


class Incident(_Model):
    """Incident mode: who may kill any flag, from where, and how alerts are handled."""

    responders: tuple[Annotated[str, AfterValidator(lambda group: group.lstrip("@"))], ...] = ()  # user groups
    channels: tuple[StrictStr, ...] = ()  # channel name patterns where responders may kill, e.g. "#incident-*"
    freeze_matchers: tuple[StrictStr, ...] = ('blocks_feature_flags="true"',)  # alerts that freeze while firing
    alert_channel: Channel | None = None  # where alerts' recent changes go; default: the production channel
    lookback_seconds: Annotated[float, in_range("seconds, 60-86400", lambda s: 60 <= s <= 86400)] = 1800.0
    post_without_changes: StrictBool = True  # post an alert that has no recent changes (one line)


class Dashboard(_Model):
    """The read-only dashboard at ``/ui/`` of ``chatops serve``; people sign in through Slack."""

    base_url: HttpUrl  # where people reach the bot, e.g. https://chatops.example.com (sign-in links point here)
    # A header set by an authenticating proxy in front of the bot (e.g. X-Forwarded-Email from
    # oauth2-proxy): a request carrying it is signed in as that person, when it comes from one of
    # trusted_proxies (the proxy's addresses; anyone else could send the header too).
    trusted_header: StrictStr | None = None
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    session_hours: Annotated[float, in_range("hours, 1-168", lambda h: 1 <= h <= 168)] = 12.0
    link_seconds: Annotated[float, in_range("seconds, 30-3600", lambda s: 30 <= s <= 3600)] = 300.0

    @model_validator(mode="after")
    def _proxies_named(self) -> Dashboard:
        if self.trusted_header and not self.trusted_proxies:
            raise fail(
                "trusted_header needs trusted_proxies: the addresses of the proxy that sets it "
                "(e.g. [10.0.0.0/8]); from anywhere else the header is ignored",
                "trusted_proxies",
            )
        return self


class Cleanup(_Model):
    """Which flags `feature list --stale` and the dashboard's cleanup filter show."""

    days: Annotated[int, in_range("days, 1-3650", lambda d: 1 <= d <= 3650)] = 30  # fully on/off this long
    milestones: Annotated[int, in_range("milestones, 1-100", lambda m: 1 <= m <= 100)] = 3  # definition this old


class Config(_Model):
    environments: Annotated[
        tuple[Environment, ...], nonempty("declare at least one environment (see deploy/chatops.example.yml)")
    ] = ()
    slack: SlackChannels = Field(default_factory=SlackChannels)
    redis_url: RedisUrl | None = None  # the bot's own Redis; None: an embedded one
    redis_prefix: str = ""  # prefix of the bot's own keys (deployments) in redis_url
    teams: Mapping[str, Channel] = Field(default_factory=dict)  # definition group -> its team's channel
    access: tuple[AccessRule, ...] | None = None  # None: everyone may run everything
    definitions: tuple[Folder, ...] = ()  # folders of flag definitions
    deployments: Deployments | None = None
    safety: Safety = Field(default_factory=Safety)
    incident: Incident = Field(default_factory=Incident)
    ui: Dashboard | None = None  # the web dashboard (off when absent)
    cleanup: Cleanup = Field(default_factory=Cleanup)
    flags_api: FlagsApi | None = None  # the OpenFeature (OFREP) server (off when absent)
    metrics: Metrics | None = None  # the team's Prometheus: rollouts guarded by metric checks, watches after changes
    webhooks: tuple[Webhook, ...] = ()  # receivers of the bot's events (outgoing webhooks)
    subscriptions: SubscriptionAccess = Field(default_factory=SubscriptionAccess)  # who may subscribe a channel
    _path: Path | None = PrivateAttr(None)

    @field_validator("safety")
    @classmethod
    def _pair_exists(cls, safety: Safety, info: ValidationInfo) -> Safety:
        pair = safety.consistency_environment
        if pair is None or pair in {e.option for e in info.data.get("environments", ())}:
            return safety
        if "consistency_environment" in safety.model_fields_set:
            raise fail(f"no environment has option {pair!r}", "consistency_environment")
        return safety.model_copy(update={"consistency_environment": None})  # the default, staging, is absent

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Config:
        environments = self.environments
        for attribute in ("option", "name"):
            values = [getattr(e, attribute) for e in environments]
            if duplicates := sorted({v for v in values if values.count(v) > 1}):
                raise fail(f"{attribute} {duplicates[0]!r} is used twice", "environments")
        places = [(e.redis_url or self.redis_url, e.prefix) for e in environments]
        for i, place in enumerate(places):
            if place in places[:i]:
                other = environments[places.index(place)].option
                raise fail(
                    f"{other!r} and {environments[i].option!r} would be the same flags: they use the same Redis "
                    f"and the same prefix {place[1]!r}; give each environment its own prefix",
                    f"environments[{i}].prefix",
                )
        if len(defaults := [e.option for e in environments if e.default]) != 1:
            found = f"found {len(defaults)}: {defaults}"
            raise fail(f"exactly one environment must have default: true ({found})", "environments")
        known = {e.option for e in environments} | {e.name for e in environments} | {"*"}
        for i, rule in enumerate(self.access or ()):
            if unknown := [target for target in rule.environments if target not in known]:
                known_list = ", ".join(sorted(known))
                raise fail(f"unknown environment {unknown[0]!r}; known: {known_list}", f"access[{i}].environments")
        for i, key in enumerate(self.flags_api.keys if self.flags_api else ()):
            if key.environment not in known - {"*"}:
                known_list = ", ".join(e.name for e in environments)
                raise fail(
                    f"unknown environment {key.environment!r}; known: {known_list}", f"flags_api.keys[{i}].environment"
                )
        for target in self.metrics.watch.environments or () if self.metrics and self.metrics.watch else ():
            if target not in known - {"*"}:
                known_list = ", ".join(e.name for e in environments)
                raise fail(f"unknown environment {target!r}; known: {known_list}", "metrics.watch.environments")
        names = [w.name for w in self.webhooks]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise fail(f"receiver name {duplicates[0]!r} is used twice", "webhooks")
        for i, webhook in enumerate(self.webhooks):
            if unknown := [t for t in webhook.environments or () if t not in known - {"*"}]:
                known_list = ", ".join(e.name for e in environments)
                raise fail(f"unknown environment {unknown[0]!r}; known: {known_list}", f"webhooks[{i}].environments")
        self._path = (info.context or {}).get("path")
        return self

    @property
    def path(self) -> Path | None:
        """The file this configuration was read from."""
        return self._path

    @property
    def default_environment(self) -> Environment:
        return next(e for e in self.environments if e.default)

    def environment(self, option: str) -> Environment | None:
        return next((e for e in self.environments if e.option == option), None)

    def environment_name(self, option: str) -> str:
        """The name of the environment with this option, or the option itself when none has it
        (a record made under an older configuration)."""
        environment = self.environment(option)
        return environment.name if environment is not None else option

    def watched(self, option: str) -> bool:
        """Whether changes in this environment are watched by the metric checks afterwards."""
        watch = self.metrics.watch if self.metrics else None
        environment = self.environment(option)
        if watch is None or environment is None:
            return False
        if watch.environments is None:
            return environment.production
        return environment.option in watch.environments or environment.name in watch.environments

    def production_usergroups(self) -> frozenset[str]:
        """User groups named by an access rule that covers a production environment."""
        production = [e for e in self.environments if e.production]
        return frozenset(g for r in self.access or () if any(map(r.matches, production)) for g in r.usergroups)

    def channels_for(self, environment: Environment) -> tuple[str, ...]:
        """Where commands changing this environment may run; empty means anywhere."""
        if environment.channels:
            return environment.channels
        return (self.slack.production_channel,) if environment.production else ()
