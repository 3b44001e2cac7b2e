"""The ledger's hashes, read back by the readers' own parsers: the contract test.

Whatever the ledger writes must parse, unchanged, with the functions the governor,
the gate and clusters use on the same keys.
"""

from __future__ import annotations

import pytest
import redis
from tests.harness.book import hash_text as read
from tests.harness.redis_procs import RedisProcess

from tradingstack_workers.bots.execution import (
    Ledger,
    OrderIntent,
    PaperConfig,
    PaperExchange,
    Protections,
)
from tradingstack_workers.gate.decide import GateLimits, Position
from tradingstack_workers.gate.store import GateStore, position
from tradingstack_workers.governor.inputs import (
    MarketState,
    PortfolioState,
    parse_market,
    parse_portfolio,
)
from tradingstack_workers.governor.store import GovernorStore
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.freshness import is_fresh
from tradingstack_workers.runtime.leadership import RedisLease
from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import RetryPolicy
from tradingstack_workers.wire.errors import BadEntry
from tradingstack_workers.wire.ledger import MarketStateHash, PositionSnapshot
from tradingstack_workers.wire.proposal import Side

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT = "paper-1"
NOW = 1_800_000_000.0


class Book:
    """One bot's paper account, its ledger, and its leader's epoch."""

    def __init__(self, r: redis.Redis, account: str = ACCOUNT) -> None:
        retry = RetryPolicy(budget_seconds=2.0)
        self.account = account
        self.exchange = PaperExchange(
            r,
            retry,
            KEYS,
            account,
            config=PaperConfig(initial_cash_usd=10_000.0),
            protections=Protections(),
        )
        self.exchange.open()
        self.ledger = Ledger(r, retry, KEYS, self.exchange)
        lease = RedisLease(
            r, KEYS.bot_leadership(account), "me", lease_seconds=30
        ).acquire_or_renew(0.0)
        assert lease is not None
        self.epoch = lease.epoch

    def buy(self, intent_id: str, symbol: str, qty: float, mark: float) -> None:
        self.trade(intent_id, symbol, "BUY", qty, mark)

    def trade(self, intent_id: str, symbol: str, side: Side, qty: float, mark: float) -> None:
        order = OrderIntent(self.account, "bot-1", intent_id, symbol, side, qty)
        assert self.exchange.submit(order, self.epoch, mark, NOW).label == "filled"


@pytest.fixture
def r(redis_proc: RedisProcess) -> redis.Redis:
    return redis_proc.client()


def test_ledger_hashes_parse_with_the_readers_own_functions(r: redis.Redis) -> None:
    book = Book(r)
    book.buy("p1", "BTCUSDT", 0.1, 50_000.0)
    markets = {
        "BTCUSDT": MarketStateHash(vol_regime="HIGH_VOL", sigma=0.025),
        "ETHUSDT": MarketStateHash(sigma=0.01),
    }
    written = book.ledger.write(
        book.epoch, {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0}, markets, NOW + 1
    )
    assert written is not None

    portfolio = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + 2)
    assert portfolio.problems == ()
    # The ledger states the drawdown's unit: a paper stack's 0.0006 % drew the
    # governor's "looks like a fraction" warning on every start.
    assert portfolio.value == PortfolioState(
        equity_usd=10_000.0, drawdown_pct=0.0, timestamp=NOW + 1, unit_stated=True
    )

    # One class parses a snapshot for clusters, the gate and the governor alike.
    btc = PositionSnapshot.parse("BTCUSDT", read(r, KEYS.snapshot("BTCUSDT")), NOW + 2)
    assert btc == PositionSnapshot(
        symbol="BTCUSDT", position_amt=0.1, mark_price=50_000.0, ts_epoch=NOW + 1
    )
    assert position(btc) == Position("BTCUSDT", 0.1, 50_000.0, NOW + 1)
    eth = read(r, KEYS.snapshot("ETHUSDT"))  # flat, still published for its price
    assert PositionSnapshot.parse("ETHUSDT", eth, NOW + 2).position_amt == 0.0
    # Indexed in the same script: readers find snapshots without a SCAN.
    assert r.smembers(KEYS.snapshot_index) == {"BTCUSDT", "ETHUSDT"}

    high = parse_market(read(r, KEYS.market_state("BTCUSDT")))
    assert (high.value, high.problems) == (MarketState("HIGH_VOL", 0.025), ())
    assert parse_market(read(r, KEYS.market_state("ETHUSDT"))).value == MarketState(None, 0.01)

    # The governor finds the symbols by SCAN over the snapshots the ledger wrote.
    retry = RetryPolicy(budget_seconds=2.0)
    assert GovernorStore(r, retry, KEYS).symbols() == (["BTCUSDT", "ETHUSDT"], [])
    # And the gate builds its portfolio view from the same keys.
    gate = GateStore(r, retry, OnceWriter(r, retry, "test"), KEYS, rescan_seconds=0.0)
    view = gate.read_view(now=NOW + 2).view
    assert (view.equity_usd, view.equity_ts) == (10_000.0, NOW + 1)
    assert view.positions["BTCUSDT"].exposure == pytest.approx(5_000.0)


