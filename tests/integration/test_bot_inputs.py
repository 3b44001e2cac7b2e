"""The bots' hash readers (permit, budget, cursor) fed arbitrary bytes against a real Redis.

The bot is the real one, in this process: a signal goes through its Trader with the
permit and budget hashes already written (as the gate and the governor would). A permit
that breaks its contract, or answers another trade, ends the proposal in ERROR and is
counted by field, never traded on; a broken budget is counted and treated as absent
(the governor's contract is fail-open); a good one is obeyed; every proposal is
decided. A persisted cursor in another unit, in the future or not a number is counted
and ignored, never parking the bot.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.harness.redis_procs import RedisProcess
from tests.harness.streams import growth, in_process, raw_client, store_raw, total

from tradingstack_workers.bots.flow import proposal_id
from tradingstack_workers.bots.marketdata import open_feed
from tradingstack_workers.bots.marketdata.feed import Bar
from tradingstack_workers.bots.settings import BotSettings
from tradingstack_workers.bots.strategies import Signal
from tradingstack_workers.bots.worker import BotWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.loop import WorkerContext
from tradingstack_workers.wire import MAX_FUTURE_SKEW_SECONDS, Budget, Permit, Reservation

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT = "inputs"
BOT = "reader"
SYMBOL = "BTCUSDT"
PRICE = 100.0
MALFORMED = "tradingstack_bot_malformed_inputs_total"

NOT_UTF8 = st.binary(min_size=1, max_size=8).map(lambda b: b"\xff" + b)
NOT_NUMBERS = st.sampled_from([b"nan", b"inf", b"-inf", b"", b"abc", b"1e400"]) | NOT_UTF8


def in_units(now: float) -> st.SearchStrategy[bytes]:
    """``now`` in ms, us, ns, minutes; an hour ahead; before 2000; negative."""
    values = [now * 1e3, now * 1e6, now * 1e9, now / 60, now + 3600, 1.0, -now]
    return st.sampled_from(values).map(lambda v: repr(v).encode())


def permit_refused(field: str, now: float) -> st.SearchStrategy[bytes | None]:
    """Values a permit's ``field`` must refuse (None: missing), for the bot's proposal."""
    if field == "issued_ts":
        return st.none() | in_units(now) | NOT_NUMBERS
    if field == "granted":
        return st.none() | st.sampled_from([b"yes", b"2", b"true", b"-1"]) | NOT_UTF8
    if field in ("heat", "conc", "corr_proxy", "k", "stress"):
        return st.none() | st.sampled_from([b"nan", b"inf", b"-inf", b"abc", b"1e400"])
    if field == "k_source":
        return st.none() | st.sampled_from([b"guess", b"CLUSTER "]) | NOT_UTF8
    if field == "proposal_id":  # another proposal's permit grants nothing here
        return st.none() | st.sampled_from([b"pr-other", b"has space"]) | NOT_UTF8
    if field == "symbol":
        return st.none() | st.sampled_from([b"ETHUSDT", b"btc usdt"]) | NOT_UTF8
    if field == "side":
        return st.none() | st.sampled_from([b"SELL", b"HOLD"]) | NOT_UTF8
    return st.none() | NOT_UTF8 | st.just(b"x" * 300)  # reason


def budget_refused(field: str, now: float) -> st.SearchStrategy[bytes | None]:
    if field == "timestamp":
        return st.none() | in_units(now) | NOT_NUMBERS | st.just(repr(now).encode() + b".5")
    if field == "budget_usd":
        return st.none() | NOT_NUMBERS | st.sampled_from([b"-1", b"-0.01"])
    if field == "mode":
        return st.none() | st.sampled_from([b"strict", b"ENFORCE!"]) | NOT_UTF8
    if field == "symbol":  # the hash under BTCUSDT's key is another symbol's budget
        return st.none() | st.sampled_from([b"ETHUSDT", b"btc"]) | NOT_UTF8
    return st.none() | NOT_NUMBERS


@st.composite
def hash_plan(
    draw: st.DrawFn, good: dict[str, str], refused: Any, now: float, absent: bool
) -> tuple[dict[bytes, bytes] | bytes | None, str | None]:
    """What to store (None: absent; bytes: a string, not a hash) and the field the bot
    must name (None: nothing wrong)."""
    kinds = ["good", "good", "bad", "bad", "bad", "wrong_type"] + (["absent"] if absent else [])
    kind = draw(st.sampled_from(kinds))
    fields = {k.encode(): v.encode() for k, v in good.items()}
    if kind == "good":
        return fields, None
    if kind == "absent":
        return None, None
    if kind == "wrong_type":
        return draw(st.binary(max_size=8)), "type"
    name = draw(st.sampled_from(sorted(good)))
    value = draw(refused(name, now))
    if value is None:
        del fields[name.encode()]
    else:
        fields[name.encode()] = value
    return fields, name


def counted(worker: BotWorker, **labels: str) -> float:
    return total(worker.ctx.registry, MALFORMED, **labels)


def grown(worker: BotWorker, since: float, **labels: str) -> float:
    return growth(worker.ctx.registry, MALFORMED, since, **labels)


def reserve(client: redis.Redis, pid: str, now: float) -> None:
    """The exposure the gate reserves with a grant: the paper exchange fills an entry only
    while its permit's reservation stands."""
    held = Reservation(proposal_id=pid, symbol=SYMBOL, qty=1.0, price=PRICE, expires_ts=now + 600)
    client.hset(KEYS.reservations, pid, held.to_json())


