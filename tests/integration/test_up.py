"""``tradingstack up examples/paper.yaml`` as a real process: issue 7's proofs.

The example's cadence is a human's (5 s cycles, 60 s bars); the test runs the same
manifest with faster bots through ``--env`` (1 s bars from an hour ago, 0.5 s cycles).
One stack serves the tests in order: healthy and trading, a hung worker restarted, the
Redis master killed (and back as a replica), a sentinel killed (and back), a second ``up``
on its data dir refused, then SIGHUP (a closed terminal) stops every child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from tests.harness.processes import DEADLINE
from tests.harness.redis_procs import online_replicas, wait_for
from tests.harness.up_process import UpProcess

from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.metrics import READY

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEYS = Keys()


class Up(UpProcess):
    """The ``up`` process on the example, with faster bots."""

    def __init__(self, data_dir: Path) -> None:
        feed = {"kind": "synthetic", "seed": 7, "interval_s": 1, "origin_ts": time.time() - 3600}
        super().__init__("examples/paper.yaml", data_dir, ["--env", "bots:TS_CYCLE_SECONDS=0.5",
                         "--env", f"bots:TS_FEED={json.dumps(feed)}"])  # fmt: skip

    def sentinel(self) -> redis.Sentinel:
        (info,) = self.of("redis")
        password = (self.data_dir / "redis-password").read_text().strip()
        sentinels = [(h, int(p)) for h, p in (a.split(":") for a in info["sentinels"])]
        return redis.Sentinel(
            sentinels, sentinel_kwargs={"password": password, "socket_timeout": 1},
            password=password, socket_timeout=1, decode_responses=True,
        )  # fmt: skip

    def master(self) -> redis.Redis:
        return cast(redis.Redis, self.sentinel().master_for("mymaster", socket_timeout=1))

    def master_addr(self) -> str:
        host, port = self.sentinel().discover_master("mymaster")
        return f"{host}:{port}"

    def node(self, address: str) -> redis.Redis:
        """A client of one server or sentinel, as the admin user."""
        password = (self.data_dir / "redis-password").read_text().strip()
        host, _, port = address.rpartition(":")
        return redis.Redis(host=host, port=int(port), password=password, socket_timeout=2,
                           decode_responses=True)  # fmt: skip

    def restarts(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.of("restart") if e.get("kind") == kind]

    def started(self, kind: str) -> list[dict[str, Any]]:
        """Redis processes of ``kind`` started again."""
        return [e for e in self.of("redis_started") if e["kind"] == kind]

    def result_len(self) -> int:
        try:
            return int(self.master().xlen(KEYS.result_stream))
        except redis.RedisError:
            return -1


def worker_ready(port: int) -> float | None:
    """The worker's ``tradingstack_worker_ready`` gauge, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == READY:
            (sample,) = family.samples
            return float(sample.value)
    return None


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def replicating(node: redis.Redis) -> str | None:
    """``host:port`` of the master ``node`` replicates with its link up, else None."""
    info = node.info("replication")
    if info.get("role") != "slave" or info.get("master_link_status") != "up":
        return None
    return f"{info['master_host']}:{info['master_port']}"


def peers(sentinel: redis.Redis) -> int:
    return len(cast(list[Any], sentinel.sentinel_sentinels("mymaster")))


def replicas(sentinel: redis.Redis) -> int:
    return len(cast(list[Any], sentinel.sentinel_slaves("mymaster")))


def reaped(pid: int) -> bool:
    """Gone from the process table: exited and waited for (a zombie still shows)."""
    return not Path(f"/proc/{pid}").exists()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose; /proc tells.
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    stack = Up(tmp_path_factory.mktemp("up") / "data")
    try:
        wait_for(lambda: bool(stack.of("all_healthy")), 2 * DEADLINE, "all_healthy")
        yield stack
    finally:
        stack.stop()


