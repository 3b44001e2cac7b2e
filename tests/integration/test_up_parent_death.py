"""``tradingstack up`` killed with SIGKILL: its children die with it, and a child that
outlives it still keeps a second ``up`` off the data dir (its node directories)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.harness.processes import DEADLINE, ROOT
from tests.harness.redis_procs import wait_for
from tests.harness.up_process import UpProcess

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "examples" / "paper.yaml"


def running(pid: int) -> bool:
    """In the process table and not a zombie (an orphan's zombie waits for PID 1)."""
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False


def second_up(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", "up", str(EXAMPLE), "--no-tui",
         "--data-dir", str(data_dir)],
        cwd=ROOT, env={k: v for k, v in os.environ.items() if not k.startswith("TS_")},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_killed_up_takes_its_children_and_a_survivor_holds_the_data_dir(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    up = UpProcess(EXAMPLE, data_dir)
    children: list[int] = []
    try:
        wait_for(lambda: bool(up.of("all_healthy")), 2 * DEADLINE, "all_healthy")
        (info,) = up.of("redis")
        children = [e["pid"] for e in up.of("started")] + info["pids"]
        # A stopped process holds its death signal until it is continued: the one child
        # that outlives ``up``, as one that hangs or ignores SIGTERM would.
        survivor = info["pids"][len(info["servers"])]  # a sentinel
        os.kill(survivor, signal.SIGSTOP)
        up.proc.kill()
        up.proc.wait(timeout=60)
        others = [pid for pid in children if pid != survivor]
        wait_for(lambda: not any(running(pid) for pid in others), DEADLINE,
                 "every other child of the killed up gone")  # fmt: skip

        refused = second_up(data_dir)
        assert refused.returncode == 1
        assert refused.stdout == ""  # no event: nothing was started
        (line,) = refused.stderr.splitlines()
        assert f"`tradingstack up` (pid {up.proc.pid}) that is gone" in line
        assert f"pids {survivor} (redis-sentinel" in line
        assert "kill PID" in line

        os.kill(survivor, signal.SIGCONT)  # its pending death signal (SIGTERM) ends it
        wait_for(lambda: not running(survivor), DEADLINE, "the survivor gone once continued")
        third = UpProcess(EXAMPLE, data_dir)
        try:
            wait_for(lambda: bool(third.of("redis")) or third.proc.poll() is not None,
                     2 * DEADLINE, "the next up starting Redis")  # fmt: skip
            assert third.of("redis"), "the next up did not start on the freed data dir"
            children += third.of("redis")[0]["pids"]
        finally:
            third.stop()
    finally:
        up.stop()
        for pid in children:  # only if the test failed: our own children, by PID
            if running(pid):
                os.kill(pid, signal.SIGKILL)
