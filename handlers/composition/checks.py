"""Every kind of production check, registered once: each is a field of
``handlers.config.ProductionCheckSettings`` under its key (a test holds the two equal)."""

from __future__ import annotations

from handlers.checks import CheckKind
from handlers.checks.alertmanager import AlertmanagerCheck
from handlers.checks.http import HttpCheck
from handlers.deployments.check import RunningDeploymentsCheck
from handlers.deployments.registry import DeploymentRegistry

__all__ = ["production_checks"]


def production_checks(registry: DeploymentRegistry | None) -> tuple[CheckKind, ...]:
    """The kinds, in the order their results are listed; the running deployments ask ``registry``
    (None: no ``deployments`` section, and a configured running-deployments check fails saying so)."""
    return (AlertmanagerCheck(), HttpCheck(), RunningDeploymentsCheck(registry))
