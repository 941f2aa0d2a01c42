"""Secrets come only from environment variables, never from the configuration file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Secrets"]


@dataclass(frozen=True, slots=True)
class Secrets:
    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str | None = None
    gitlab_webhook_token: str | None = None
    alertmanager_webhook_token: str | None = None
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
            alertmanager_webhook_token=values.get("ALERTMANAGER_WEBHOOK_TOKEN") or None,
            gitlab_api_token=values.get("GITLAB_API_TOKEN") or None,
        )
