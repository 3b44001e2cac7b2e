"""A small real worker for the runtime tests: ``python -m tests.harness.sample_worker``.

Each step counts ``begun``, works for ``TS_STEP_SECONDS``, then counts ``done``,
both through the exactly-once writer. While the key ``<prefix>:sample:hold`` exists, a
begun step waits before it works: a test holds the worker mid-step on a condition of its
own. SIGUSR1 makes the next step block forever: a deliberately stuck loop for the
liveness test.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType

from pydantic import Field

from tradingstack_workers.runtime.loop import Worker, WorkerContext
from tradingstack_workers.runtime.main import main
from tradingstack_workers.runtime.settings import RuntimeSettings

STUCK = threading.Event()


class SampleSettings(RuntimeSettings):
    kind = "sample"
    step_seconds: float = Field(default=0.05, ge=0)


class SampleWorker(Worker[SampleSettings]):
    def __init__(self, ctx: WorkerContext[SampleSettings]) -> None:
        super().__init__(ctx)
        self.steps = 0

    def counter(self, name: str) -> str:
        return f"{self.ctx.keys.prefix}:sample:{name}"

    def step(self) -> None:
        while STUCK.is_set():
            time.sleep(3600)  # never returns: the heartbeat goes stale
        self.steps += 1
        op = f"{self.ctx.settings.instance}:{self.steps}"
        self.ctx.once.apply(f"{op}:begun", [["INCR", self.counter("begun")]])
        while self.ctx.redis.exists(self.counter("hold")):
            time.sleep(0.01)  # held by the test: the step is in progress
        time.sleep(self.ctx.settings.step_seconds)  # not interruptible: a step finishes
        self.ctx.once.apply(f"{op}:done", [["INCR", self.counter("done")]])


def _stick(_signum: int, _frame: FrameType | None) -> None:
    STUCK.set()


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _stick)
    sys.exit(main(SampleSettings, SampleWorker))
