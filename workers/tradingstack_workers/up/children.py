"""Worker processes we started: each in its own session, bound to ``up`` (:mod:`.spawn`),
signalled by PID only."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import IO

from .plan import LocalProcess
from .spawn import Tether, popen
from .supervise import ChildView, Readiness, is_ready


def http_ok(port: int, path: str, timeout: float) -> bool:
    """One httpGet probe: 200..399 within ``timeout`` is success, as for the kubelet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return 200 <= int(resp.status) < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Questions:
    """At most one background question out per process (by a key of the caller's), and
    its answer dropped when the process asked about has since been replaced (its PID)."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._out: dict[object, tuple[int | None, Future[bool]]] = {}

    def answer(self, key: object, pid: int | None) -> bool | None:
        """The answer about ``pid``, once it came (then the key may be asked again);
        None while the question is out, or when it was about another process."""
        out = self._out.get(key)
        if out is None or not out[1].done():
            return None
        del self._out[key]
        return out[1].result() if out[0] == pid else None

    def out(self, key: object) -> bool:
        return key in self._out

    def ask(
        self, key: object, pid: int | None, question: Callable[..., bool], *args: object
    ) -> None:
        """Send ``question(*args)`` about the process ``pid``."""
        self._out[key] = (pid, self._pool.submit(question, *args))


class Child:
    """One replica of a worker Deployment; its output goes to ``<log_dir>/<instance>.log``."""

    def __init__(self, spec: LocalProcess, log_dir: Path, tether: Tether | None = None) -> None:
        self.spec = spec
        self.tether = tether
        self.log_path = log_dir / f"{spec.instance}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.view = ChildView(False, 0.0, False, 0, None, 0)
        self.readiness = Readiness()
        self.restarts = 0
        self.start_at: float | None = None  # when a pending restart may happen
        self._log: IO[bytes] | None = None
        self.log_start = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        """Alive, started, and ready by its readiness probe (:func:`.supervise.is_ready`)."""
        return self.alive() and is_ready(self.view, self.readiness, self.spec.readiness)

    def start(self, now: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
        env.update(self.spec.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.log_start = self._log.tell()  # the log is kept across runs: where this one begins
        self.proc = popen(self.spec.argv, self.tether, stdout=self._log, env=env,
                          stdin=subprocess.DEVNULL)  # fmt: skip
        self.view = ChildView(True, now, False, 0, None, self.view.streak)
        self.readiness = Readiness()

    def kill(self) -> None:
        """SIGKILL by PID and reap (a stopped or hung process ignores SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.reap(10.0)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)

    def exit_code(self) -> int | None:
        """The code it exited with by itself; None while it runs (or never ran)."""
        return None if self.proc is None else self.proc.poll()

    def reap(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the process to exit; True when it has."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        if self._log is not None:
            self._log.close()
            self._log = None
        return True
