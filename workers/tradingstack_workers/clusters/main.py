"""``tradingstack worker clusters``: validate the environment, then run the clusters loop."""

from __future__ import annotations

import sys

from ..runtime.main import main as run_main
from .settings import ClustersSettings
from .worker import ClustersWorker


def main() -> int:
    return run_main(ClustersSettings, ClustersWorker)


if __name__ == "__main__":
    sys.exit(main())