@pytest.fixture
def bot(redis_proc: RedisProcess) -> Iterator[BotWorker]:
    env = {
        "TS_BOT_NAME": BOT,
        "TS_ACCOUNT": ACCOUNT,
        "TS_STRATEGY": "breakout_momentum",
        "TS_SYMBOLS": SYMBOL,
        "TS_ORDER_QTY_USD": "100",
        "TS_MAX_ORDERS_PER_MINUTE": "100000",
        "TS_MAX_OPEN_POSITIONS": "100000",
        "TS_PERMIT_WAIT_SECONDS": "20",  # a generous deadline: the permit is already there
        "TS_HEARTBEAT_INTERVAL_SECONDS": "30",
    }

    def factory(ctx: WorkerContext[BotSettings]) -> BotWorker:
        return BotWorker(ctx, open_feed(ctx.settings.feed, ctx.settings.symbols, time.time()))

    with in_process(factory, BotSettings, redis_proc, **env) as worker:
        yield worker


def test_a_bad_permit_or_budget_is_counted_by_field_and_every_proposal_decided(
    bot: BotWorker, redis_proc: RedisProcess
) -> None:
    client = raw_client(redis_proc)
    lease = bot.leadership.acquire_or_renew(time.monotonic())
    assert lease is not None
    bars = itertools.count()

    @settings(max_examples=200)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        now = time.time()
        ts = now - 3600 + next(bars)  # a bar of its own: a proposal id of its own
        pid = proposal_id(ACCOUNT, BOT, SYMBOL, ts, "BUY")
        granted = data.draw(st.booleans())
        good_permit = Permit(granted=granted, reason="ok" if granted else "heat_limit",
                             proposal_id=pid, symbol=SYMBOL, side="BUY", heat=0.1, conc=0.2,
                             corr_proxy=0.0, k=0.5, k_source="proxy", stress=0.1,
                             issued_ts=now)  # fmt: skip
        # In enforce mode with nothing left: a budget the bot reads blocks the entry.
        good_budget = Budget(symbol=SYMBOL, budget_usd=0.0, stress_factor=0.5,
                             equity_usd=100_000.0, portfolio_heat=0.1, cluster_stress=0.1,
                             vol_regime=0.33, mode="enforce", timestamp=int(now),
                             base_risk_pct=2.0)  # fmt: skip
        permit, permit_bad = data.draw(
            hash_plan(good_permit.to_fields(), permit_refused, now, absent=False)
        )
        budget, budget_bad = data.draw(
            hash_plan(good_budget.to_fields(), budget_refused, now, absent=True)
        )
        store_raw(client, KEYS.permit(pid), permit)
        reserve(client, pid, now)
        store_raw(client, KEYS.budget(SYMBOL), budget)
        before = {name: counted(bot, input=name) for name in ("permit", "budget")}
        named = {
            "permit": counted(bot, input="permit", field=permit_bad or ""),
            "budget": counted(bot, input="budget", field=budget_bad or ""),
        }

        outcome = bot.trader.act(
            Signal(SYMBOL, ts, "BUY", "r", 1.0),
            Bar(SYMBOL, ts, PRICE, PRICE, PRICE, PRICE, 1.0),
            lease,
            {},
            halted=False,
        )

        assert outcome is not None
        assert client.get(KEYS.decided(ACCOUNT, pid)) == outcome.decision.encode()
        budget_read = permit_bad is None and granted
        if permit_bad is not None:  # never traded on
            assert (outcome.decision, outcome.reason) == ("ERROR", "BadEntry")
        elif not granted:
            assert (outcome.decision, outcome.reason) == ("BLOCKED", "heat_limit")
        elif budget is not None and budget_bad is None:
            assert (outcome.decision, outcome.reason) == ("BLOCKED", "budget_exceeded")
        else:  # no budget, or a broken one: fail-open, the gate's permit decides
            assert (outcome.decision, outcome.reason) == ("EXECUTE", "filled")
        assert grown(bot, before["permit"], input="permit") == (permit_bad is not None)
        expected_budget = budget_read and budget_bad is not None
        assert grown(bot, before["budget"], input="budget") == expected_budget
        if permit_bad is not None:
            assert grown(bot, named["permit"], input="permit", field=permit_bad) == 1
        if expected_budget:
            assert grown(bot, named["budget"], input="budget", field=str(budget_bad)) == 1

    run()


