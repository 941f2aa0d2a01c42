"""A production check kind is one class plus one registration: its settings join the configuration."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

import aiohttp
import pytest
from pydantic import BaseModel, ConfigDict

import handlers.checks
import handlers.services
from handlers.checks import CheckResult, Probe, ProbeDeps
from handlers.config import ConfigError, Secrets, parse_config
from handlers.config.model import production_check_model
from handlers.services import AppServices


class _QuietSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    quiet: bool
    reason: str = "it is not quiet"


class QuietHoursCheck:
    """A toy kind: passes when its configuration says it is quiet."""

    key: ClassVar[str] = "quiet_hours"
    Settings: ClassVar[type[BaseModel]] = _QuietSettings

    def probes(self, settings: _QuietSettings, deps: ProbeDeps) -> Sequence[Probe]:
        async def ask() -> CheckResult:
            return CheckResult("quiet hours", settings.quiet, () if settings.quiet else (settings.reason,))

        return (Probe("quiet hours", ask),)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # As if `QuietHoursCheck(),` were added to CHECKS: both modules that read the registry see it.
    checks = (*handlers.checks.CHECKS, QuietHoursCheck())
    monkeypatch.setattr(handlers.checks, "CHECKS", checks)
    monkeypatch.setattr(handlers.services, "CHECKS", checks)
    production_check_model.cache_clear()
    yield
    production_check_model.cache_clear()


def _config(section: dict[str, object]) -> dict[str, object]:
    environments = [{"option": "production", "name": "gprd", "production": True, "default": True}]
    return {"environments": environments, "safety": {"production_check": section}}


@pytest.mark.usefixtures("registered")
async def test_a_registered_kind_is_configured_and_run_with_the_others() -> None:
    config = parse_config(_config({"timeout": 1, "quiet_hours": {"quiet": False, "reason": "release party"}}))
    assert config.safety.production_check.configured
    async with aiohttp.ClientSession() as session:
        services = AppServices(config, Secrets(), session, None)
        results = await services.production_check()
    assert results == [CheckResult("quiet hours", False, ("release party",))]


@pytest.mark.usefixtures("registered")
def test_its_settings_are_validated_by_key() -> None:
    with pytest.raises(ConfigError, match=r"safety\.production_check\.quiet_hours: unknown key 'loud'"):
        parse_config(_config({"quiet_hours": {"quiet": True, "loud": 1}}))


def test_without_registration_the_key_is_unknown() -> None:
    with pytest.raises(ConfigError, match=r"safety\.production_check: unknown key 'quiet_hours'"):
        parse_config(_config({"quiet_hours": {"quiet": True}}))
