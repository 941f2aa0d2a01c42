"""GitLab's deployment webhook event (object_kind "deployment") → a Deployment."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from handlers.deployments.registry import Deployment, InvalidDeployment

__all__ = ["NotADeploymentEvent", "parse_deployment_event"]

_COMMIT_URL_SHA = re.compile(r"/commit/([0-9a-f]{40})(?:[/?#]|$)")


class NotADeploymentEvent(ValueError):
    """Another kind of GitLab event (push, pipeline, …): acknowledged and ignored."""


def _time(value: Any) -> float:
    if not isinstance(value, str) or not value.strip():
        raise InvalidDeployment("status_changed_at is missing")
    text = value.strip()
    for form in ("gitlab", "iso"):
        try:
            if form == "gitlab":  # GitLab writes "2021-04-28 21:50:00 +0200"
                moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        if moment.tzinfo is None:
            raise InvalidDeployment(f"status_changed_at {text!r} has no time zone")
        return moment.timestamp()
    raise InvalidDeployment(f"status_changed_at {text[:40]!r} is not a time like '2021-04-28 21:50:00 +0200'")


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidDeployment(f"{key} is missing")
    return value.strip()


def parse_deployment_event(payload: Any) -> Deployment:
    if not isinstance(payload, dict):
        raise InvalidDeployment("the body must be a JSON object")
    kind = payload.get("object_kind")
    if kind != "deployment":
        raise NotADeploymentEvent(f"object_kind {str(kind)[:40]!r} is not a deployment event")
    sha = payload.get("sha")
    if not isinstance(sha, str) or not sha:
        found = _COMMIT_URL_SHA.search(str(payload.get("commit_url") or ""))
        sha = found.group(1) if found else payload.get("short_sha")
    if not isinstance(sha, str) or not sha:
        raise InvalidDeployment("sha is missing (also no commit_url or short_sha)")
    url = payload.get("deployable_url")
    return Deployment(
        environment=_text(payload, "environment"),
        sha=sha.strip().lower(),
        ref=_text(payload, "ref"),
        status=_text(payload, "status"),
        at=_time(payload.get("status_changed_at")),
        package=str(payload.get("package") or ""),
        url=url if isinstance(url, str) else "",
    )
