"""One Redis master, one replica and three sentinels on loopback ports, from redis-server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from tests.redis_process import free_port, redis_server_binary

MASTER = "chatopsmaster"


class SentinelSetup:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self._processes: list[subprocess.Popen[bytes]] = []
        self._server(self.master_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        replica = redis.Redis(port=self.replica_port, decode_responses=True)
        self._wait(lambda: replica.info("replication").get("master_link_status") == "up", "the replica is in sync")
        for port in self.sentinel_ports:
            config = directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\nsentinel failover-timeout {MASTER} 5000\n"
            )
            self._processes.append(
                subprocess.Popen(
                    [redis_server_binary(), str(config), "--sentinel"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        self.url = "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports) + f"/{MASTER}/0"
        self._wait(lambda: self.sentinel(0).execute_command("SENTINEL", "REPLICAS", MASTER), "the replica is known")
        self._wait(
            lambda: len(self.sentinel(0).execute_command("SENTINEL", "SENTINELS", MASTER)) == 2,
            "sentinels see each other",
        )

    def _server(self, port: int, *extra: str) -> None:
        self._processes.append(
            subprocess.Popen(
                [
                    redis_server_binary(),
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                    "--repl-diskless-sync-delay",
                    "0",
                    "--dbfilename",
                    f"dump-{port}.rdb",
                    *extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        self._wait(lambda: redis.Redis(port=port).ping(), f"redis on {port}")

    def sentinel(self, i: int) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[i], decode_responses=True)

    def master_port_now(self) -> int:
        _host, port = self.sentinel(0).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        return int(port)

    def failover(self) -> None:
        self.sentinel(0).execute_command("SENTINEL", "FAILOVER", MASTER)

    @staticmethod
    def _wait(condition: object, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():  # type: ignore[operator]
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting until {what}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self._processes:
            process.kill()
            process.wait(timeout=10)
