"""``tradingstack worker gate``: the P2.6 portfolio gate as a process."""

from __future__ import annotations

import sys

from ..runtime.main import main as run
from .settings import GateSettings
from .worker import GateWorker


def main() -> int:
    return run(GateSettings, GateWorker)


if __name__ == "__main__":
    sys.exit(main())
