"""``tradingstack worker gate``: the P2.6 portfolio gate as a process."""

from __future__ import annotations

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
    # of milliseconds (the p99 of bench/gate_throughput).
    return run(GateSettings, GateWorker, gc_thresholds=GC_THRESHOLDS)


if __name__ == "__main__":
    sys.exit(main())