def test_drawdown_is_percent_below_the_peak_which_survives_a_restart(r: redis.Redis) -> None:
    book = Book(r)
    book.buy("p1", "BTCUSDT", 1.0, 1_000.0)  # cash 9 000 + 1 BTC
    assert book.ledger.write(book.epoch, {"BTCUSDT": 3_000.0}, {}, NOW) is not None  # peak 12 000

    restarted = Book(r)  # new objects; the same holder renews its lease: same epoch
    assert restarted.epoch == book.epoch
    written = restarted.ledger.write(restarted.epoch, {"BTCUSDT": 1_200.0}, {}, NOW + 5)
    assert written is not None
    assert written.peak_equity_usd == 12_000.0
    parsed = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + 5).value
    assert parsed is not None
    assert parsed.equity_usd == pytest.approx(10_200.0)
    assert parsed.drawdown_pct == pytest.approx(15.0)  # (12 000 - 10 200) / 12 000


def test_a_stale_epoch_writes_nothing(r: redis.Redis) -> None:
    book = Book(r)
    book.buy("p1", "BTCUSDT", 1.0, 100.0)
    at_fill = read(r, KEYS.snapshot("BTCUSDT"))  # the chokepoint's, written with the fill
    state = read(r, KEYS.portfolio_state)  # the fill's cash part
    r.incr(KEYS.fence(ACCOUNT))  # another instance became leader
    assert book.ledger.write(book.epoch, {"BTCUSDT": 120.0}, {}, NOW + 5) is None
    assert read(r, KEYS.portfolio_state) == state
    assert read(r, KEYS.snapshot("BTCUSDT")) == at_fill


def test_a_held_symbol_without_a_mark_is_an_error_not_a_wrong_equity(r: redis.Redis) -> None:
    book = Book(r)
    book.buy("p1", "BTCUSDT", 1.0, 100.0)
    with pytest.raises(ValueError, match="BTCUSDT"):
        book.ledger.write(book.epoch, {"ETHUSDT": 10.0}, {}, NOW)


def test_market_state_contract_refuses_what_the_governor_would_drop() -> None:
    with pytest.raises(ValueError, match="vol_regime"):
        MarketStateHash(vol_regime="CALM")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sigma"):
        MarketStateHash(sigma=-0.1)
    with pytest.raises(ValueError, match="neither vol_regime nor sigma"):
        MarketStateHash()


# -- the book: every bot's account in the one portfolio state and snapshot per symbol ----


