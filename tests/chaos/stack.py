"""The local stack of ``tradingstack up examples/paper.yaml``, seen from outside for chaos.

The same rendered processes as the users run; only the bots' feed is quicker (one-second
synthetic bars from a few minutes ago, half-second cycles), through ``--env`` as
``tests/integration/test_up.py`` does. The Redis password is planted before start (the
data dir's password file, the local stand-in for the auth Secret), so the outputs can be
searched for it afterwards.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis
from redis.sentinel import Sentinel

from tests.harness.redis_procs import wait_for
from tests.harness.up_process import UpProcess
from tests.security.leaks import planted
from tradingstack_workers.keys import Keys
from tradingstack_workers.up.local_redis import PASSWORD_FILE
from tradingstack_workers.up.redis_procs import MASTER_NAME

MANIFEST = "examples/paper.yaml"
KEYS = Keys()
#: A whole stack on a loaded two-core machine: nine Python workers and six Redis processes.
START_DEADLINE = 240.0
#: The bots of examples/paper.yaml: (deployment, account, bot name).
BOTS = (
    ("paper-bot-majors-rsi", "paper-majors-rsi", "majors-rsi"),
    ("paper-bot-sol-bollinger", "paper-sol-bollinger", "sol-bollinger"),
)


def http_status(port: int, path: str, timeout: float = 3.0) -> int:
    """The answer's status; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def http_text(port: int, path: str, timeout: float = 3.0) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return str(resp.read().decode(errors="replace"))
    except urllib.error.HTTPError as err:
        return str(err.read().decode(errors="replace"))
    except OSError:
        return ""


def wait_until(
    condition: Callable[[], bool], deadline_s: float, every: float = 0.2
) -> float | None:
    """Seconds until ``condition`` held (polled every ``every`` seconds), or None when it
    did not within ``deadline_s``."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if condition():
            return time.monotonic() - started
        time.sleep(every)
    return None


def alive(pid: int) -> bool:
    """Running (a zombie counts as gone)."""
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return False


def rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` from /proc; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def age_seconds(pid: int) -> float | None:
    """How long ``pid`` has been running (from /proc); None when it is gone."""
    try:
        start_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class RedisNode:
    address: str  # host:port
    pid: int
    sentinel: bool


class ChaosStack(UpProcess):
    """``tradingstack up`` as a subprocess, with its events, Redis and workers at hand."""

    def __init__(self, data_dir: Path, extra: tuple[str, ...] = ()) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.password = planted("up-redis-password")
        secret = data_dir / PASSWORD_FILE
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.password + "\n")
        feed = {"kind": "synthetic", "seed": 11, "interval_s": 1, "origin_ts": time.time() - 300}
        args = ("--env", "bots:TS_CYCLE_SECONDS=0.5", "--env", f"bots:TS_FEED={json.dumps(feed)}")
        super().__init__(MANIFEST, data_dir, [*args, *extra])
        self._sentinel: Sentinel | None = None

    # -- what up reported --------------------------------------------------------------

    def wait_healthy(self) -> None:
        wait_for(
            lambda: bool(self.of("all_healthy")) or self.proc.poll() is not None,
            START_DEADLINE,
            "every process of the stack healthy",
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"up exited with {self.proc.returncode}: {self.events[-5:]}")

    def instances(self) -> dict[str, dict[str, Any]]:
        """The latest ``started`` event of each instance."""
        return {e["instance"]: e for e in self.of("started")}

    def kind_of(self, instance: str) -> str:
        return str(self.instances()[instance]["kind"])

    def redis_nodes(self) -> list[RedisNode]:
        (info,) = self.of("redis")
        servers = [
            RedisNode(a, p, False) for a, p in zip(info["servers"], info["pids"], strict=False)
        ]
        sentinel_pids = info["pids"][len(info["servers"]) :]
        sentinels = [
            RedisNode(a, p, True) for a, p in zip(info["sentinels"], sentinel_pids, strict=True)
        ]
        return [*servers, *sentinels]

    def log_files(self) -> list[Path]:
        return sorted((self.data_dir / "logs").glob("*.log"))

    # -- Redis ---------------------------------------------------------------------------

    def sentinel(self) -> Sentinel:
        if self._sentinel is None:
            addresses = [n.address.rsplit(":", 1) for n in self.redis_nodes() if n.sentinel]
            self._sentinel = Sentinel(
                [(host, int(port)) for host, port in addresses],
                sentinel_kwargs={"password": self.password, "socket_timeout": 1},
                password=self.password, socket_timeout=2, socket_connect_timeout=2,
                decode_responses=True,
            )  # fmt: skip
        return self._sentinel

    def master(self) -> redis.Redis:
        """A client that follows the master through failovers (no retries of its own)."""
        return cast(redis.Redis, self.sentinel().master_for(MASTER_NAME, retry=None))

    def master_address(self) -> str | None:
        try:
            host, port = self.sentinel().discover_master(MASTER_NAME)
        except redis.RedisError:
            return None
        return f"{host}:{port}"

    def node_serving(self, address: str) -> bool:
        """The server at ``address`` answers as the master Sentinel names, or as a replica
        in sync (a stopped master that comes back after a failover must be demoted)."""
        host, port = address.rsplit(":", 1)
        client = redis.Redis(host=host, port=int(port), password=self.password,
                             socket_timeout=2, decode_responses=True)  # fmt: skip
        try:
            info = client.info("replication")
        except redis.RedisError:
            return False
        finally:
            client.close()
        if info["role"] == "master":
            return self.master_address() == address
        return info.get("master_link_status") == "up"

    def master_node(self) -> RedisNode:
        address = self.master_address()
        (node,) = [n for n in self.redis_nodes() if n.address == address and not n.sentinel]
        return node

    # -- workers ---------------------------------------------------------------------

    def ready(self, instance: str) -> bool:
        return http_status(int(self.instances()[instance]["http_port"]), "/readyz") == 200

    def all_ready(self) -> bool:
        return all(self.ready(i) for i in self.instances())

    def leader(self, account: str) -> str | None:
        """The instance holding the account's Redis lease."""
        try:
            holder = self.master().get(KEYS.leader(account))
        except redis.RedisError:
            return None
        return None if holder is None else str(holder)
