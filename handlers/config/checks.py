"""The settings of each kind of production check, under ``safety.production_check.KEY``.

The checks themselves (``handlers.checks``, and the running-deployments kind in ``handlers.deployments``)
read these; ``ProductionCheckSettings`` has one optional field per kind, named by its key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, RootModel

from handlers.config.types import HttpUrl

__all__ = ["AlertmanagerSettings", "DeploymentsSettings", "HttpSettings"]


class AlertmanagerSettings(BaseModel):
    """``safety.production_check.alertmanager``: ``url`` and ``matchers`` (e.g. ``env="gprd"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: HttpUrl
    matchers: tuple[str, ...] = ()


class HttpSettings(RootModel[tuple[HttpUrl, ...]]):
    """``safety.production_check.http``: a list of URLs."""


class DeploymentsSettings(RootModel[tuple[str, ...]]):
    """``safety.production_check.deployments``: deployment environment names, e.g. ``[gprd, gprd-cny]``."""
