"""The production check: every configured probe in parallel under one time limit.

A probe that errors, answers garbage or does not answer in time counts as failed, with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

from handlers.checks.base import CheckKind, CheckResult, Probe, ProbeDeps
from handlers.config import ProductionCheckSettings

__all__ = ["configured_probes", "run_production_check"]


def configured_probes(settings: ProductionCheckSettings, checks: Sequence[CheckKind], deps: ProbeDeps) -> list[Probe]:
    probes: list[Probe] = []
    for check in checks:
        section = getattr(settings, check.key, None)
        if section is not None:
            probes += check.probes(section, deps)
    return probes


async def run_production_check(probes: Sequence[Probe], timeout: float) -> list[CheckResult]:
    """Run the probes together; each failed, erroring or late one says why."""

    async def guarded(probe: Probe) -> CheckResult:
        try:
            return await probe.run()
        except (aiohttp.ClientError, OSError) as error:
            return CheckResult(
                probe.name, False, (f"{probe.name} could not be reached: {error or type(error).__name__}",)
            )

    tasks = [asyncio.create_task(guarded(probe)) for probe in probes]
    done, pending = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    results = []
    for probe, task in zip(probes, tasks, strict=True):
        if task in done:
            results.append(task.result())
        else:
            results.append(CheckResult(probe.name, False, (f"{probe.name} did not answer within {timeout:g} s",)))
    return results
