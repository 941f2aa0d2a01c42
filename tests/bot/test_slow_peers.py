"""Slow and idle peers against `chatops serve` (a real process, limits made small by environment
variables): stalled connections are closed, a slow body gets 408, idle keep-alive connections are
closed, connections beyond the cap are refused, and signed commands are answered meanwhile."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]

from tests.bot.conftest import FLAG, BotUnderTest, serve_process, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.redis_process import free_port

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
KEEPALIVE_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 70
STALLED = 50


async def closed_after(reader: asyncio.StreamReader, since: float, timeout: float) -> tuple[bytes, float]:
    """Everything the server sent until it closed the connection, and when (seconds after ``since``;
    infinity when it was still open after ``timeout`` seconds)."""
    received = b""
    try:
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(4096):
                received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        return received, float("inf")
    return received, time.monotonic() - since


async def test_slow_and_idle_peers_are_closed_while_commands_are_answered(
    tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub
) -> None:
    config = write_config(tmp_path, redis_url, prefix)
    port = free_port()
    process = serve_process(
        config,
        port,
        slack.url,
        token="xoxb-slow-peers",
        CHATOPS_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        CHATOPS_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        CHATOPS_KEEPALIVE_TIMEOUT_S=str(KEEPALIVE_TIMEOUT_S),
        CHATOPS_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    url = f"http://127.0.0.1:{port}"
    streams: list[asyncio.StreamWriter] = []

    async def connect(first_bytes: bytes) -> asyncio.StreamReader:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        streams.append(writer)
        if first_bytes:
            writer.write(first_bytes)
            await writer.drain()
        return reader

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2)) as session:
            await wait_healthy(session, url)
            server = psutil.Process(process.pid)
            baseline_fds = server.num_fds()

            # 50 stalled connections: half send nothing, half half a request line.
            opened = time.monotonic()
            stalled = [await connect(b"" if n % 2 else b"POST /slack/eve") for n in range(STALLED)]
            # A body that never completes, and a keep-alive connection that goes idle after a request.
            slow_body = await connect(
                b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 100\r\n\r\ncommand=/c"
            )
            idle = await connect(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
            idle_answer = await asyncio.wait_for(idle.readuntil(b"ok\n"), 2)
            assert idle_answer.startswith(b"HTTP/1.1 200"), idle_answer
            idle_since = time.monotonic()

            # Meanwhile signed commands are answered.
            bot = BotUnderTest(url, slack, prefix, None, session)  # type: ignore[arg-type]
            for _ in range(3):
                message = await bot.command(f"run feature get {FLAG} --staging", channel="#development")
                assert f"`{FLAG}`" in message_text(message), message

            # Beyond the cap, new connections are answered 503 and closed at once.
            extra = [await connect(b"") for _ in range(30)]
            refused_at = time.monotonic()
            refused = await asyncio.gather(*(closed_after(reader, refused_at, 0.5) for reader in extra))
            turned_away = [data for data, _ in refused if data.startswith(b"HTTP/1.1 503")]
            accepted_at_most = MAX_CONNECTIONS - STALLED - 2  # the slow body and the idle connection are open too
            assert len(turned_away) >= 30 - accepted_at_most, refused
            assert all(after < 0.5 or data == b"" for data, after in refused), refused  # the others wait, unanswered

            # The stalled ones are closed by the header timeout, not before, and soon after.
            closures = await asyncio.gather(*(closed_after(reader, opened, HEADER_TIMEOUT_S + 3) for reader in stalled))
            for data, after in closures:
                assert data == b"", data
                assert HEADER_TIMEOUT_S * 0.9 <= after <= HEADER_TIMEOUT_S + 1.5, after

            body_answer, body_after = await closed_after(slow_body, opened, BODY_TIMEOUT_S + 3)
            assert body_answer.startswith(b"HTTP/1.1 408"), body_answer
            assert body_after <= BODY_TIMEOUT_S + 1.5, body_after

            idle_rest, idle_after = await closed_after(idle, idle_since, KEEPALIVE_TIMEOUT_S + 3)
            assert idle_rest == b"", idle_rest
            assert KEEPALIVE_TIMEOUT_S * 0.9 <= idle_after <= KEEPALIVE_TIMEOUT_S + 1.5, idle_after

            # Still answering, and the file descriptors are given back.
            message = await bot.command(f"run feature get {FLAG} --staging", channel="#development")
            assert f"`{FLAG}`" in message_text(message), message
            for _ in range(40):
                if server.num_fds() <= baseline_fds + 5:
                    break
                await asyncio.sleep(0.05)
            assert server.num_fds() <= baseline_fds + 5, (server.num_fds(), baseline_fds)
            async with session.get(f"{url}/metrics") as response:
                metrics = await response.text()
            assert 'chatops_http_connections_closed_total{reason="header_timeout"}' in metrics
    finally:
        for writer in streams:
            writer.close()
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr[-2000:]
    assert '"event": "bot.connection_limit"' in stderr, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
