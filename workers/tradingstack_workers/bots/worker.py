"""The bot worker: one cycle of market data, leadership, signals, orders and ledger.

Each cycle: renew (or try to take) the account's lease; advance the market; as
standby stop there (metrics only, ``is_leader`` 0); as leader act on each signal
through :class:`.trader.Trader`, publish the ledger (snapshots, portfolio and market
state) and persist the cursor of the last bar acted on. On a change of epoch the new
leader first rewinds to that cursor, so the bars its predecessor had not acted on are
acted on now (deterministic ids make any it had acted on duplicates).
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import TYPE_CHECKING

import redis

from ..runtime.leadership import leadership
from ..runtime.loop import Worker, WorkerContext, pause
from ..wire import BadEntry, check_epoch_seconds
from ..wire.fields import ascii_float
from .execution import Execution, Ledger, LedgerWrite, PaperConfig, PaperExchange, Protections
from .flow import is_halted
from .market import Market
from .marketdata import ExchangeSpec, Feed
from .metrics import BotMetrics
from .settings import BotSettings
from .strategies import build
from .trader import Trader

if TYPE_CHECKING:
    from .execution.key_permissions import KeyWatch
    from .execution.live import LiveExchange
    from .execution.poller import AccountPoller
    from .execution.venue import VenueCalls

log = logging.getLogger(__name__)


class BotWorker(Worker[BotSettings]):
    """One bot; ``feed`` an :class:`ExchangeSpec` means the exchange's candles (``TS_FEED``
    kind exchange), read through the bot's exchange client."""

    def __init__(self, ctx: WorkerContext[BotSettings], feed: Feed | ExchangeSpec) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.cycle_seconds = s.cycle_seconds
        self.metrics = BotMetrics.create(ctx.registry)
        venue = s.venue
        self.calls: VenueCalls | None = None
        if venue is not None:
            # The exchange's modules import ccxt: only a bot with an exchange loads it, and
            # with that one exchange (issue #18). First, before anything imports ccxt.
            from .execution.lean_ccxt import exchange_class  # noqa: PLC0415

            exchange_class(venue.id)
            from .execution.venue import VenueCalls, VenueMetrics, connect  # noqa: PLC0415 - ccxt

            metrics = VenueMetrics.create(ctx.registry)
            self.calls = VenueCalls(connect(venue, s.credentials), metrics, self._pause)
        if isinstance(feed, ExchangeSpec):
            from .marketdata.exchange_feed import ExchangeFeed  # noqa: PLC0415 - ccxt

            # Narrowing only: BotSettings refuses kind exchange without TS_EXCHANGE.
            assert venue is not None
            assert self.calls is not None
            feed = ExchangeFeed(self.calls, feed.symbols, venue.market_type, feed.interval_s)
        self.market = Market(feed, build(s.strategy, s.params), keep=s.history_bars)
        protections = Protections(
            max_open_positions=s.max_open_positions,
            max_order_notional_usd=s.max_order_notional_usd,
            max_orders_per_minute=s.max_orders_per_minute,
        )
        self.poller: AccountPoller | None = None
        self.live: LiveExchange | None = None
        self.exchange: Execution
        if s.mode == "live" and venue is not None and self.calls is not None:
            from .execution.live import LiveExchange  # noqa: PLC0415 - ccxt
            from .execution.poller import AccountPoller, PollerMetrics  # noqa: PLC0415 - ccxt

            live = LiveExchange(
                ctx.redis,
                ctx.retry,
                ctx.keys,
                s.account,
                calls=self.calls,
                config=venue,
                symbols=tuple(s.symbols),
                protections=protections,
                wait=self._pause,
                monotonic=time.monotonic,
            )
            self.exchange = self.live = live
            self.poller = AccountPoller(
                ctx.redis, ctx.retry, ctx.keys, live, PollerMetrics.create(ctx.registry)
            )
            self._poll_every = venue.poll_seconds
        else:
            self.exchange = PaperExchange(
                ctx.redis,
                ctx.retry,
                ctx.keys,
                s.account,
                config=PaperConfig(
                    s.fee_bps,
                    s.slippage_bps,
                    s.initial_cash_usd,
                    max_leverage=s.max_leverage,
                    order_ttl_seconds=s.order_ttl_seconds,
                ),
                protections=protections,
                replicas=s.write_replicas,
                replica_timeout_ms=s.redis_write_replica_timeout_ms,
            )
        self._polled_at: float | None = None
        #: Reads a live key's permissions again while trading (set once they were read).
        self.key_watch: KeyWatch | None = None
        self.ledger = Ledger(ctx.redis, ctx.retry, ctx.keys, self.exchange)
        self.leadership = leadership(s, ctx.redis, ctx.keys.bot_leadership(s.account))
        self.trader = Trader(ctx, self.exchange, self.leadership, self.metrics)
        self._cursor_key = ctx.keys.bot_cursor(s.account, s.bot_name)
        self._epoch: int | None = None
        self._completed = True

    def warm_up(self) -> None:
        self.exchange.open()
        if self.live is not None and self.live.key is not None:
            from .execution.key_permissions import KeyWatch  # noqa: PLC0415 - ccxt

            self.key_watch = KeyWatch(self.live.calls, self.live.config, time.monotonic())
        cursor = self._persisted_cursor()
        self.market.resync(cursor if cursor is not None else self.ctx.clock())
        log.info("market resynced", extra={"cursor": self.market.cursor})

    def step(self) -> None:
        started = time.monotonic()
        if not self._completed:
            # The last step failed midway: its bars were taken from the feed but maybe not
            # acted on. Rewinding to the persisted cursor acts on them (decided ones skip).
            self._epoch = None
        self._completed = False
        now = time.monotonic()
        lease = self.leadership.acquire_or_renew(now)
        leader = lease is not None and self.leadership.is_leader(time.monotonic())
        if lease is not None and leader and lease.epoch != self._epoch:
            self._epoch = lease.epoch
            cursor = self._persisted_cursor()
            if cursor is not None and cursor < self.market.cursor:
                self.market.resync(cursor)
            log.info("leading", extra={"epoch": lease.epoch, "cursor": self.market.cursor})
        elif not leader:
            self._epoch = None
        signals = self.market.advance(self.ctx.clock())
        if lease is not None and leader and self._reconciled(lease.epoch):
            positions = dict(self.exchange.state().positions)
            control = self.ctx.retry.run(
                lambda: self.ctx.redis.get(self.ctx.keys.halted), "read halted"
            )
            halted = is_halted(None if control is None else str(control))
            for signal, bar in signals:
                self.metrics.signals.labels(
                    strategy=self.ctx.settings.strategy, side=signal.side
                ).inc()
                self.trader.act(signal, bar, lease, positions, halted=halted)
            written = self.ledger.write(
                lease.epoch, self.market.marks(), self.market.states(), self.ctx.clock()
            )
            if written is not None:
                self._publish(written)
                self.ctx.retry.run(
                    lambda: self.ctx.redis.set(self._cursor_key, repr(self.market.cursor)),
                    "persist cursor",
                )
        self.metrics.is_leader.set(1 if self.leadership.is_leader(time.monotonic()) else 0)
        self.metrics.symbols_loaded.set(self.market.loaded())
        newest = self.market.newest_ts()
        if newest is not None:
            self.metrics.market_data_age.set(max(0.0, self.ctx.clock() - newest))
        self.metrics.heartbeat.set(self.ctx.clock())
        self.metrics.cycle_duration.observe(time.monotonic() - started)
        self._completed = True

    def _publish(self, written: LedgerWrite) -> None:
        equity = written.portfolio.equity_usd
        self.metrics.portfolio_value.set(equity)
        self.metrics.open_positions.set(sum(1 for s in written.snapshots if s.position_amt != 0))
        day = datetime.datetime.fromtimestamp(self.ctx.clock(), datetime.UTC).date().isoformat()
        key = self.ctx.keys.day_open(self.ctx.settings.account)

        def day_open() -> float:
            pipe = self.ctx.redis.pipeline(transaction=True)
            pipe.hsetnx(key, day, repr(equity))
            pipe.hget(key, day)
            return float(pipe.execute()[1])

        self.metrics.daily_pnl.set(equity - self.ctx.retry.run(day_open, "day open equity"))

    def _reconciled(self, epoch: int) -> bool:
        """Live: poll the exchange account when due; trade only once the ledger holds it."""
        if self.poller is None:
            return True
        now = time.monotonic()
        if self._polled_at is None or now - self._polled_at >= self._poll_every:
            self._polled_at = now  # a poll that fails waits its turn too: no hammering
            self.poller.poll(epoch, self.market.marks(), self.ctx.clock())
            if self.key_watch is not None:
                self.key_watch.tick(now)
        return self.live is not None and self.live.state_or_none() is not None

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` beating the heartbeat; False as soon as the worker is stopping."""
        return pause(self.ctx.stop, self.ctx.heartbeat, seconds, step=0.5)

    def _persisted_cursor(self) -> float | None:
        """The ts of the last bar acted on; None when absent or unreadable (counted).

        A cursor in milliseconds or in the future would park the bot until then."""
        try:
            try:
                value = self.ctx.retry.run(
                    lambda: self.ctx.redis.get(self._cursor_key), "read cursor"
                )
            except redis.ResponseError as exc:
                if "WRONGTYPE" not in str(exc):
                    raise
                raise BadEntry("cursor", "not a string (something else is under the key)") from None
            if value is None:
                return None
            try:
                ts = ascii_float(str(value))
            except ValueError:
                raise BadEntry("cursor", f"{str(value)[:40]!r} is not a number") from None
            return check_epoch_seconds("cursor", ts, self.ctx.clock())
        except BadEntry as exc:
            self.metrics.malformed.labels(input="cursor", field=exc.field).inc()
            log.warning("cursor ignored", extra={"key": self._cursor_key, "error": str(exc)})
            return None

    def close(self) -> None:
        self.leadership.release()
        self.metrics.is_leader.set(0)
