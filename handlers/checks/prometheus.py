"""Asking the team's Prometheus (its HTTP API): one value of a query at a moment, or its values over a
span. Every request is bounded: Prometheus is told the timeout and the bot stops waiting after it,
and an answer larger than ``max_series`` series could be is not read. A query must answer one series
(or none: no data); several are an error that names them."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

__all__ = ["PrometheusClient", "PrometheusError", "graph_link"]

_BYTES_PER_SERIES = 4096  # an instant answer: labels and one value
_BYTES_PER_POINT = 40
_BASE_BYTES = 16384


class PrometheusError(Exception):
    """Prometheus could not answer, or answered something a check cannot use; the text says which,
    with Prometheus' own message when it gave one."""


@dataclass(frozen=True, slots=True)
class PrometheusClient:
    session: aiohttp.ClientSession
    url: str
    timeout: float = 5.0
    max_series: int = 20
    bearer_token: str = ""

    async def value(self, query: str, at: float) -> float | None:
        """The query's single value at ``at`` (unix time); None when it answers no data (or NaN)."""
        params = {"query": query, "time": f"{at:.3f}", "timeout": f"{self.timeout:g}s"}
        limit = _BASE_BYTES + self.max_series * _BYTES_PER_SERIES
        data = await self._get("/api/v1/query", params, limit)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list):
            return _number(result[1])
        if kind != "vector" or not isinstance(result, list):
            raise PrometheusError(f"the query answers a {kind}, not one number: aggregate it, e.g. with sum(...)")
        _one_series(result)
        return _number(result[0]["value"][1]) if result else None

    async def values(self, query: str, start: float, end: float, points: int = 240) -> list[tuple[float, float]]:
        """The query's values from ``start`` to ``end`` at about ``points`` evenly spaced moments."""
        step = max(1.0, (end - start) / points)
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        params["timeout"] = f"{self.timeout:g}s"
        limit = _BASE_BYTES + self.max_series * (_BYTES_PER_SERIES + (points + 2) * _BYTES_PER_POINT)
        data = await self._get("/api/v1/query_range", params, limit)
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise PrometheusError(f"the query answers a {data.get('resultType')}, not a series over time")
        _one_series(result)
        found = [(float(t), _number(v)) for t, v in result[0]["values"]] if result else []
        return [(t, v) for t, v in found if v is not None]

    async def _get(self, path: str, params: Mapping[str, str], limit: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.bearer_token}"} if self.bearer_token else {}
        try:
            async with asyncio.timeout(self.timeout + 1):
                async with self.session.get(self.url.rstrip("/") + path, params=params, headers=headers) as response:
                    body = await response.content.read(limit + 1)
                    status = response.status
        except TimeoutError:
            raise PrometheusError(f"Prometheus did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as error:
            raise PrometheusError(f"Prometheus could not be reached ({type(error).__name__}: {error})") from None
        if len(body) > limit:
            raise PrometheusError(f"the answer is too large (over {self.max_series} series): narrow the query")
        return _data(status, body)


def _data(status: int, body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        raise PrometheusError(f"Prometheus answered HTTP {status} without JSON: is the URL its API?") from None
    if not isinstance(answer, dict):
        raise PrometheusError(f"Prometheus answered HTTP {status} with something that is not its API's answer")
    if answer.get("status") != "success":
        message = str(answer.get("error") or f"HTTP {status}")
        raise PrometheusError(f"Prometheus refused the query: {message}")
    data = answer.get("data")
    return data if isinstance(data, dict) else {}


def _one_series(result: list[Any]) -> None:
    if len(result) <= 1:
        return
    shown = "; ".join(_labels(r.get("metric") or {}) for r in result[:3])
    more = f" and {len(result) - 3} more" if len(result) > 3 else ""
    raise PrometheusError(
        f"the query answers {len(result)} series ({shown}{more}), a check needs one: aggregate it, e.g. sum(...)"
    )


def _labels(metric: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def graph_link(base_url: str, query: str, *, end: float, span_s: float) -> str:
    """The query in Prometheus' graph page, over ``span_s`` seconds ending at ``end``."""
    hours = max(1, math.ceil(span_s / 3600))
    params = {"g0.expr": query, "g0.tab": "0", "g0.range_input": f"{hours}h", "g0.end_input": _utc(end)}
    return base_url.rstrip("/") + "/graph?" + urlencode(params)


def _utc(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))
