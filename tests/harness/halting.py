"""A bot that holds a position and keeps signalling: what a kill switch test watches.

The bot (breakout_momentum on a CSV replay, see :mod:`tests.harness.bot_bars`) starts
long one position, seeded through the chokepoint before it runs. Its replay then signals
BUY on bar 10 (already long: nothing to do), EXIT on bar 15 (the exit) and BUY again on
bar 30 (a new entry), so a halt set before bar 10 must show: the exit filled, the entry
skipped with reason ``halted``, no new position. A gate runs beside it (entries wait for
permits). Both are real worker processes on whatever Redis ``redis_env`` reaches.

The checks are plain functions of Redis, so async tests can poll them without blocking.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import redis

from tests.harness.bot_bars import (
    BUY_AT,
    EXIT_AT,
    PERIOD,
    breakout_bot_env,
    feed_doc,
    write_csv,
)
from tests.harness.processes import WorkerProcess, start_worker
from tests.harness.redis_procs import SentinelCluster
from tradingstack_workers.bots.execution import OrderIntent, PaperConfig, PaperExchange, Protections
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy

SYMBOL = "BTCUSDT"
BOT = "brk"
BAR_SECONDS = 0.5
SEED_QTY = 1.0


class HaltScenario:
    """Start with :meth:`start`; :meth:`outcome` reads what the bot did since."""

    def __init__(self, client: redis.Redis, redis_env: dict[str, str], tmp_path: Path, *,
                 account: str = "halt-1", prefix: str = "quantum") -> None:  # fmt: skip
        self.client = client
        self.redis_env = redis_env
        self.tmp_path = tmp_path
        self.account = account
        self.keys = Keys(prefix)
        self.processes: list[WorkerProcess] = []
        self.feed: dict[str, object] = {}

    @classmethod
    def on_sentinels(cls, client: redis.Redis, cluster: SentinelCluster, tmp_path: Path
                     ) -> HaltScenario:  # fmt: skip
        """Workers that reach ``cluster`` through its sentinels (and follow a failover);
        ``client`` reads and seeds the master."""
        env = {
            "TS_REDIS_SENTINELS": cluster.sentinel_addresses,
            "TS_REDIS_PASSWORD": cluster.password or "",
            "TS_REDIS_SOCKET_TIMEOUT_SECONDS": "1",
        }
        return cls(client, env, tmp_path)

    def bar_ts(self, index: int) -> float:
        """When bar ``index`` closes on the wall clock (the replay's time, the bot's cursor)."""
        start = self.feed["start_ts"]
        assert isinstance(start, float)
        return start + index * BAR_SECONDS

    def start(self, first_buy_in: float = 6.0) -> None:
        """Seed the long position, persist the cursor before the first bar, start the workers."""
        exchange = PaperExchange(
            self.client, RetryPolicy(budget_seconds=5.0), self.keys, self.account,
            config=PaperConfig(), protections=Protections(),
        )  # fmt: skip
        exchange.open()
        seed = OrderIntent(self.account, BOT, "seed", SYMBOL, "BUY", SEED_QTY)
        assert exchange.submit(seed, 0, 100.0, time.time()).label == "filled"
        path = write_csv(self.tmp_path / "bars.csv", SYMBOL, 2)
        self.feed = feed_doc(path, time.time() + first_buy_in - BUY_AT * BAR_SECONDS, BAR_SECONDS)
        self.client.set(self.keys.bot_cursor(self.account, BOT), repr(self.bar_ts(-1)))
        common = {**self.redis_env, "TS_KEY_PREFIX": self.keys.prefix, "TS_HTTP_HOST": "127.0.0.1",
                  "TS_HTTP_PORT": "0", "TS_HEARTBEAT_INTERVAL_SECONDS": "5"}  # fmt: skip
        self.processes.append(
            start_worker(
                "gate", {**common, "TS_STREAM_BLOCK_MS": "200", "TS_SNAPSHOT_RESCAN_SECONDS": "0"}
            )
        )
        bot = breakout_bot_env(self.feed, bot=BOT, account=self.account, symbol=SYMBOL)
        self.processes.append(start_worker("bots", {**common, **bot}))

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def results(self) -> list[dict[str, str]]:
        entries = cast(
            "list[tuple[str, dict[str, str]]]", self.client.xrange(self.keys.result_stream)
        )
        return [fields for _, fields in entries]

    def fills(self) -> list[dict[str, str]]:
        entries = cast(
            "list[tuple[str, dict[str, str]]]", self.client.xrange(self.keys.fills(self.account))
        )
        return [fields for _, fields in entries]

    def bar_done(self, index: int) -> bool:
        """The bot's leader has acted on bar ``index`` (its cursor passed it)."""
        cursor = self.client.get(self.keys.bot_cursor(self.account, BOT))
        return cursor is not None and float(str(cursor)) >= self.bar_ts(index)

    def halted_entry_seen(self) -> bool:
        """The exit (bar 15) and the next entry (bar 30) have both been decided."""
        return self.bar_done(PERIOD + BUY_AT)

    def check_halted_outcome(self) -> None:
        """Halted before bar 10: the exit filled, the entry was skipped, nothing opened."""
        decided = [(r["decision"], r["reason"]) for r in self.results()]
        assert decided == [("EXECUTE", "filled"), ("SKIP", "halted")], decided
        sides = [f["side"] for f in self.fills()]
        assert sides == ["BUY", "SELL"], sides  # the seed, then the exit; no new entry
        assert self.client.hgetall(self.keys.positions(self.account)) == {}
        assert EXIT_AT < PERIOD + BUY_AT  # the order the replay's bars come in

    def alive(self) -> bool:
        return all(p.proc.poll() is None for p in self.processes)
