"""``tradingstack worker governor``: the P2.8 portfolio risk governor process."""

from __future__ import annotations

import sys

from ..runtime.main import main as run_main
from .inject import routes
from .settings import GovernorSettings
from .worker import GovernorWorker


def main() -> int:
    return run_main(GovernorSettings, GovernorWorker, routes=routes)


if __name__ == "__main__":
    sys.exit(main())
