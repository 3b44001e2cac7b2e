"""Clients inside the pod network: a worker writing through Sentinel, the operator's probe,
the operator's password rollover step.

Each is a Python process of this checkout started inside a network namespace of the
pod network (``ip netns exec``), so they resolve the pods' FQDNs and are cut off with
them. Their output files (the step's answers: its stdout) are read back by the tests; they
are stopped by PID.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.kubelet import kill_group
from tests.harness.podnet import PodNetwork
from tests.harness.redis_set import RedisSet, wait_until
from tradingstack_operator.reconcile.rollover import Rollover
from tradingstack_operator.render import names, render
from tradingstack_operator.render.env import WORKER_USER
from tradingstack_workers.runtime.settings import RuntimeSettings, env_name

ROOT = Path(__file__).resolve().parents[2]


def worker_env(redis_set: RedisSet, password_file: Path, **overrides: str) -> dict[str, str]:
    """The Redis part of a rendered worker's environment (the gate's), as its pod has it."""
    gate = next(
        m for m in render(redis_set.stack)
        if m["kind"] == "Deployment" and m["metadata"]["name"].endswith("-gate")
    )  # fmt: skip
    runtime = {env_name(f) for f in RuntimeSettings.model_fields}
    env = {
        e["name"]: e["value"]
        for e in gate["spec"]["template"]["spec"]["containers"][0]["env"]
        if "value" in e and e["name"] in runtime
    }
    env |= {env_name("instance"): "ack-writer", env_name("redis_password_file"): str(password_file)}
    if redis_set.tls_ca is not None:
        env[env_name("redis_tls_ca_file")] = str(redis_set.tls_ca)
    return env | overrides


class NamespacedPython:
    """``python -m MODULE ARGS`` inside a namespace of the pod network (``net`` None: here)."""

    def __init__(
        self, net: PodNetwork | None, host: str, module: str, *, args: list[str],
        env: dict[str, str], log: Path, pipes: bool = False,
    ) -> None:  # fmt: skip
        """``pipes``: stdin and stdout are pipes to this process (stderr goes to ``log``)."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
        full_env |= env | {"PYTHONPATH": str(ROOT)}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*(net.exec_prefix(host) if net else []), sys.executable, "-m", module, *args],
                cwd=ROOT,
                env=full_env,
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else out,
                stderr=out if pipes else subprocess.STDOUT,
                start_new_session=True,
            )
        self.log = log

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(self.proc)
                self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        """The end of the process's log, for a failure's message."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass(frozen=True)
class Outcome:
    kind: str  # ack or fail
    n: int
    t: float
    reason: str = ""


class AckWriter(NamespacedPython):
    """tests.harness.ack_writer in the namespace ``host``, writing set ``key``."""

    def __init__(self, net: PodNetwork | None, host: str, env: dict[str, str], *, out: Path,
                 key: str, pause: float = 0.005) -> None:  # fmt: skip
        self.out = out
        self.key = key
        super().__init__(net, host, "tests.harness.ack_writer",
                         args=["--out", str(out), "--key", key, "--pause", str(pause)], env=env,
                         log=out.with_suffix(".log"))  # fmt: skip

    def outcomes(self) -> list[Outcome]:
        if not self.out.exists():
            return []
        found = []
        for line in self.out.read_text(encoding="utf-8").splitlines():
            kind, n, t, *rest = line.split(" ", 3)
            if kind in ("ack", "fail") and len(t) > 1:
                found.append(Outcome(kind, int(n), float(t), rest[0] if rest else ""))
        return found

    def acked(self) -> list[int]:
        return [o.n for o in self.outcomes() if o.kind == "ack"]

    def acks_after(self, moment: float) -> list[Outcome]:
        return [o for o in self.outcomes() if o.kind == "ack" and o.t > moment]

    def longest_gap(self, since: float) -> float:
        """The longest time without an acknowledgement after ``since``: the outage."""
        times = [since, *(o.t for o in self.acks_after(since))]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def wait_acks(self, count: int, timeout: float, after: float = 0.0) -> None:
        wait_until(lambda: len(self.acks_after(after)) >= count or not self.alive(), timeout,
                   f"{count} acknowledged writes")  # fmt: skip
        if not self.alive():
            raise AssertionError(f"the writer exited: {self.tail(2000)}")


class Prober(NamespacedPython):
    """tests.harness.redis_probe: the operator's probe, looping in the namespace ``host``."""

    def __init__(self, net: PodNetwork, host: str, redis_set: RedisSet, folder: Path) -> None:
        self.out = folder / "probe.jsonl"
        password = redis_set.secret_file(
            folder, names.redis_auth(redis_set.stack.name), redis_set.stack.spec.redis.auth.key
        )
        hosts = [redis_set.fqdn(i) for i in range(redis_set.replicas)]
        quorum = str(redis_set.stack.spec.redis.sentinel.quorum)
        tls = [] if redis_set.tls_ca is None else ["--tls-ca-file", str(redis_set.tls_ca)]
        super().__init__(net, host, "tests.harness.redis_probe",
                         args=["--out", str(self.out), "--password-file", str(password),
                               "--quorum", quorum, "--every", "0.3", *tls, *hosts],
                         env={}, log=folder / "probe.log")  # fmt: skip

    def views(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]


def writer_env(redis_set: RedisSet, folder: Path, **overrides: str) -> dict[str, str]:
    """A worker's environment with the worker user's password mounted under ``folder``."""
    password = redis_set.secret_file(folder, names.redis_users(redis_set.stack.name), WORKER_USER)
    return worker_env(redis_set, password, **overrides)


class RolloverStep(NamespacedPython):
    """tests.harness.rollover_step: the operator's rollover step, called from ``host``.

    It reads the stack's Secrets through the API server of ``kubeconfig`` and logs in to
    the pods by their FQDNs, as the operator's pod does.
    """

    def __init__(self, net: PodNetwork, host: str, redis_set: RedisSet, kubeconfig: Path,
                 folder: Path) -> None:  # fmt: skip
        stack = redis_set.stack
        spec = stack.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(net, host, "tests.harness.rollover_step",
                         args=["--kubeconfig", str(kubeconfig), "--name", stack.name,
                               "--namespace", stack.namespace, "--spec", json.dumps(spec),
                               "--cluster-domain", stack.options.cluster_domain],
                         env={}, log=folder / "rollover-step.log", pipes=True)  # fmt: skip

    def __call__(
        self, children: Sequence[Mapping[str, Any]], timeout: float = 120.0
    ) -> tuple[str | None, Rollover | None]:
        """One run of the step over ``children``: the checksum and where the rollover stands."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(list(children)) + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while not select.select([self.proc.stdout], [], [], 1.0)[0]:
            if not self.alive() or time.monotonic() > deadline:
                raise AssertionError(f"the rollover step did not answer: {self.tail()}")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the rollover step exited: {self.tail()}")
        answer = json.loads(line)
        found = answer["rollover"]
        rollover = None if found is None else Rollover(**found | {
            "unreachable": tuple(found["unreachable"])})  # fmt: skip
        return answer["checksum"], rollover