def test_every_component_healthy_and_trading(up: Up) -> None:
    ports = up.ports()
    assert len(ports) == 9  # clusters, 2 gates, governor, intel, 2 x 2 bots
    assert {i: healthz(p) for i, p in ports.items()} == dict.fromkeys(ports, 200)
    first = up.result_len()
    wait_for(lambda: up.result_len() > max(first, 0) + 5, DEADLINE, "execution results growing")
    assert up.master().xlen(KEYS.proposal_stream) > 0
    entries = cast(list[tuple[str, dict[str, str]]], up.master().xrange(KEYS.result_stream))
    decisions = [fields["decision"] for _, fields in entries]
    assert decisions
    assert "ERROR" not in decisions
    wait_for(lambda: health(up)["processed_total"] > 0, DEADLINE, "intel processed_total > 0")


def test_every_worker_is_probed_ready_as_the_kubelet_would(up: Up) -> None:
    """``up`` runs each worker's readiness probe (/readyz) on its own period: every worker
    turns ready, status.json counts ready processes, and the worker's own
    tradingstack_worker_ready gauge, set by that probe, says 1."""
    ports = up.ports()
    wait_for(lambda: {e["instance"] for e in up.of("ready")} >= set(ports), DEADLINE,
             "a ready event for every worker")  # fmt: skip
    deployments = {i.rsplit("-", 1)[0] for i in ports}

    def all_ready() -> bool:
        status = up.status()
        return all(d in status and status[d]["ready"] == status[d]["desired"] for d in deployments)

    wait_for(all_ready, DEADLINE, "status.json: every worker ready")
    wait_for(lambda: bool(up.of("all_ready")), DEADLINE, "the all_ready event")
    first_ready: dict[str, float] = {}
    for event in up.of("ready"):
        first_ready.setdefault(event["instance"], event["ts"])
    assert up.of("all_ready")[0]["ts"] >= max(first_ready.values())
    assert {i: worker_ready(p) for i, p in ports.items()} == dict.fromkeys(ports, 1.0)