def test_two_accounts_make_one_book_for_the_gate_and_the_governor(r: redis.Redis) -> None:
    """Each bot trades its own account; the readers judge the stack's whole book. Before
    the book, the last account to write was the whole portfolio state and the last fill
    the whole snapshot: the other account's equity and position were unseen."""
    a, b = Book(r, "stack-a"), Book(r, "stack-b")
    a.buy("p1", "BTCUSDT", 0.1, 50_000.0)
    b.buy("p2", "BTCUSDT", 0.15, 50_000.0)
    snapshot = PositionSnapshot.parse("BTCUSDT", read(r, KEYS.snapshot("BTCUSDT")), NOW)
    assert snapshot.position_amt == pytest.approx(0.25)

    marks = {"BTCUSDT": 60_000.0}
    written = [x.ledger.write(x.epoch, marks, {}, NOW + 1) for x in (a, b)]
    own = [None if w is None else w.portfolio.equity_usd for w in written]
    assert own == [pytest.approx(11_000.0), pytest.approx(11_500.0)]  # each its own account

    portfolio = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + 2)
    assert portfolio.problems == ()
    assert portfolio.value == PortfolioState(
        equity_usd=22_500.0, drawdown_pct=0.0, timestamp=NOW + 1, unit_stated=True
    )
    retry = RetryPolicy(budget_seconds=2.0)
    gate = GateStore(r, retry, OnceWriter(r, retry, "test"), KEYS, rescan_seconds=0.0)
    view = gate.read_view(now=NOW + 2).view
    assert view.equity_usd == pytest.approx(22_500.0)
    assert view.positions["BTCUSDT"].exposure == pytest.approx(0.25 * 60_000.0)


def test_the_books_drawdown_is_below_its_peak_and_a_joining_bot_is_no_gain(r: redis.Redis) -> None:
    a, b = Book(r, "stack-a"), Book(r, "stack-b")
    a.buy("p1", "BTCUSDT", 1.0, 1_000.0)  # a: cash 9 000 + 1 BTC; b: cash 10 000
    for x in (a, b):
        assert x.ledger.write(x.epoch, {"BTCUSDT": 3_000.0}, {}, NOW) is not None
    # Peaks: a 12 000, b 10 000. Now a is at 10 200: the book is 1 800 below 22 000.
    for x in (a, b):
        assert x.ledger.write(x.epoch, {"BTCUSDT": 1_200.0}, {}, NOW + 5) is not None
    state = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + 5).value
    assert state is not None
    assert state.equity_usd == pytest.approx(20_200.0)
    assert state.drawdown_pct == pytest.approx(1_800.0 / 22_000.0 * 100.0)

    # A bot added later brings its cash and its peak together: no drawdown from joining.
    c = Book(r, "stack-c")
    assert c.ledger.write(c.epoch, {"BTCUSDT": 1_200.0}, {}, NOW + 6) is not None
    state = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + 6).value
    assert state is not None
    assert state.equity_usd == pytest.approx(30_200.0)
    assert state.drawdown_pct == pytest.approx(1_800.0 / 32_000.0 * 100.0)


def test_an_account_that_goes_flat_leaves_the_books_position(r: redis.Redis) -> None:
    a, b = Book(r, "stack-a"), Book(r, "stack-b")
    a.buy("p1", "BTCUSDT", 0.5, 100.0)
    b.buy("p2", "BTCUSDT", 0.25, 100.0)
    b.trade("p3", "BTCUSDT", "SELL", 0.25, 110.0)
    fields = read(r, KEYS.snapshot("BTCUSDT"))
    assert "position_amt:stack-b" not in fields  # flat accounts leave no part behind
    assert PositionSnapshot.parse("BTCUSDT", fields, NOW) == PositionSnapshot(
        symbol="BTCUSDT", position_amt=0.5, mark_price=110.0, ts_epoch=NOW
    )
    a.trade("p4", "BTCUSDT", "SELL", 0.5, 120.0)
    assert float(read(r, KEYS.snapshot("BTCUSDT"))["position_amt"]) == 0.0


def test_a_seed_shaped_portfolio_state_becomes_the_book_on_the_first_write(
    r: redis.Redis,
) -> None:
    """A hash from before the book (or a seed's single writer) holds no account parts;
    the first account's write replaces its figures instead of adding to them."""
    r.hset(KEYS.portfolio_state, mapping={"equity_usd": 5.0, "drawdown": 50, "timestamp": NOW})
    book = Book(r)
    assert book.ledger.write(book.epoch, {}, {}, NOW + 1) is not None
    state = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + 1).value
    assert state == PortfolioState(
        equity_usd=10_000.0, drawdown_pct=0.0, timestamp=NOW + 1, unit_stated=True
    )


