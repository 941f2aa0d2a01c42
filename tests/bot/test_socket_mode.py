"""Socket Mode: the same commands over a local WebSocket server, as Bolt's own tests do."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.runtime import Runtime
from bot.slack import build_app, connect_socket_mode
from handlers.config import Secrets, load_config
from tests.bot.conftest import CHANNELS, FLAG, write_config
from tests.bot.slack_stub import SlackStub, message_text


async def test_slash_command_over_socket_mode(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> None:
    secrets = Secrets(bot_token="xoxb-test", app_token="xapp-test", api_url=f"{slack.url}/api/")
    runtime = Runtime.start(load_config(write_config(tmp_path, redis_url, prefix)), tmp_path / ".chatops", secrets)
    session = aiohttp.ClientSession()
    app = build_app(runtime, secrets, session, socket_mode=True)
    await runtime.app.start(runtime.app.chat)
    handler = await connect_socket_mode(app, "xapp-test")
    try:
        await _exercise(slack, runtime)
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await session.close()
        await runtime.close()


async def _exercise(slack: SlackStub, runtime: Runtime) -> None:
    assert slack.count("apps.connections.open") == 1
    await slack.wait_for(lambda: slack._sockets)

    payload = {
        "token": "x",
        "team_id": "T0TEST",
        "channel_id": CHANNELS["production"],
        "channel_name": "production",
        "user_id": "U0SRE",
        "user_name": "sre",
        "command": "/chatops",
        "api_app_id": "A0APP",
        "text": f"run feature set {FLAG} true --staging --production",
        "response_url": f"{slack.url}/respond/socket1",
        "trigger_id": "t",
    }
    await slack.socket_send(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": payload,
        }
    )
    await slack.wait_for(lambda: slack.responses.get("socket1") and slack.socket_acks)
    assert [a["envelope_id"] for a in slack.socket_acks] == ["env-1"]  # acked over the socket
    [response] = slack.responses["socket1"]
    assert response["response_type"] == "in_channel"
    assert f"*Enabled*: `{FLAG}` on gstg, gprd by <@U0SRE>" in message_text(response)
    store = runtime.app.stores["production"]
    assert (await store.get(FLAG)).state.boolean is True

    # A refusal over Socket Mode is the same refusal.
    payload = {
        **payload,
        "channel_id": CHANNELS["random"],
        "channel_name": "random",
        "response_url": f"{slack.url}/respond/socket2",
        "text": f"run feature set {FLAG} false",
    }
    await slack.socket_send({"envelope_id": "env-2", "type": "slash_commands", "payload": payload})
    await slack.wait_for(lambda: slack.responses.get("socket2"))
    assert slack.responses["socket2"][0]["response_type"] == "ephemeral"
    assert (await store.get(FLAG)).state.boolean is True
