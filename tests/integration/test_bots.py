"""Bots as real processes on real Redis, with the real gate (and governor): issue 6's proofs.

The feed is a CSV replay (:mod:`tests.harness.bot_bars`) mapped onto the wall clock, so
breakout_momentum signals BUY on bar 10 and EXIT on bar 15 of every 20-bar period at
known times; a cursor persisted before the first bar makes a bot that starts late (a
loaded machine) act on every bar all the same. Leadership is the Redis lease (the local
runtime's backend). Leases and permit waits are patient: the tests assert who trades and
in which order, never how fast (takeover times are figures of bench/bot_takeover.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from tests.conftest import TEST_PASSWORD
from tests.harness.bot_bars import (
    BUY_AT,
    PERIOD,
    breakout_bot_env,
    closes,
    feed_doc,
    gate_env,
    write_csv,
)
from tests.harness.market import metric_values
from tests.harness.processes import DEADLINE, WorkerProcess, start_ready, stop_all, worker_env
from tests.harness.redis_procs import RedisProcess, wait_for
from tests.harness.reservations import released

from tradingstack_workers.bots.execution import OrderIntent, PaperConfig, PaperExchange, Protections
from tradingstack_workers.bots.flow import proposal_id
from tradingstack_workers.bots.metrics import NAMES
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy
from tradingstack_workers.wire import PortfolioStateHash, PositionSnapshot

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT = "paper-ha"
BOT = "brk"
SYMBOL = "BTCUSDT"
BAR_SECONDS = 0.5


def url(redis_proc: RedisProcess) -> str:
    return f"redis://127.0.0.1:{redis_proc.port}/0"


def bot_env(redis_proc: RedisProcess, feed: dict[str, object], **extra: str) -> dict[str, str]:
    return worker_env(
        url(redis_proc),
        TEST_PASSWORD,
        **breakout_bot_env(feed, bot=BOT, account=ACCOUNT, symbol=SYMBOL, **extra),
    )


def market(redis_proc: RedisProcess, tmp_path: Path, *, first_buy_in: float, periods: int = 30,
           bars: int | None = None) -> dict[str, object]:  # fmt: skip
    """A replay whose first BUY bar closes ``first_buy_in`` seconds from now, and the account
    as a previous session of the bot leaves it: the cursor persisted just before the first
    bar (no bar is skipped however late the bot starts), the equity and a flat position
    published (an entry acted on in the bot's very first step, as it catches up, meets the
    gate's equity and the governor's budget, as any later entry does)."""
    path = write_csv(tmp_path / "bars.csv", SYMBOL, periods, bars=bars)
    now = time.time()
    feed = feed_doc(path, now + first_buy_in - BUY_AT * BAR_SECONDS, BAR_SECONDS)
    client = redis_proc.client()
    client.set(KEYS.bot_cursor(ACCOUNT, BOT), repr(bar_ts(feed, -1)))
    equity = PortfolioStateHash(
        equity_usd=PaperConfig().initial_cash_usd, drawdown=0.0, timestamp=now
    )
    flat = PositionSnapshot(symbol=SYMBOL, position_amt=0.0, mark_price=closes(1)[0], ts_epoch=now)
    for key, fields in ((KEYS.portfolio_state, equity), (KEYS.snapshot(SYMBOL), flat)):
        client.hset(key, mapping=cast("dict[Any, Any]", fields.to_fields()))
    client.sadd(KEYS.snapshot_index, SYMBOL)
    return feed


@pytest.fixture
def procs() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    stop_all(started)


def fills(redis_proc: RedisProcess) -> list[dict[str, str]]:
    entries = cast(
        "list[tuple[str, dict[str, str]]]", redis_proc.client().xrange(KEYS.fills(ACCOUNT))
    )
    return [dict(fields) for _, fields in entries]


def results(redis_proc: RedisProcess) -> list[dict[str, str]]:
    entries = cast(
        "list[tuple[str, dict[str, str]]]", redis_proc.client().xrange(KEYS.result_stream)
    )
    return [dict(fields) for _, fields in entries]


def leading(process: WorkerProcess, after: int = 0) -> Callable[[], dict[str, Any] | None]:
    """The first "leading" log line with an epoch above ``after``, or None."""

    def find() -> dict[str, Any] | None:
        for line in list(process.lines):
            if line.get("msg") == "leading" and int(line["epoch"]) > after:
                return line
        return None

    return find


def is_leader(process: WorkerProcess) -> float:
    return metric_values(process)["tradingstack_bot_is_leader"]


def test_one_of_two_bots_trades_and_a_paused_leader_is_fenced(
    redis_proc: RedisProcess, procs: list[WorkerProcess], tmp_path: Path
) -> None:
    start_ready(procs, "gate", gate_env(url(redis_proc)))
    feed = market(redis_proc, tmp_path, first_buy_in=4)
    a = start_ready(procs, "bots", bot_env(redis_proc, feed, TS_INSTANCE="bot-a"))
    wait_for(lambda: leading(a)() is not None, DEADLINE, "a leads")
    b = start_ready(procs, "bots", bot_env(redis_proc, feed, TS_INSTANCE="bot-b"))
    epoch_a = int(leading(a)()["epoch"])  # type: ignore[index]

    # Exactly one trades: every fill carries a's epoch; b stands by.
    wait_for(lambda: len(fills(redis_proc)) >= 2, DEADLINE, "a buy and an exit")
    assert {int(f["epoch"]) for f in fills(redis_proc)} == {epoch_a}
    assert (is_leader(a), is_leader(b)) == (1, 0)

    # a is paused: b takes over once the lease lapses, and trades under a higher epoch.
    os.kill(a.proc.pid, signal.SIGSTOP)
    wait_for(lambda: leading(b)() is not None, DEADLINE, "b takes over")
    epoch_b = int(leading(b)()["epoch"])  # type: ignore[index]
    assert epoch_b > epoch_a
    count = len(fills(redis_proc))
    wait_for(lambda: len(fills(redis_proc)) >= count + 1, DEADLINE, "b fills")

    # a resumes: not a single order of its old epoch fills after b's first.
    os.kill(a.proc.pid, signal.SIGCONT)
    wait_for(lambda: is_leader(a) == 0, DEADLINE, "a knows it is standby")
    count = len(fills(redis_proc))
    wait_for(lambda: len(fills(redis_proc)) >= count + 2, DEADLINE, "more of b's fills")
    epochs = [int(f["epoch"]) for f in fills(redis_proc)]
    first_b = epochs.index(epoch_b)
    assert all(e == epoch_b for e in epochs[first_b:]), epochs

    # b is killed: a takes over once b's lease lapses, under a higher epoch still.
    os.kill(b.proc.pid, signal.SIGKILL)
    wait_for(lambda: leading(a, after=epoch_b)() is not None, DEADLINE, "a takes over")
    count = len(fills(redis_proc))
    wait_for(lambda: len(fills(redis_proc)) >= count + 1, DEADLINE, "a fills again")
    assert int(fills(redis_proc)[-1]["epoch"]) > epoch_b


def governor_env(redis_proc: RedisProcess, **extra: str) -> dict[str, str]:
    return worker_env(url(redis_proc), TEST_PASSWORD, TS_INTERVAL_SECONDS="0.2", **extra)


def decisions(redis_proc: RedisProcess) -> list[tuple[str, str]]:
    return [(r["decision"], r["reason"]) for r in results(redis_proc)]


def bar_ts(feed: dict[str, object], index: int) -> float:
    start = feed["start_ts"]
    assert isinstance(start, float)
    return start + index * BAR_SECONDS


def test_over_budget_in_enforce_mode_is_blocked(
    redis_proc: RedisProcess, procs: list[WorkerProcess], tmp_path: Path
) -> None:
    # 0.001 % of 100 000 USD: a budget of at most 1 USD, against a 100 USD entry.
    start_ready(procs, "gate", gate_env(url(redis_proc)))
    start_ready(
        procs, "governor", governor_env(redis_proc, TS_MODE="enforce", TS_BASE_RISK_PCT="0.001")
    )
    feed = market(redis_proc, tmp_path, first_buy_in=4)
    wait_for(lambda: redis_proc.client().exists(KEYS.budget(SYMBOL)) == 1, DEADLINE, "a budget")
    bot = start_ready(procs, "bots", bot_env(redis_proc, feed))
    wait_for(lambda: len(results(redis_proc)) >= 1, DEADLINE, "a result")
    result = results(redis_proc)[0]
    assert (result["decision"], result["reason"]) == ("BLOCKED", "budget_exceeded")
    assert (result["symbol"], result["bot"], result["strategy"]) == (
        SYMBOL, BOT, "breakout_momentum",
    )  # fmt: skip
    assert result["proposal_id"] == proposal_id(ACCOUNT, BOT, SYMBOL, bar_ts(feed, BUY_AT), "BUY")
    # The gate permitted it: the budget, not the gate, stopped it.
    permit = redis_proc.client().hgetall(KEYS.permit(result["proposal_id"]))
    assert permit["granted"] == "1"
    assert fills(redis_proc) == []
    # The trader gave its reservation up, counted and logged for the gates.
    count, names = released(redis_proc.client(), KEYS)
    assert result["proposal_id"] in names
    assert count == len(names)
    assert metric_values(bot)['tradingstack_bot_decisions_total{decision="BLOCKED"}'] >= 1


def test_an_entry_above_the_cash_is_refused_insufficient_funds_and_cash_stays_positive(
    redis_proc: RedisProcess, procs: list[WorkerProcess], tmp_path: Path
) -> None:
    # 60 USD of cash against 100 USD entries (fees on top): the gate may grant them (it
    # judges heat on the published equity), the chokepoint must refuse every one.
    start_ready(procs, "gate", gate_env(url(redis_proc)))
    feed = market(redis_proc, tmp_path, first_buy_in=4)
    bot = start_ready(procs, "bots", bot_env(redis_proc, feed, TS_INITIAL_CASH_USD="60"))
    wait_for(lambda: len(results(redis_proc)) >= 2, DEADLINE, "two entries decided")
    first, second = results(redis_proc)[:2]
    assert (first["decision"], first["reason"]) == ("BLOCKED", "insufficient_funds")
    assert (second["decision"], second["reason"]) == ("BLOCKED", "insufficient_funds")
    assert first["proposal_id"] == proposal_id(ACCOUNT, BOT, SYMBOL, bar_ts(feed, BUY_AT), "BUY")
    permit = redis_proc.client().hgetall(KEYS.permit(first["proposal_id"]))
    assert permit["granted"] == "1"  # the gate let it through: the cash stopped it
    assert fills(redis_proc) == []
    assert redis_proc.client().hgetall(KEYS.positions(ACCOUNT)) == {}
    assert redis_proc.client().hget(KEYS.account(ACCOUNT), "cash") == "60.0"
    assert redis_proc.client().hlen(KEYS.reservations) == 0  # refused: nothing held
    # Each grant's reservation ended once, counted and logged for the gates.
    grants = int(redis_proc.client().hget(KEYS.reservation_grants, "count") or 0)
    count, names = released(redis_proc.client(), KEYS)
    assert count == len(set(names)) == len(names) == grants >= 2
    assert metric_values(bot)['tradingstack_bot_decisions_total{decision="BLOCKED"}'] >= 2


def test_halted_stops_entries_while_exits_still_run(
    redis_proc: RedisProcess, procs: list[WorkerProcess], tmp_path: Path
) -> None:
    start_ready(procs, "gate", gate_env(url(redis_proc)))
    start_ready(procs, "governor", governor_env(redis_proc, TS_MODE="enforce"))
    feed = market(redis_proc, tmp_path, first_buy_in=4)  # the next entry: 10 s after the first
    bot = start_ready(procs, "bots", bot_env(redis_proc, feed))
    wait_for(lambda: len(fills(redis_proc)) >= 1, DEADLINE, "the first entry fills")
    assert decisions(redis_proc)[0] == ("EXECUTE", "filled")
    redis_proc.client().set(KEYS.halted, "1")  # the operator's kill switch

    # The exit (bar 15) still executes; the next entry (bar 30) is skipped.
    wait_for(lambda: len(results(redis_proc)) >= 3, DEADLINE, "exit and the next entry")
    got = results(redis_proc)
    assert [(r["decision"], r["reason"]) for r in got[:3]] == [
        ("EXECUTE", "filled"), ("EXECUTE", "filled"), ("SKIP", "halted"),
    ]  # fmt: skip
    exit_id = proposal_id(ACCOUNT, BOT, SYMBOL, bar_ts(feed, BUY_AT + 5), "SELL")
    entry_id = proposal_id(ACCOUNT, BOT, SYMBOL, bar_ts(feed, BUY_AT + PERIOD), "BUY")
    assert [r["proposal_id"] for r in got[1:3]] == [exit_id, entry_id]
    assert [f["side"] for f in fills(redis_proc)] == ["BUY", "SELL"]
    assert redis_proc.client().hgetall(KEYS.positions(ACCOUNT)) == {}
    assert metric_values(bot)["tradingstack_bot_open_positions"] == 0


def test_a_restart_loses_no_position_and_duplicates_no_order(
    redis_proc: RedisProcess, procs: list[WorkerProcess], tmp_path: Path
) -> None:
    # The recording ends 3 bars after the second entry: the account ends long.
    last = BUY_AT + PERIOD + 3
    start_ready(procs, "gate", gate_env(url(redis_proc)))
    feed = market(redis_proc, tmp_path, first_buy_in=4, periods=2, bars=last + 1)
    env = bot_env(redis_proc, feed)
    bot = start_ready(procs, "bots", env)
    client = redis_proc.client()
    cursor_key = KEYS.bot_cursor(ACCOUNT, BOT)
    wait_for(
        lambda: float(client.get(cursor_key) or 0) == bar_ts(feed, last), DEADLINE, "replay done"
    )
    before = (client.hgetall(KEYS.positions(ACCOUNT)), fills(redis_proc), results(redis_proc))
    assert [f["side"] for f in before[1]] == ["BUY", "SELL", "BUY"], decisions(redis_proc)
    assert float(before[0][SYMBOL]) > 0

    # kill -9, and rewind the cursor so the restarted bot replays every signal bar.
    os.kill(bot.proc.pid, signal.SIGKILL)
    client.set(cursor_key, repr(bar_ts(feed, BUY_AT - 2)))
    again = start_ready(procs, "bots", env)
    wait_for(lambda: leading(again)() is not None, DEADLINE, "the restarted bot leads")
    wait_for(lambda: float(client.get(cursor_key) or 0) == bar_ts(feed, last), DEADLINE, "replayed")
    after = (client.hgetall(KEYS.positions(ACCOUNT)), fills(redis_proc), results(redis_proc))
    assert after == before
    assert metric_values(again)["tradingstack_bot_open_positions"] == 1

    # And had it submitted any of those orders again, the chokepoint refuses the id.
    exchange = PaperExchange(client, RetryPolicy(budget_seconds=1.0), KEYS, ACCOUNT,
                             config=PaperConfig(), protections=Protections())  # fmt: skip
    first = before[1][0]
    replay = OrderIntent(ACCOUNT, BOT, first["intent_id"], SYMBOL, "BUY", float(first["qty"]))
    assert replay.client_order_id == first["client_order_id"]
    epoch = int(client.get(KEYS.fence(ACCOUNT)) or 0)
    assert exchange.submit(replay, epoch, 1.0, time.time()).status == "duplicate"
    assert len(fills(redis_proc)) == len(before[1])


def test_a_leader_stopped_with_sigterm_hands_over_at_once(
    redis_proc: RedisProcess, procs: list[WorkerProcess], tmp_path: Path
) -> None:
    # A lease far longer than the wait below: b can only take over because a released it.
    lease = str(4 * DEADLINE)
    feed = market(redis_proc, tmp_path, first_buy_in=30)
    a = start_ready(
        procs, "bots", bot_env(redis_proc, feed, TS_INSTANCE="bot-a", TS_LEASE_SECONDS=lease)
    )
    wait_for(lambda: leading(a)() is not None, DEADLINE, "a leads")
    b = start_ready(
        procs, "bots", bot_env(redis_proc, feed, TS_INSTANCE="bot-b", TS_LEASE_SECONDS=lease)
    )
    text = a.metrics()
    missing = [name for name in NAMES if name not in text]
    assert not missing
    assert is_leader(b) == 0
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(timeout=DEADLINE) == 0
    # Released, not left to expire: the lease key is gone, or b has it already.
    holder = redis_proc.client().get(KEYS.leader(ACCOUNT))
    assert holder is None or str(holder).startswith("bot-b-"), holder
    wait_for(lambda: leading(b)() is not None, DEADLINE, "b takes over")
