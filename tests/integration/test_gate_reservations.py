"""Granted permits reserve exposure: a burst across two gate replicas stays within max_heat.

Forty proposals, each a twentieth of the heat limit, arrive at once on the stream that two
gate processes share; together they are worth 1.5 times the limit. A bot stand-in fills
every granted permit through the real chokepoint as soon as it appears, so reservations
turn into positions while the gates are still deciding. Whatever the interleaving, the
filled book's heat and stress stay within the limits, and both replicas took part.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import cast

import pytest
import redis
from tests.conftest import TEST_PASSWORD
from tests.harness.processes import WorkerProcess, start_worker, stream_worker_env
from tests.harness.redis_procs import RedisProcess, wait_for
from tests.harness.reservations import released

from tradingstack_workers.bots.execution import OrderIntent, PaperConfig, PaperExchange, Protections
from tradingstack_workers.gate.decide import GateLimits, correlation_k, stress_of
from tradingstack_workers.gate.decide import PortfolioView as View
from tradingstack_workers.gate.figures import figures
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.leadership import RedisLease
from tradingstack_workers.runtime.redis_client import RetryPolicy
from tradingstack_workers.wire import Permit, Proposal, Reservation

pytestmark = pytest.mark.integration

KEYS = Keys()
ACCOUNT = "burst"
EQUITY = 100_000.0
LIMITS = GateLimits()  # max_heat 0.90 at a 3x leverage cap: 270,000 USD gross
SYMBOLS = ("AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT", "EEEUSDT")
PRICE = 100.0
NOTIONAL = 10_000.0  # each proposal alone: heat 0.033
COUNT = 40  # together: 400,000 USD, heat 1.33
WAIT = 60.0


# Small batches so both replicas read from the burst; larger ones so that each batch's
# grants are written together, racing the other replica's (issue #18).
@pytest.fixture(params=["2", "8"], ids=["batch2", "batch8"])
def gates(
    redis_proc: RedisProcess, request: pytest.FixtureRequest
) -> Iterator[list[WorkerProcess]]:
    url = f"redis://127.0.0.1:{redis_proc.port}/0"
    started = [
        start_worker(
            "gate",
            stream_worker_env(
                url,
                TEST_PASSWORD,
                name,
                TS_STREAM_BATCH_SIZE=request.param,
                TS_PORTFOLIO_STALE_SECONDS="600",
                TS_SNAPSHOT_RESCAN_SECONDS="0",
            ),
        )
        for name in ("gate-a", "gate-b")
    ]
    try:
        for gate in started:
            wait_for(lambda g=gate: g.get("/readyz")[0] == 200, WAIT, "gate ready")  # type: ignore[misc]
        yield started
    finally:
        for gate in started:
            gate.stop()


def permits(client: redis.Redis, ids: list[str]) -> dict[str, Permit]:
    pipe = client.pipeline(transaction=False)
    for pid in ids:
        pipe.hgetall(KEYS.permit(pid))
    found = {}
    for pid, fields in zip(ids, pipe.execute(), strict=True):
        if fields:
            found[pid] = Permit.parse(cast("dict[str, str]", fields), None)
    return found


class Bot(threading.Thread):
    """Fills every granted permit at once, through the chokepoint, with its reservation."""

    def __init__(self, client: redis.Redis, proposals: list[Proposal]) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.proposals = {p.proposal_id: p for p in proposals}
        self.exchange = PaperExchange(
            client, RetryPolicy(budget_seconds=5.0), KEYS, ACCOUNT,
            config=PaperConfig(initial_cash_usd=10_000_000.0, max_leverage=0.0),
            protections=Protections(),
        )  # fmt: skip
        self.exchange.open()
        lease = RedisLease(client, KEYS.bot_leadership(ACCOUNT), "bot", lease_seconds=600)
        held = lease.acquire_or_renew(time.monotonic())
        assert held is not None
        self.epoch = held.epoch
        self.answers: dict[str, Permit] = {}
        self.labels: dict[str, str] = {}
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while len(self.answers) < len(self.proposals) and not self.done.is_set():
                waiting = [p for p in self.proposals if p not in self.answers]
                for pid, permit in permits(self.client, waiting).items():
                    self.answers[pid] = permit
                    if permit.granted:
                        self.labels[pid] = self.fill(self.proposals[pid])
                time.sleep(0.005)
        except BaseException as exc:
            self.error = exc

    def fill(self, p: Proposal) -> str:
        intent = OrderIntent(ACCOUNT, p.bot, p.proposal_id, p.symbol, p.side, p.qty)
        result = self.exchange.submit(intent, self.epoch, p.price, time.time(),
                                      reservation=p.proposal_id)  # fmt: skip
        return result.label


def test_a_burst_across_two_gates_fills_no_more_than_max_heat(
    redis_proc: RedisProcess, gates: list[WorkerProcess]
) -> None:
    client = redis_proc.client()
    client.hset(KEYS.portfolio_state, mapping={"equity_usd": repr(EQUITY), "drawdown": "0",
                                               "timestamp": repr(time.time())})  # fmt: skip
    now = time.time()
    qty = NOTIONAL / PRICE
    burst = [
        Proposal(proposal_id=f"burst-{i}", bot="bot", strategy="s",
                 symbol=SYMBOLS[i % len(SYMBOLS)], side="BUY", qty=qty, price=PRICE,
                 notional_usd=NOTIONAL, ts=now)
        for i in range(COUNT)
    ]  # fmt: skip
    limit_usd = LIMITS.max_heat * LIMITS.leverage_cap * EQUITY
    assert NOTIONAL < limit_usd < COUNT * NOTIONAL  # each passes alone, all together do not

    bot = Bot(client, burst)
    bot.start()
    pipe = client.pipeline(transaction=False)
    for p in burst:
        pipe.xadd(KEYS.proposal_stream, p.to_fields())  # type: ignore[arg-type]
    pipe.execute()
    try:
        wait_for(lambda: len(bot.answers) == COUNT or bot.error is not None, WAIT, "every permit")
    finally:
        bot.done.set()
        bot.join(timeout=WAIT)
    assert bot.error is None, bot.error

    granted = [pid for pid, permit in bot.answers.items() if permit.granted]
    denied = {permit.reason for permit in bot.answers.values() if not permit.granted}
    assert set(bot.labels.values()) == {"filled"}, bot.labels
    assert denied == {"heat_limit"}
    book = {s: q * PRICE for s, q in bot.exchange.state().positions.items()}
    filled = figures(book, EQUITY, LIMITS.leverage_cap)
    assert sum(book.values()) == pytest.approx(len(granted) * NOTIONAL)
    assert filled.heat <= LIMITS.max_heat + 1e-9
    assert len(granted) == int(limit_usd // NOTIONAL)  # the limit is reached, not undershot
    view = View(EQUITY, time.time(), {}, None, time.time())
    k, _, _ = correlation_k(view, book, filled.corr_proxy, LIMITS)
    assert stress_of(filled, k, LIMITS) <= LIMITS.max_stress + 1e-9
    assert client.hlen(KEYS.reservations) == 0  # every reservation became a position
    # Each ended once, counted and logged for the gates (runtime.releases).
    count, names = released(client, KEYS)
    assert (count, sorted(names)) == (len(granted), sorted(granted))
    deciders = {f["gate"] for _, f in cast("list[tuple[str, dict[str, str]]]",
                                           client.xrange(KEYS.gate_audit_stream))}  # fmt: skip
    assert deciders == {"gate-a", "gate-b"}


def test_the_chokepoint_ends_a_reservation_with_its_answer(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    bot = Bot(client, [])
    now = time.time()

    def reserve(pid: str, qty: float, expires: float) -> None:
        client.hset(
            KEYS.reservations, pid, Reservation(pid, "AAAUSDT", qty, PRICE, expires).to_json()
        )

    def submit(pid: str, qty: float, epoch: int | None = None) -> str:
        intent = OrderIntent(ACCOUNT, "bot", pid, "AAAUSDT", "BUY", qty)
        result = bot.exchange.submit(
            intent, bot.epoch if epoch is None else epoch, PRICE, now, reservation=pid
        )
        return result.label

    reserve("fills", 2.0, now + 60)
    assert submit("fills", 2.0) == "filled"
    assert not client.hexists(KEYS.reservations, "fills")
    snapshot = client.hgetall(KEYS.snapshot("AAAUSDT"))  # the gate sees the position now
    assert (float(snapshot["position_amt"]), float(snapshot["mark_price"])) == (2.0, PRICE)
    assert client.sismember(KEYS.snapshot_index, "AAAUSDT")  # and finds it without a SCAN

    reserve("late", 1.0, now - 1)
    assert submit("late", 1.0) == "rejected:permit_expired"
    assert submit("never", 1.0) == "rejected:permit_expired"  # no reservation at all
    assert not client.hexists(KEYS.reservations, "late")

    reserve("halted", 1.0, now + 60)
    client.set(KEYS.halted, "1")
    assert submit("halted", 1.0) == "rejected:halted"
    assert not client.hexists(KEYS.reservations, "halted")  # a refusal ends it too
    client.set(KEYS.halted, "0")

    reserve("zombie", 1.0, now + 60)
    assert submit("zombie", 1.0, epoch=bot.epoch - 1) == "stale_epoch"
    assert client.hexists(KEYS.reservations, "zombie")  # the current leader may still use it
    # Each end counted and logged once for the gates; "never" held nothing to end.
    assert released(client, KEYS) == (3, ["fills", "late", "halted"])
    assert bot.exchange.state().positions == {"AAAUSDT": 2.0}
