"""Slack's HTTP requests checked before Bolt sees them: the v0 signature over the raw bytes, then
the body's shape as Bolt will read it. A request that fails is refused with a reason: 401 when it
is not Slack's, 400 when it is malformed; never a 500 and never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["MAX_JSON_DEPTH", "SIGNATURE_MAX_AGE_S", "BadRequest", "check_request"]

SIGNATURE_MAX_AGE_S = 60 * 5  # as Slack's SDK and Bolt: older or newer timestamps are refused
MAX_JSON_DEPTH = 64  # Slack's payloads nest about ten levels; Bolt copies bodies recursively


class BadRequest(Exception):
    """A request refused before Bolt sees it: 401 unauthenticated, 400 malformed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_request(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> str:
    """The body as text, if the request is Slack's and well formed; else raises BadRequest."""
    authenticate(headers, body, secret, now)
    text = _decode(body)
    content_type = headers.get("content-type")
    _check_shape(_parse_like_bolt(text, content_type.split(";")[0] if content_type else None))
    return text


def authenticate(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
    """Slack's v0 signature over the raw bytes (slack_sdk's SignatureVerifier, which needs UTF-8)."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not secret:
        raise BadRequest(401, "no signing secret configured")
    if not timestamp or not signature:
        raise BadRequest(401, "signature or timestamp missing")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise BadRequest(401, "timestamp is not a whole number of seconds")
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE_S:
        raise BadRequest(401, "timestamp more than 5 minutes away")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    # surrogateescape: aiohttp keeps undecodable header bytes that way; they must compare, not crash
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape")):
        raise BadRequest(401, "signature does not match")


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "the body is not UTF-8") from None


def _parse_like_bolt(text: str, content_type: str | None) -> dict[str, Any]:
    """The body as Bolt will read it (slack_bolt.request.internals.parse_body), but checked."""
    if not text:
        return {}
    if content_type == "application/json" or text.startswith("{"):
        return _json_object(text, "the body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        return {} if payload is None else _json_object(payload, "the payload field")
    return dict(parse_qsl(text, keep_blank_values=True))


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadRequest(400, f"{what} is nested too deeply") from None
    except ValueError:
        raise BadRequest(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise BadRequest(400, f"{what} is not a JSON object")
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:  # no recursion: the depth is what is being checked
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(400, f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


_IDENTITIES = ("enterprise", "team", "user", "channel")  # an ID string or an object with an "id"
_OBJECTS = ("event", "view")  # objects when present
_STRINGS = ("type", "action_id", "block_id", "callback_id")  # strings when present


def _check_shape(body: dict[str, Any]) -> None:
    """The fields Bolt reads before any listener runs, with the types Slack sends."""
    event, view = body.get("event") or {}, body.get("view") or {}
    for key in _OBJECTS:
        if key in body and not isinstance(body[key], dict):
            raise BadRequest(400, f"{key} is not an object")
    for key in _STRINGS:
        if key in body and not isinstance(body[key], str):
            raise BadRequest(400, f"{key} is not a string")
    for where, part in (("", body), ("event.", event)):  # Bolt looks for IDs in both
        for key in _IDENTITIES:
            value = part.get(key)
            if not (_str_or_none(value) or (isinstance(value, dict) and _str_or_none(value.get("id")))):
                raise BadRequest(400, f"{where}{key} is neither an ID nor an object with an id")
        authorizations = part.get("authorizations")
        if authorizations is not None and not _list_of_objects(authorizations):
            raise BadRequest(400, f"{where}authorizations is not a list of objects")
    for key in ("type", "subtype", "bot_id", "channel_type", "thread_ts"):
        if not _str_or_none(event.get(key)):
            raise BadRequest(400, f"event.{key} is not a string")
    for key in ("message", "previous_message"):
        if not (event.get(key) is None or isinstance(event[key], dict)):
            raise BadRequest(400, f"event.{key} is not an object")
    if "view" in body and not (isinstance(view.get("type"), str) and _str_or_none(view.get("callback_id"))):
        raise BadRequest(400, "view has no type")
    steps = body.get("type") == "workflow_step_edit" or view.get("type") == "workflow_step"
    if steps and "workflow_step" not in body:
        raise BadRequest(400, "workflow_step missing")
    if "actions" in body or body.get("type") in ("block_actions", "interactive_message"):
        _check_actions(body)


def _check_actions(body: dict[str, Any]) -> None:
    """A button click: its actions, and who clicked where as the objects Slack sends (not bare IDs)."""
    for key in ("user", "channel"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise BadRequest(400, f"{key} of a button click is not an object with an id")
    if not _str_or_none(body.get("response_url")):
        raise BadRequest(400, "response_url of a button click is not a string")
    actions = body.get("actions")
    if not (_list_of_objects(actions) and actions):
        raise BadRequest(400, "actions is not a non-empty list of objects")
    for action in actions:
        if body.get("type") == "block_actions" and not isinstance(action.get("action_id"), str):
            raise BadRequest(400, "an action has no action_id")
        if not all(_str_or_none(action.get(key)) for key in ("action_id", "block_id", "name", "type")):
            raise BadRequest(400, "an action's action_id, block_id, name or type is not a string")


def _str_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def _list_of_objects(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)