@pytest.mark.parametrize(
    ("input_name", "field", "value"),
    [
        ("permit", "proposal_id", "pr-another-proposal"),
        ("permit", "symbol", "ETHUSDT"),
        ("permit", "side", "SELL"),
        ("budget", "symbol", "ETHUSDT"),
    ],
)
def test_a_hash_written_for_another_trade_is_inconsistent_not_obeyed(
    bot: BotWorker, redis_proc: RedisProcess, input_name: str, field: str, value: str
) -> None:
    """Well-formed, but not this trade's: a permit for another proposal grants nothing,
    another symbol's budget (here: none left) does not bind this one."""
    client = raw_client(redis_proc)
    lease = bot.leadership.acquire_or_renew(time.monotonic())
    assert lease is not None
    now = time.time()
    ts = now - 7200
    pid = proposal_id(ACCOUNT, BOT, SYMBOL, ts, "BUY")
    permit = Permit(granted=True, reason="ok", proposal_id=pid, symbol=SYMBOL, side="BUY",
                    heat=0.1, conc=0.2, corr_proxy=0.0, k=0.5, k_source="proxy", stress=0.1,
                    issued_ts=now).to_fields()  # fmt: skip
    budget = Budget(symbol=SYMBOL, budget_usd=0.0, stress_factor=0.5, equity_usd=100_000.0,
                    portfolio_heat=0.1, cluster_stress=0.1, vol_regime=0.33, mode="enforce",
                    timestamp=int(now), base_risk_pct=2.0).to_fields()  # fmt: skip
    (permit if input_name == "permit" else budget)[field] = value
    store_raw(client, KEYS.permit(pid), {k.encode(): v.encode() for k, v in permit.items()})
    reserve(client, pid, now)
    store_raw(client, KEYS.budget(SYMBOL), {k.encode(): v.encode() for k, v in budget.items()})

    outcome = bot.trader.act(
        Signal(SYMBOL, ts, "BUY", "r", 1.0),
        Bar(SYMBOL, ts, PRICE, PRICE, PRICE, PRICE, 1.0),
        lease,
        {},
        halted=False,
    )

    expected = ("ERROR", "BadEntry") if input_name == "permit" else ("EXECUTE", "filled")
    assert outcome is not None
    assert (outcome.decision, outcome.reason) == expected
    assert counted(bot, input=input_name, field=field) == 1


def test_a_bad_cursor_is_counted_and_never_parks_the_bot(
    bot: BotWorker, redis_proc: RedisProcess
) -> None:
    client = raw_client(redis_proc)
    key = KEYS.bot_cursor(ACCOUNT, BOT)

    @settings(max_examples=40)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        now = time.time()
        good = st.integers(min_value=1, max_value=600).map(lambda m: repr(now - 60 * m).encode())
        bad = in_units(now) | NOT_NUMBERS
        kind = data.draw(st.sampled_from(["good", "bad", "wrong_type"]))
        client.delete(key)
        if kind == "wrong_type":
            client.hset(key, mapping={"ts": repr(now)})
        else:
            client.set(key, data.draw(good if kind == "good" else bad))
        before = counted(bot, input="cursor")

        bot.warm_up()  # as at a restart: the market resyncs to the persisted cursor

        assert grown(bot, before, input="cursor") == (kind != "good")
        assert bot.market.cursor <= time.time() + MAX_FUTURE_SKEW_SECONDS

    run()
