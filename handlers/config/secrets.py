"""Secrets come only from environment variables, never from the configuration file."""

from __future__ import annotations

import hashlib
import hmac
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
    ui_secret: str | None = None  # signs dashboard sign-in links and sessions

    @property
    def dashboard_key(self) -> bytes | None:
        """The dashboard's signing key: CHATOPS_UI_SECRET, else one derived from the Slack
        signing secret (so that every replica agrees without one more secret to set)."""
        if self.ui_secret:
            return self.ui_secret.encode()
        if self.signing_secret:
            return hmac.new(self.signing_secret.encode(), b"chatops dashboard", hashlib.sha256).digest()
        return None

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
            ui_secret=values.get("CHATOPS_UI_SECRET") or None,
        )
