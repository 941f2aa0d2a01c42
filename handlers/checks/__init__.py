"""Production checks: one module per kind of check, registered here once.

A kind brings the probes it runs for its configuration (``Settings``, under
``safety.production_check.KEY``, in ``handlers.config.checks``); the runner asks every configured one
in parallel under one time limit.
"""

from __future__ import annotations

from handlers.checks.alertmanager import AlertmanagerCheck
from handlers.checks.base import CheckKind, CheckResult, Probe, ProbeDeps
from handlers.checks.deployments import RunningDeploymentsCheck
from handlers.checks.http import HttpCheck

__all__ = ["CHECKS", "CheckKind", "CheckResult", "Probe", "ProbeDeps"]

CHECKS: tuple[CheckKind, ...] = (AlertmanagerCheck(), HttpCheck(), RunningDeploymentsCheck())
