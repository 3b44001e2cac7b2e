"""Worker processes for integration tests: started with an explicit environment, stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import redis

from tests.harness.redis_procs import wait_for

ROOT = Path(__file__).resolve().parents[2]

#: The deadline of a wait for something a worker must do (start, answer, take over, drain).
#: Generous on purpose: on a loaded two-core machine a process start alone takes seconds,
#: and a deadline that is not reached costs nothing.
DEADLINE = 60.0


class WorkerProcess:
    """A worker subprocess whose JSON log lines are collected as they arrive."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
        full_env.update(env)
        full_env.setdefault("PYTHONPATH", str(ROOT))
        self.proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.errors: list[str] = []
        self._reader = threading.Thread(target=self._read, args=[self.proc.stdout], daemon=True)
        self._reader.start()
        # stderr is drained as it comes too: a pipe read only at exit fills at 64 KiB (a
        # worker's repeated tracebacks) and blocks the worker's next write.
        self._drainer = threading.Thread(target=self._drain, args=[self.proc.stderr], daemon=True)
        self._drainer.start()

    def stderr(self, timeout: float = DEADLINE) -> str:
        """All the process wrote to stderr: waits for it to exit and the pipe to close."""
        self.proc.wait(timeout)
        self._drainer.join(timeout)
        return "".join(self.errors)

    def _drain(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in stream:
            self.errors.append(raw.decode(errors="replace"))

    def _read(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in stream:
            text = raw.decode(errors="replace").rstrip("\n")
            self.raw.append(text)
            try:
                self.lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue

    def wait_log(self, msg: str, timeout: float = DEADLINE) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.get("msg") == msg:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        stderr = self.stderr() if self.proc.poll() is not None else ""
        raise AssertionError(
            f"no log line {msg!r}; stdout={self.raw[-20:]} stderr={stderr[-2000:]}"
        )

    def http_port(self) -> int:
        return int(self.wait_log("started")["http_port"])

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.http_port()}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.http_port()}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def worker_env(redis_url: str, password: str | None, **extra: str) -> dict[str, str]:
    """What every worker needs in a test: Redis, an ephemeral HTTP port, a fast heartbeat."""
    env = {
        "TS_REDIS_URL": redis_url,
        "TS_HTTP_HOST": "127.0.0.1",
        "TS_HTTP_PORT": "0",
        "TS_HEARTBEAT_INTERVAL_SECONDS": "0.5",
        "TS_REDIS_SOCKET_TIMEOUT_SECONDS": "0.5",
        **extra,
    }
    if password is not None:
        env["TS_REDIS_PASSWORD"] = password
    return env


def stream_worker_env(
    redis_url: str, password: str | None, name: str, **extra: str
) -> dict[str, str]:
    """A stream worker that reclaims a dead consumer's entries within a second."""
    return worker_env(
        redis_url,
        password,
        **{
            "TS_HEARTBEAT_INTERVAL_SECONDS": "2",
            "TS_REDIS_SOCKET_TIMEOUT_SECONDS": "1",
            "TS_STREAM_BLOCK_MS": "200",
            "TS_STREAM_CLAIM_IDLE_MS": "1000",
            "TS_STREAM_MAX_DELIVERIES": "3",
            "TS_INSTANCE": name,
            **extra,
        },
    )


def start_worker(kind: str, env: dict[str, str], *, held: bool = False) -> WorkerProcess:
    """``tradingstack worker <kind>``, exactly as a pod runs it.

    ``held``: through :mod:`tests.harness.held_worker`, so the test can make it hold a batch.
    """
    module = "tests.harness.held_worker" if held else "tradingstack_workers.cli"
    return WorkerProcess([sys.executable, "-m", module, "worker", kind], env)


def sample_worker(env: dict[str, str]) -> WorkerProcess:
    return WorkerProcess([sys.executable, "-m", "tests.harness.sample_worker"], env)


def pending_count(client: redis.Redis, stream: str, group: str, consumer: str) -> int:
    """Entries a consumer has read but not acknowledged."""
    return len(client.xpending_range(stream, group, "-", "+", 100_000, consumer))


def drained(client: redis.Redis, stream: str, group: str) -> bool:
    """Every entry of ``stream`` delivered to ``group`` and acknowledged: from here on, no
    consumer of the group handles anything more (until new entries arrive)."""
    last = client.xinfo_stream(stream)["last-generated-id"]
    for info in client.xinfo_groups(stream):
        if info["name"] == group:
            return bool(info["pending"] == 0 and info["last-delivered-id"] == last)
    return False


def stop_all(processes: list[WorkerProcess]) -> None:
    """Stop every process by PID, resuming any a test left paused (SIGSTOP) first."""
    for process in processes:
        if process.proc.poll() is None:
            os.kill(process.proc.pid, signal.SIGCONT)
        process.stop()


def start_ready(processes: list[WorkerProcess], kind: str, env: dict[str, str]) -> WorkerProcess:
    """``tradingstack worker <kind>`` added to ``processes``, once its /readyz answers 200."""
    process = start_worker(kind, env)
    processes.append(process)
    try:
        wait_for(lambda: process.get("/readyz")[0] == 200, DEADLINE, f"{kind} ready")
    except TimeoutError:
        raise AssertionError(f"{kind} not ready: {process.raw[-20:]}") from None
    return process
