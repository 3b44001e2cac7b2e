"""How ``up`` starts a child: bound to ``up``'s life, and holding the data dir while it runs.

Why: a child runs in a session of its own (a terminal's Ctrl-C reaches ``up`` only, which
stops everything in order), so nothing else ends it when ``up`` dies. Killed by SIGKILL
or the OOM killer, ``up`` would leave its Redis and workers trading on as orphans of
PID 1, and a second ``up`` would start another Redis on the same node directories.

- Every child gets SIGTERM when ``up`` dies: Linux's parent-death signal, set by
  ``setpriv --pdeathsig`` (util-linux) just before it execs the child, so no Python runs
  between fork and exec (``preexec_fn`` is unsafe while ``up``'s probe threads run). The
  signal follows the *thread* that forked: spawn only from ``up``'s main thread.
- Every child inherits the data dir's lock (:func:`.registry.exclusive`): the lock is
  free only when ``up`` and every child have exited, so a child that outlives ``up``
  (stopped, or ignoring SIGTERM) still keeps a second ``up`` out.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any


@dataclass(frozen=True)
class Tether:
    """``lock_fd``: the data dir's lock, held by ``up`` (see :func:`.registry.exclusive`)."""

    lock_fd: int
    signal_name: str = "TERM"

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run through setpriv, which sets the parent-death signal and execs it."""
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError(
                "setpriv (util-linux) is not installed: `apt-get install util-linux`"
            )
        return [setpriv, f"--pdeathsig={self.signal_name}", "--", *argv]


def popen(
    argv: Sequence[str],
    tether: Tether | None,
    *,
    stdout: IO[bytes] | int,
    **kwargs: Any,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own, bound by ``tether`` when one is given.

    Raises RuntimeError when called with a tether from a thread other than the main one
    (the death signal would fire when that thread ends, not when ``up`` does).
    """
    command = list(argv)
    held: tuple[int, ...] = ()  # the fds the child keeps open
    if tether is not None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("a tethered child must be started from the main thread")
        command, held = tether.wrap(argv), (tether.lock_fd,)
    return subprocess.Popen(
        command,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=held,
        **kwargs,
    )
