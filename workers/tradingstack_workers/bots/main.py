"""``tradingstack worker bots``: one bot (strategy instance) as a process."""

from __future__ import annotations

import sys
import time

from ..runtime.loop import WorkerContext, run_worker
from ..runtime.main import EXIT_BAD_SETTINGS
from ..runtime.settings import SettingsError, load_settings
from .marketdata import FeedError
from .settings import BotSettings
from .worker import BotWorker


def main() -> int:
    try:
        settings = load_settings(BotSettings)
        feed = settings.initial_feed(time.time())
    except (SettingsError, FeedError) as exc:
        where = "TS_FEED: " if isinstance(exc, FeedError) else ""
        print(f"tradingstack bots: invalid settings: {where}{exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS

    def factory(ctx: WorkerContext[BotSettings]) -> BotWorker:
        return BotWorker(ctx, feed)

    return run_worker(factory, settings)


if __name__ == "__main__":
    sys.exit(main())
