"""``tradingstack worker intel``: P3.5 decision intelligence (and P3.5.1 alerts) as a process."""

from __future__ import annotations

import sys

from ..runtime.main import main as run
from .settings import IntelSettings
from .worker import IntelWorker


def main() -> int:
    return run(IntelSettings, IntelWorker)


if __name__ == "__main__":
    sys.exit(main())
