"""The outside world for commands: the production check and GitLab (triggers, change-log issues)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from handlers.checks import CheckKind, CheckResult, ProbeDeps
from handlers.checks.alertmanager import alerts_firing
from handlers.checks.prometheus import PrometheusClient
from handlers.checks.runner import configured_probes, run_production_check
from handlers.config import Config, Environment, Secrets
from handlers.gitlab import GitLabError, close_issue, create_issue, trigger_pipeline

__all__ = ["AppServices"]


@dataclass
class AppServices:
    """``checks``: the kinds of production check, registered by the composition root."""

    config: Config
    secrets: Secrets
    checks: Sequence[CheckKind]
    _session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """One HTTP session for every check and GitLab call, made on first use (in the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def production_check_configured(self) -> bool:
        return self.config.safety.production_check.configured

    async def production_check(self) -> list[CheckResult]:
        settings = self.config.safety.production_check
        probes = configured_probes(settings, self.checks, ProbeDeps(self.session))
        return await run_production_check(probes, settings.timeout)

    async def firing_alerts(self, matchers: tuple[str, ...]) -> list[str]:
        settings = self.config.safety.production_check.alertmanager
        if settings is None:
            return ["(no Alertmanager is configured for the guard: safety.production_check.alertmanager)"]
        return await alerts_firing(self.session, settings.url, matchers)

    def prometheus(self) -> PrometheusClient | None:
        """The team's Prometheus, when the configuration names one (``metrics.prometheus``)."""
        metrics = self.config.metrics
        if metrics is None:
            return None
        settings = metrics.prometheus
        token = os.environ.get(settings.bearer_token_env, "") if settings.bearer_token_env else ""
        return PrometheusClient(self.session, settings.url, settings.timeout, settings.max_series, token)

    async def trigger_e2e(self, environment: Environment, variables: dict[str, str]) -> str:
        trigger = environment.e2e_trigger
        if trigger is None:
            raise GitLabError(f"{environment.name} has no e2e_trigger")
        token = os.environ.get(trigger.token_env)
        if not token:
            raise GitLabError(f"the trigger token variable {trigger.token_env} is not set")
        return await trigger_pipeline(
            self.session, self.config.safety.gitlab_url, trigger.project, token, trigger.ref, variables
        )

    @property
    def logs_issues(self) -> bool:
        return self.config.safety.log_project is not None

    async def log_issue(self, title: str, labels: list[str], description: str) -> str:
        project = self.config.safety.log_project
        token = self.secrets.gitlab_api_token
        if project is None or not token:
            raise GitLabError("the change log project needs GITLAB_API_TOKEN")
        url = self.config.safety.gitlab_url
        iid, web_url = await create_issue(self.session, url, project, token, title, labels, description)
        await close_issue(self.session, url, project, token, iid)
        return web_url
