"""``tradingstack worker gate``: the P2.6 portfolio gate as a process."""

from __future__ import annotations

import gc
import sys

from ..runtime.main import main as run
from .settings import GateSettings
from .worker import GateWorker

#: The cyclic collector's thresholds in a gate process (CPython's are 700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 10)


def main() -> int:
    # A batch allocates thousands of short-lived containers, and the parsed reservations
    # are long-lived: with the default thresholds a young collection ran every few
    # proposals and a full one, walking every parsed reservation, stalled a batch by tens
    # of milliseconds (the p99 of bench/gate_throughput). What is imported before the
    # loop is frozen out of every collection.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return run(GateSettings, GateWorker)


if __name__ == "__main__":
    sys.exit(main())
