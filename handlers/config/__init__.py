"""The bot's configuration: a YAML file validated at start; secrets only from the environment."""

from __future__ import annotations

from handlers.config.load import ConfigError, load_config, parse_config
from handlers.config.model import (
    RESERVED_OPTIONS,
    AccessRule,
    Config,
    Dashboard,
    Deployments,
    E2ETrigger,
    Environment,
    FlagsApi,
    FlagsApiKey,
    ProductionCheckSettings,
    Safety,
    SlackChannels,
)
from handlers.config.secrets import Secrets

__all__ = [
    "RESERVED_OPTIONS",
    "AccessRule",
    "Config",
    "ConfigError",
    "Dashboard",
    "Deployments",
    "E2ETrigger",
    "Environment",
    "FlagsApi",
    "FlagsApiKey",
    "ProductionCheckSettings",
    "Safety",
    "Secrets",
    "SlackChannels",
    "load_config",
    "parse_config",
]