def test_a_part_that_is_not_a_number_fails_the_readers_not_the_fill(r: redis.Redis) -> None:
    """A hand-edited part must not stop the fill's script halfway (Redis does not roll a
    script back): the fill completes, and the book's figure names the bad part, so the
    readers report the snapshot malformed and the gate denies on it."""
    r.hset(KEYS.snapshot("BTCUSDT"), "position_amt:ghost", "lots")
    book = Book(r)
    book.buy("p1", "BTCUSDT", 0.1, 100.0)  # asserts the fill
    assert float(read(r, KEYS.positions(ACCOUNT))["BTCUSDT"]) == pytest.approx(0.1)
    assert r.hlen(KEYS.orders(ACCOUNT)) == 1  # the order's record: the duplicate check
    fields = read(r, KEYS.snapshot("BTCUSDT"))
    assert fields["position_amt"] == "bad part position_amt:ghost=lots"
    with pytest.raises(BadEntry, match="position_amt"):
        PositionSnapshot.parse("BTCUSDT", fields, NOW)

    r.hset(KEYS.portfolio_state, "equity_usd:ghost", "lots")
    assert book.ledger.write(book.epoch, {"BTCUSDT": 100.0}, {}, NOW + 1) is not None
    parsed = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + 1)
    assert parsed.value is None
    assert any("equity_usd" in str(p) for p in parsed.problems)


def test_an_account_that_stopped_writing_makes_the_book_stale(r: redis.Redis) -> None:
    """The sum keeps every account's last cash: an account whose bot stopped writing an
    hour ago (died holding 1 BTC) is in it as of then. The book's time must age with its
    oldest part, as a lone bot's state aged when its bot stopped, or the gate's
    portfolio_stale and the governor's staleness judge an hour-old figure fresh because
    another bot still writes. (Its BTC is valued at the latest mark, 500: one mark per
    symbol for the whole book.)"""
    a, b = Book(r, "stack-a"), Book(r, "stack-b")
    b.buy("p1", "BTCUSDT", 1.0, 1_000.0)
    assert b.ledger.write(b.epoch, {"BTCUSDT": 1_000.0}, {}, NOW) is not None  # b's last
    later = NOW + 3_600
    assert a.ledger.write(a.epoch, {"BTCUSDT": 500.0}, {}, later) is not None
    state = parse_portfolio(read(r, KEYS.portfolio_state), now=later).value
    assert state is not None
    assert state.equity_usd == pytest.approx(19_500.0)  # b's cash 9 000 + 1 BTC at 500
    assert state.timestamp == NOW

    retry = RetryPolicy(budget_seconds=2.0)
    gate = GateStore(r, retry, OnceWriter(r, retry, "test"), KEYS, rescan_seconds=0.0)
    view = gate.read_view(now=later).view
    assert view.equity_ts is not None
    assert not is_fresh(view.equity_ts, later, GateLimits().portfolio_stale_s)


def test_a_hedged_book_that_never_moved_reads_no_drawdown(r: redis.Redis) -> None:
    """a holds 1 BTC long, b 1 BTC short: the book's equity is 20 000 at every mark. Below
    the sum of the accounts' own peaks (a's at 1 500, b's at 500: 21 000, a high the book
    never had) it read 4.76 % at 1 000, and the governor kept 76 % of every budget
    (max_drawdown_pct 20) for a loss nobody made. Summing the accounts' own equities
    would mix marks as well: after a's write at 1 500, b's part is still at 1 000."""
    a, b = Book(r, "stack-a"), Book(r, "stack-b")
    a.buy("p1", "BTCUSDT", 1.0, 1_000.0)
    b.trade("p2", "BTCUSDT", "SELL", 1.0, 1_000.0)
    drawdowns = []
    for i, mark in enumerate([1_000.0, 1_500.0, 500.0, 1_000.0]):
        for x in (a, b):  # each on its own cycle: after a's write, b's is a mark behind
            assert x.ledger.write(x.epoch, {"BTCUSDT": mark}, {}, NOW + i) is not None
            state = parse_portfolio(read(r, KEYS.portfolio_state), now=NOW + i).value
            assert state is not None
            assert state.equity_usd == pytest.approx(20_000.0)
            drawdowns.append(state.drawdown_pct)
    assert drawdowns == pytest.approx([0.0] * 8)
