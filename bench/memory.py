"""Resident memory of every worker kind at steady state, in a real local stack.

Runs ``tradingstack up examples/paper.yaml`` (Redis with Sentinel, every worker, the
bots trading on the paper exchange), waits for the stack to settle, then samples each
worker process's resident set (``VmRSS`` in ``/proc/PID/status``) for a while; a
kind's figure is the largest sample of any of its processes. Whether the process has
numpy loaded is read from its memory map (``/proc/PID/maps``): numpy only where used.

Baseline, same run: a bare process of the same interpreter holding the runtime every
worker shares (redis-py, prometheus-client, pydantic settings, the loop) and nothing
else. The target is absolute (issue #18: at most 80 MB each, ``limit_mb``); the ratio
says how much each kind adds to the shared floor.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness.up_process import UpProcess

from bench.common import emit, parser

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "examples" / "paper.yaml"
LIMIT_MB = 80.0
KINDS = ("bots", "clusters", "gate", "governor", "intel")
#: What every worker imports before its own code: the bare floor.
FLOOR_PROGRAM = (
    "import sys, tradingstack_workers.runtime.main, tradingstack_workers.runtime.loop; "
    "print('ready', flush=True); sys.stdin.read()"
)


def rss_mb(pid: int) -> float | None:
    """Resident set of ``pid`` in MB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def has_numpy(pid: int) -> bool:
    try:
        return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def floor_mb(settle: float) -> float:
    """RSS of the bare runtime process, sampled like the workers'."""
    proc = subprocess.Popen(
        [sys.executable, "-c", FLOOR_PROGRAM],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(settle)
        return rss_mb(proc.pid) or 0.0
    finally:
        proc.kill()
        proc.wait(timeout=10)


def wait_started(up: UpProcess, deadline: float) -> dict[str, list[int]]:
    """PIDs of each kind once every kind has a process (the latest start wins)."""
    while time.monotonic() < deadline:
        if up.proc.poll() is not None:
            raise SystemExit(f"tradingstack up exited with {up.proc.returncode}")
        started = {e["instance"]: e for e in up.of("started")}
        if up.of("all_healthy") and {e["kind"] for e in started.values()} >= set(KINDS):
            pids: dict[str, list[int]] = {}
            for event in started.values():
                pids.setdefault(event["kind"], []).append(int(event["pid"]))
            return pids
        time.sleep(0.2)
    raise SystemExit("the stack did not become healthy in time")


def peak_rss(pids: dict[str, list[int]], window: float) -> dict[str, float]:
    """Per kind, the largest resident set (MB) of its processes sampled over ``window``."""
    peak: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    ends = time.monotonic() + window
    while time.monotonic() < ends:
        for kind, group in pids.items():
            for pid in group:
                peak[kind] = max(peak.get(kind, 0.0), rss_mb(pid) or 0.0)
        time.sleep(0.5)
    return peak


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    settle, window = (3.0, 3.0) if args.quick else (30.0, 30.0)
    with tempfile.TemporaryDirectory() as tmp:
        up = UpProcess(MANIFEST, Path(tmp) / "data")
        try:
            pids = wait_started(up, time.monotonic() + 180)
            time.sleep(settle)
            peak = peak_rss(pids, window)
            numpy = {kind: any(has_numpy(pid) for pid in group) for kind, group in pids.items()}
        finally:
            up.stop()
    floor = floor_mb(settle=1.0)
    for kind in KINDS:
        emit(
            "memory",
            f"{kind} worker, steady-state RSS",
            unit="MB",
            value=peak[kind],
            baseline_case="bare runtime process (redis-py, prometheus-client, the loop)",
            baseline_value=floor,
            limit_mb=LIMIT_MB,
            within_limit=peak[kind] <= LIMIT_MB,
            processes=len(pids.get(kind, [])),
            numpy_loaded=numpy.get(kind, False),
            settle_seconds=settle,
            window_seconds=window,
        )


if __name__ == "__main__":
    main()
