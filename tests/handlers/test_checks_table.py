"""A production check kind is one class, its settings in the configuration (a field of
``ProductionCheckSettings`` under its key) and one registration in the composition root."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import ClassVar

import aiohttp
import pytest
from pydantic import BaseModel, ConfigDict

from handlers.checks import CheckResult, Probe, ProbeDeps
from handlers.checks.runner import configured_probes, run_production_check
from handlers.composition.checks import production_checks
from handlers.config import ConfigError, ProductionCheckSettings, Secrets, parse_config
from handlers.services import AppServices


def test_every_registered_kind_is_a_settings_field_and_every_field_a_registered_kind() -> None:
    kinds = production_checks(None)
    keys = [kind.key for kind in kinds]
    fields = [name for name in ProductionCheckSettings.model_fields if name != "timeout"]
    assert len(set(keys)) == len(keys), f"a key is registered twice: {keys}"
    assert sorted(keys) == sorted(fields), "register the kind in handlers.composition.checks and add its field"
    for kind in kinds:
        annotation = ProductionCheckSettings.model_fields[kind.key].annotation
        assert typing.get_args(annotation) == (kind.Settings, types.NoneType), kind.key


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


class _WithQuietHours(ProductionCheckSettings):
    """As if ``quiet_hours`` were added to ProductionCheckSettings."""

    quiet_hours: _QuietSettings | None = None


async def test_a_kind_with_its_field_is_run_with_the_others() -> None:
    section = {"timeout": 1, "quiet_hours": {"quiet": False, "reason": "release party"}}
    settings = _WithQuietHours.model_validate(section)
    assert settings.configured
    async with aiohttp.ClientSession() as session:
        # As if `QuietHoursCheck()` were registered: the other kinds have no section, so ask nothing.
        probes = configured_probes(settings, (*production_checks(None), QuietHoursCheck()), ProbeDeps(session))
        results = await run_production_check(probes, settings.timeout)
    assert results == [CheckResult("quiet hours", False, ("release party",))]


def _config(section: dict[str, object]) -> dict[str, object]:
    environments = [{"option": "production", "name": "gprd", "production": True, "default": True}]
    return {"environments": environments, "safety": {"production_check": section}}


async def test_the_registered_kinds_run_from_the_configuration() -> None:
    # Running deployments configured, but no deployment registry (no `deployments` section): it fails saying so.
    config = parse_config(_config({"timeout": 1, "deployments": ["gprd"], "http": []}))
    assert config.safety.production_check.configured
    services = AppServices(config, Secrets(), production_checks(None))
    try:
        results = await services.production_check()
    finally:
        await services.close()
    assert results == [CheckResult("deployments", False, ("deployments are not configured, so none can be checked",))]


def test_a_kinds_settings_refuse_unknown_keys_by_name() -> None:
    with pytest.raises(ConfigError, match=r"production_check\.alertmanager: unknown key 'loud'; known keys: url"):
        parse_config(_config({"alertmanager": {"url": "http://alertmanager:9093", "loud": 1}}))
    with pytest.raises(ConfigError, match=r"alertmanager: unknown key 'matcher' \(did you mean 'matchers'\?\)"):
        parse_config(_config({"alertmanager": {"url": "http://alertmanager:9093", "matcher": ['env="gprd"']}}))


def test_without_a_field_the_key_is_unknown() -> None:
    with pytest.raises(ConfigError, match=r"safety\.production_check: unknown key 'quiet_hours'; known keys: timeout"):
        parse_config(_config({"quiet_hours": {"quiet": True}}))
