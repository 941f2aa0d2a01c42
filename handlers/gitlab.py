"""GitLab's API for the change log (an issue per change) and end-to-end pipeline triggers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

__all__ = ["GitLabError", "close_issue", "create_issue", "trigger_pipeline"]

_TIMEOUT = aiohttp.ClientTimeout(total=10)


class GitLabError(Exception):
    pass


def _project(project: str) -> str:
    return quote(project, safe="") if not project.isdigit() else project


async def _json(response: aiohttp.ClientResponse, what: str) -> dict[str, Any]:
    if response.status >= 300:
        raise GitLabError(f"{what}: GitLab answered HTTP {response.status}")
    try:
        body: Any = await response.json(content_type=None)
    except ValueError as error:
        raise GitLabError(f"{what}: GitLab answered something that is not JSON") from error
    if not isinstance(body, dict):
        raise GitLabError(f"{what}: unexpected answer from GitLab")
    return body


async def trigger_pipeline(
    session: aiohttp.ClientSession,
    gitlab_url: str,
    project: str,
    token: str,
    ref: str,
    variables: dict[str, str],
) -> str:
    """POST /api/v4/projects/:id/trigger/pipeline; returns the pipeline's web URL."""
    form = {"token": token, "ref": ref, **{f"variables[{k}]": v for k, v in variables.items()}}
    url = f"{gitlab_url}/api/v4/projects/{_project(project)}/trigger/pipeline"
    try:
        async with session.post(url, data=form, timeout=_TIMEOUT) as response:
            body = await _json(response, "pipeline trigger")
    except (aiohttp.ClientError, TimeoutError) as error:
        raise GitLabError(f"pipeline trigger: {error or type(error).__name__}") from error
    return str(body.get("web_url") or "")


async def create_issue(
    session: aiohttp.ClientSession,
    gitlab_url: str,
    project: str,
    token: str,
    title: str,
    labels: list[str],
    description: str,
) -> tuple[int, str]:
    """Create an issue; returns (iid, web_url)."""
    url = f"{gitlab_url}/api/v4/projects/{_project(project)}/issues"
    form = {"title": title, "labels": ",".join(labels), "description": description}
    try:
        async with session.post(url, data=form, headers={"PRIVATE-TOKEN": token}, timeout=_TIMEOUT) as response:
            body = await _json(response, "change log issue")
    except (aiohttp.ClientError, TimeoutError) as error:
        raise GitLabError(f"change log issue: {error or type(error).__name__}") from error
    return int(body.get("iid") or 0), str(body.get("web_url") or "")


async def close_issue(session: aiohttp.ClientSession, gitlab_url: str, project: str, token: str, iid: int) -> None:
    url = f"{gitlab_url}/api/v4/projects/{_project(project)}/issues/{iid}"
    try:
        async with session.put(
            url, data={"state_event": "close"}, headers={"PRIVATE-TOKEN": token}, timeout=_TIMEOUT
        ) as response:
            await _json(response, "closing the change log issue")
    except (aiohttp.ClientError, TimeoutError) as error:
        raise GitLabError(f"closing the change log issue: {error or type(error).__name__}") from error
