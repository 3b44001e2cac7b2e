"""The data dir's lock as ``up``'s children hold it: real processes, no stack."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests.harness.redis_set import wait_until

from tradingstack_workers.up import registry
from tradingstack_workers.up.spawn import Tether, popen

pytestmark = pytest.mark.integration

#: Runs until its stdin closes: the test ends it without a signal or a sleep.
UNTIL_STDIN_CLOSES = [sys.executable, "-c", "import sys; sys.stdin.read()"]


def test_a_child_that_outlives_up_keeps_the_data_dir_until_it_exits(tmp_path: Path) -> None:
    with registry.exclusive(tmp_path) as lock_fd:
        child = popen(UNTIL_STDIN_CLOSES, Tether(lock_fd), stdout=subprocess.DEVNULL,
                      stdin=subprocess.PIPE)  # fmt: skip
    try:
        # This "up" has let go of the lock; its child has not. The child shows its own
        # command line once setpriv has exec'd it (under load, only some time after popen).
        program = f"{Path(sys.executable).name} -c import sys; sys.stdin.read()"
        wait_until(
            lambda: registry.lock_holders(tmp_path / registry.LOCK_FILE) == {child.pid: program},
            timeout=60,
            what="the child, and only it, holding the lock under its own command line",
        )
        with pytest.raises(registry.DataDirInUse) as refused, registry.exclusive(tmp_path):
            pass
        message = str(refused.value)
        assert "\n" not in message
        assert f"pids {child.pid} ({Path(sys.executable).name} -c" in message
        assert "that is gone" in message
        assert "kill PID" in message
    finally:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(timeout=60) == 0
    with registry.exclusive(tmp_path):
        pass  # free once the last holder exited


def test_a_tethered_child_is_refused_from_another_thread(tmp_path: Path) -> None:
    """The death signal follows the thread that forked: a short-lived thread would kill
    the child when it ends, so popen refuses rather than start it."""
    errors: list[BaseException] = []

    def spawn() -> None:
        try:
            popen(UNTIL_STDIN_CLOSES, Tether(0), stdout=subprocess.DEVNULL)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join(timeout=60)
    assert [str(e) for e in errors] == ["a tethered child must be started from the main thread"]