def health(up: Up) -> dict[str, Any]:
    """``tradingstack intel report e --json``, run against the current master."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    env["TS_REDIS_URL"] = f"redis://{up.master_addr()}/0"
    env["TS_REDIS_PASSWORD_FILE"] = str(up.data_dir / "redis-password")
    argv = [sys.executable, "-m", "tradingstack_workers.cli", "intel", "report", "e", "--json"]
    out = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def test_hung_worker_is_restarted_within_the_liveness_window(up: Up) -> None:
    victim = "paper-gate-1"
    pid = up.pids()[victim]
    wait_for(lambda: any(e["instance"] == victim for e in up.of("ready")), DEADLINE, "ready")
    os.kill(pid, signal.SIGSTOP)
    # startup done; liveness: period 10 s x failureThreshold 3, + one probe timeout
    wait_for(lambda: any(e["instance"] == victim for e in up.of("restart")), DEADLINE, "restart")
    (restart,) = [e for e in up.of("restart") if e["instance"] == victim]
    assert restart["reason"].startswith("liveness probe failed")
    # Readiness (period 5 s x failureThreshold 2) turned it unready before liveness
    # (10 s x 3) restarted it: a Service would have stopped sending to it first.
    unready = [e for e in up.of("unready") if e["instance"] == victim and e["pid"] == pid]
    assert unready, "no unready event before the restart"
    assert unready[-1]["failures"] == 2
    assert unready[-1]["ts"] <= restart["ts"]
    wait_for(lambda: up.pids()[victim] != pid, DEADLINE, "a new pid")
    assert not alive(pid)
    wait_for(lambda: healthz(up.ports()[victim]) == 200, DEADLINE, "healthz 200 again")


def test_stack_keeps_trading_after_the_master_is_killed(up: Up) -> None:
    (info,) = up.of("redis")
    index = info["servers"].index(up.master_addr())
    os.kill(info["pids"][index], signal.SIGKILL)
    wait_for(lambda: bool(up.of("redis_master")), DEADLINE, "sentinel failover")
    before = up.result_len()
    wait_for(lambda: up.result_len() > before + 5, DEADLINE, "results growing after failover")
    assert {i: healthz(p) for i, p in up.ports().items()} == dict.fromkeys(up.ports(), 200)
    # The old master is reaped, reported with why it exited, and comes back as a replica
    # of the master Sentinel elected: never as a second master beside it.
    wait_for(lambda: bool(up.restarts("redis")), DEADLINE, "a restart event")
    (restart,) = up.restarts("redis")
    assert restart["instance"] == f"paper-redis-{index}"
    assert (restart["pid"], restart["exit_code"]) == (info["pids"][index], -signal.SIGKILL)
    assert restart["last_lines"]
    assert reaped(info["pids"][index])
    wait_for(lambda: bool(up.started("redis")), DEADLINE, "the old master started again")
    assert up.started("redis")[0]["role"] == f"replica of {up.master_addr()}"
    new_master = up.master_addr()
    assert new_master != info["servers"][index]
    old = up.node(info["servers"][index])
    wait_for(lambda: replicating(old) == new_master, DEADLINE, "the old master a replica")
    wait_for(lambda: online_replicas(up.master()) == 2, DEADLINE, "two replicas online")
    assert up.master_addr() == new_master
    wait_for(lambda: up.status().get("paper-redis") == {"ready": 3, "desired": 3},
             DEADLINE, "status.json: three servers")  # fmt: skip


def test_a_killed_sentinel_is_reaped_reported_shown_and_restarted(up: Up) -> None:
    (info,) = up.of("redis")
    pid, address = info["pids"][len(info["servers"])], info["sentinels"][0]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: bool(up.restarts("sentinel")), DEADLINE, "a restart event")
    (restart,) = up.restarts("sentinel")
    assert restart["instance"] == "paper-redis-sentinel-0"
    assert (restart["pid"], restart["exit_code"]) == (pid, -signal.SIGKILL)
    assert restart["last_lines"]
    wait_for(lambda: reaped(pid), DEADLINE, "the killed sentinel reaped (no zombie)")
    wait_for(lambda: bool(up.started("sentinel")), DEADLINE, "the sentinel started again")
    (started,) = up.started("sentinel")
    assert started["pid"] != pid
    assert f"127.0.0.1:{started['port']}" == address
    restarted = up.node(address)
    master = up.master_addr()

    def rejoined() -> bool:
        named = cast(tuple[str, int], restarted.sentinel_get_master_addr_by_name("mymaster"))
        return f"{named[0]}:{named[1]}" == master and peers(restarted) == replicas(restarted) == 2

    wait_for(rejoined, DEADLINE, "the restarted sentinel sees the master, replicas and peers")
    restarted.execute_command("SENTINEL CKQUORUM", "mymaster")  # ResponseError: no quorum
    others = [up.node(address) for address in info["sentinels"][1:]]
    wait_for(lambda: all(peers(o) == 2 for o in others), DEADLINE,
             "the other sentinels see two peers each, not a stale third")  # fmt: skip
    wait_for(lambda: up.status().get("paper-redis-sentinel") == {"ready": 3, "desired": 3},
             DEADLINE, "status.json: three sentinels")  # fmt: skip


def test_a_second_up_on_the_same_data_dir_is_refused_and_changes_nothing(up: Up) -> None:
    published = (up.data_dir / "stack.json").read_text(encoding="utf-8")
    second = subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", "up", "examples/paper.yaml",
         "--no-tui", "--data-dir", str(up.data_dir)],
        cwd=ROOT, env={k: v for k, v in os.environ.items() if not k.startswith("TS_")},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert second.returncode == 1
    assert f"in use by another `tradingstack up` (pid {up.proc.pid})" in second.stderr
    assert second.stdout == ""  # no event: nothing was started
    assert (up.data_dir / "stack.json").read_text(encoding="utf-8") == published
    assert {i: healthz(p) for i, p in up.ports().items()} == dict.fromkeys(up.ports(), 200)


def test_a_closed_terminal_sighup_stops_every_child(up: Up) -> None:
    """SIGHUP takes the same stop path as SIGINT (test_readme's Ctrl-C) and SIGTERM
    (every UpProcess.stop): the children, in sessions of their own, never see a hangup."""
    children = [e["pid"] for e in [*up.of("started"), *up.of("redis_started")]]
    children += up.of("redis")[0]["pids"]
    up.proc.send_signal(signal.SIGHUP)
    assert up.proc.wait(timeout=60) == 0
    assert up.of("exit")
    assert [pid for pid in children if alive(pid)] == []
