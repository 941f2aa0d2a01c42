"""``chatops check-metrics`` (and the same at start): every configured check tried against Prometheus
in every environment, and every check a definition or the watch names looked up. A query Prometheus
refuses or that answers several series is a problem; no data in an environment is only said."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flags import Definition
from handlers.checks.metric_checks import read_all, shown
from handlers.checks.prometheus import PrometheusClient
from handlers.config.metrics import Metrics

__all__ = ["Finding", "verify_checks"]


@dataclass(frozen=True, slots=True)
class Finding:
    text: str
    problem: bool


async def verify_checks(
    client: PrometheusClient,
    metrics: Metrics,
    environments: Sequence[str],
    definitions: Mapping[str, Definition],
    flag: str = "example_flag",
) -> list[Finding]:
    """What each check answers in each environment now, and every unknown check a definition names."""
    findings = []
    for name in metrics.checks:
        for reading in await read_all(client, metrics.checks, [name], environments, flag):
            where = f"{name} on {reading.environment}"
            if reading.error:
                findings.append(Finding(f"{where}: {reading.error}", True))
            elif reading.value is None:
                findings.append(Finding(f"{where}: no data now (the query finds no series there)", False))
            else:
                findings.append(Finding(f"{where}: {shown(metrics.checks[name], reading.value)}", False))
    for definition in definitions.values():
        for name in definition.metrics:
            if name not in metrics.checks:
                known = ", ".join(sorted(metrics.checks)) or "none"
                findings.append(
                    Finding(f"{definition.path}: metrics names unknown check {name!r}; configured: {known}", True)
                )
    return findings
