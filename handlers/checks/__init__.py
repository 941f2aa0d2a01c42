"""Production checks: what a kind of check is, the kinds that ask only the network, and the runner.

A kind brings the probes it runs for its configuration (``Settings``, under
``safety.production_check.KEY``, in ``handlers.config.checks``); the runner asks every configured one
in parallel under one time limit. The composition root registers the kinds
(``handlers.composition.checks.production_checks``), with those a capability brings (the running
deployments, in ``handlers.deployments.check``).
"""

from __future__ import annotations

from handlers.checks.base import CheckKind, CheckResult, Probe, ProbeDeps

__all__ = ["CheckKind", "CheckResult", "Probe", "ProbeDeps"]
