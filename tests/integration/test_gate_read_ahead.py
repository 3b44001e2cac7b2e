"""A gate reads its next batch in the round trip of its last write, against a real
redis-server: the next entries and the book come back with the write, are decided by
the next step, and are not left pending by a stop or by a write that must be decided
again or retried; what a stop during Redis failures cannot decide is named in a warning.
Taking over idle entries keeps its cadence (no read ahead when due).

Why: a read of its own queued behind another replica's write in Redis, so two replicas
fell into step, both waiting on Redis at once (bench/gate_throughput.py: two replicas
1.5x one on two cores; with the read ahead, 1.7-1.8x).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, cast

import pytest
import redis
from tests.harness.redis_procs import RedisProcess, wait_for
from tests.harness.streams import in_process

from tradingstack_workers.gate.reservations import Decision, DecisionWriter
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.gate.store import GateStore, ViewQuery
from tradingstack_workers.gate.worker import GateWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.metrics import REDIS_RETRIES
from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import RetryPolicy, Stopping
from tradingstack_workers.runtime.streams import StreamConfig, StreamConsumer
from tradingstack_workers.wire import Proposal, Reservation

pytestmark = pytest.mark.integration

KEYS = Keys()
PRICE = 100.0
BATCH = 5
#: Seconds a condition may take (two busy cores).
WAIT = 60.0


@pytest.fixture
def client(redis_proc: RedisProcess) -> redis.Redis:
    client = redis_proc.client()
    now = time.time()
    client.hset(KEYS.portfolio_state, mapping={"equity_usd": "100000", "drawdown": "0",
                                               "timestamp": repr(now)})  # fmt: skip
    client.hset(KEYS.snapshot("AAAUSDT"), mapping={"position_amt": "1.0", "mark_price": "100",
                                                   "ts_epoch": repr(now)})  # fmt: skip
    client.sadd(KEYS.snapshot_index, "AAAUSDT")
    return client


#: A small batch, and taking over idle entries not due while a test runs: it would
#: skip a read ahead (test_no_read_ahead_while_taking_over_idle_entries_is_due).
SETTINGS = {"TS_STREAM_BATCH_SIZE": str(BATCH), "TS_STREAM_CLAIM_IDLE_MS": "3600000"}


def gate_a(redis_proc: RedisProcess, **env: str) -> AbstractContextManager[GateWorker]:
    return in_process(GateWorker, GateSettings, redis_proc, "gate-a", **SETTINGS, **env)


@pytest.fixture
def gate(redis_proc: RedisProcess, client: redis.Redis) -> Iterator[GateWorker]:
    with gate_a(redis_proc) as worker:
        worker.step()  # the first fetch takes over idle entries: none yet
        yield worker


def propose(client: redis.Redis, ids: range) -> list[str]:
    """XADD a small BUY of AAAUSDT per id (each a grant, far from the limits)."""
    entry_ids = []
    for j in ids:
        p = Proposal(proposal_id=f"p{j}", bot="b", strategy="s", symbol="AAAUSDT", side="BUY",
                     qty=0.01, price=PRICE, notional_usd=1.0, ts=time.time())  # fmt: skip
        entry_ids.append(str(client.xadd(KEYS.proposal_stream, cast("Any", p.to_fields()))))
    return entry_ids


def pending(client: redis.Redis, gate: GateWorker) -> int:
    config = gate.consumer.config
    return int(client.xpending(config.stream, config.group)["pending"])


def decided(client: redis.Redis) -> int:
    return int(client.xlen(KEYS.gate_audit_stream))


class Records(logging.Handler):
    """Keeps every record it handles."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.kept: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append(record)


def retried(gate: GateWorker) -> float:
    """Redis calls the gate retried (its runtime counter)."""
    value = gate.ctx.registry.get_sample_value(f"{REDIS_RETRIES}_total", {"kind": "gate"})
    return value or 0.0


def calls(client: redis.Redis, command: str) -> int:
    """Calls of ``command`` since the last call of this function."""
    stats = client.info("commandstats")
    client.config_resetstat()
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_the_next_batch_comes_back_with_the_write(client: redis.Redis, gate: GateWorker) -> None:
    propose(client, range(12))
    gate.step()
    # The first batch is decided, and the second was read with its write: pending on
    # this gate, not yet decided.
    assert (decided(client), pending(client, gate)) == (BATCH, BATCH)
    calls(client, "xreadgroup")
    gate.step()
    # Decided without a read of its own: the one XREADGROUP read the last 2 ahead.
    assert (decided(client), pending(client, gate)) == (2 * BATCH, 2)
    assert calls(client, "xreadgroup") == 1
    gate.step()
    assert (decided(client), pending(client, gate)) == (12, 0)
    assert all(client.exists(KEYS.permit(f"p{j}")) for j in range(12))


def test_a_read_ahead_that_finds_nothing_reads_no_book(
    client: redis.Redis, gate: GateWorker
) -> None:
    """The book sent after a read ahead is read only when that read delivered entries
    (one HLEN, of the reservations hash, per book read): at a light load most reads
    ahead find nothing, and their book was read for nothing."""
    propose(client, range(2 * BATCH))
    calls(client, "hlen")
    gate.step()
    # The fetch's book, and the book of a read ahead that found the second batch.
    assert (decided(client), pending(client, gate)) == (BATCH, BATCH)
    assert calls(client, "hlen") == 2
    gate.step()
    # Decided on the book read ahead; the next read ahead found nothing: no book.
    assert (decided(client), pending(client, gate)) == (2 * BATCH, 0)
    assert calls(client, "hlen") == 0
    propose(client, range(2 * BATCH, 3 * BATCH))
    gate.step()
    # The step after reads its own book, with the entries that came since.
    assert (decided(client), pending(client, gate)) == (3 * BATCH, 0)
    assert calls(client, "hlen") == 1
    assert all(client.exists(KEYS.permit(f"p{j}")) for j in range(3 * BATCH))


def test_a_stopping_gate_decides_what_it_read_ahead_and_reads_no_more(
    client: redis.Redis, gate: GateWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry_ids = propose(client, range(3 * BATCH))
    write = gate.store.write_decisions

    def then_stop(*args: Any, **kwargs: Any) -> list[bool]:
        written = write(*args, **kwargs)
        gate.ctx.stop.set()  # SIGTERM lands during the first batch's write
        return written

    monkeypatch.setattr(gate.store, "write_decisions", then_stop)
    gate.step()
    assert (decided(client), pending(client, gate)) == (BATCH, BATCH)
    gate.close()  # as the loop does once it sees the stop
    # The batch read ahead is decided on the way out; the third is never read.
    assert (decided(client), pending(client, gate)) == (2 * BATCH, 0)
    config = gate.consumer.config
    [group] = [g for g in client.xinfo_groups(config.stream) if g["name"] == config.group]
    assert group["last-delivered-id"] == entry_ids[2 * BATCH - 1]


def test_entries_read_ahead_by_a_write_that_must_be_decided_again_are_kept(
    client: redis.Redis, gate: GateWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    propose(client, range(2 * BATCH))
    retry = RetryPolicy(budget_seconds=5.0)
    once = OnceWriter(client, retry, KEYS.prefix)
    other = GateStore(client, retry, once, KEYS, rescan_seconds=0.0,
                      decisions=DecisionWriter(client, retry, KEYS))  # fmt: skip
    write = gate.store.write_decisions
    raced: list[bool] = []

    def raced_once(*args: Any, **kwargs: Any) -> list[bool]:
        if not raced:
            # Another replica grants on a symbol this gate's view does not hold, after
            # this gate read the book: its write is refused whole (Conflict).
            raced.append(True)
            grant = Decision("x1", {"proposal_id": "x1"}, 60,
                             reservation=Reservation("x1", "NEWUSDT", 0.01, PRICE,
                                                     time.time() + 60),
                             notional_usd=1.0)  # fmt: skip
            seen = other.read_view(time.time(), {"NEWUSDT"})
            assert other.write_decisions([grant], seen, 1e9) == [True]
        return write(*args, **kwargs)

    monkeypatch.setattr(gate.store, "write_decisions", raced_once)
    gate.step()
    assert gate.metrics.reservation_conflicts._value.get() == 1
    # Decided again and written; what the refused write read ahead waits for the next step.
    assert (decided(client), pending(client, gate)) == (BATCH + 1, BATCH)
    gate.step()
    assert (decided(client), pending(client, gate)) == (2 * BATCH + 1, 0)
    assert all(client.exists(KEYS.permit(f"p{j}")) for j in range(2 * BATCH))


def test_no_read_ahead_while_taking_over_idle_entries_is_due(client: redis.Redis) -> None:
    """Under steady load every batch is read ahead: the consumer must still take over a
    dead replica's entries on its cadence, so it reads ahead only between those."""
    now = [1000.0]
    config = StreamConfig(stream=KEYS.proposal_stream, group="g", consumer="c",
                          dead_letter="dead", claim_idle_ms=10_000)  # fmt: skip
    consumer = StreamConsumer(client, RetryPolicy(budget_seconds=5.0), config,
                              clock=lambda: now[0])  # fmt: skip
    consumer.ensure_group()
    book = ViewQuery(KEYS, [], whole=False)
    assert consumer.read_ahead(book) is None  # claim due
    consumer.fetch()
    assert consumer.read_ahead(book) is not None
    now[0] += 5.0  # half the idle time: the next take-over is due
    assert consumer.read_ahead(book) is None


def test_a_retried_write_reads_ahead_once_and_a_stop_in_its_retries_is_reported(
    redis_proc: RedisProcess, client: redis.Redis
) -> None:
    """WAIT for a replica this master does not have: every write of the batch is retried
    (its script ran; WAIT came back short). The retries do not read ahead again, which
    would deliver another batch each and strand the earlier ones. Stopped in those
    retries, the gate cannot confirm what it read ahead: it says so, with the ids."""
    lacking = gate_a(redis_proc, TS_REDIS_WRITE_REPLICAS="1", TS_REDIS_RETRY_BUDGET_SECONDS="600",
                     TS_REDIS_WRITE_REPLICA_TIMEOUT_MS="10")  # fmt: skip
    with lacking as gate:
        stopped_in_retries(gate, client)


def stopped_in_retries(gate: GateWorker, client: redis.Redis) -> None:
    gate.step()  # the first fetch takes over idle entries: none yet
    entry_ids = propose(client, range(4 * BATCH))
    raised: list[BaseException] = []

    def step() -> None:
        try:
            gate.step()
        except Stopping as exc:
            raised.append(exc)

    stepping = threading.Thread(target=step)
    stepping.start()
    try:
        wait_for(lambda: retried(gate) >= 3, WAIT, "three retries of the batch's write")
    finally:
        gate.ctx.stop.set()
        stepping.join(WAIT)
    assert not stepping.is_alive()
    assert len(raised) == 1  # the stop ended the retries
    # The first batch's script ran (decided, acknowledged); only the second, read ahead
    # once, is pending.
    assert (decided(client), pending(client, gate)) == (BATCH, BATCH)
    # The worker's own logger: in_process silences the root logger's handlers.
    records = Records()
    logger = logging.getLogger("tradingstack_workers.gate.worker")
    logger.addHandler(records)
    try:
        gate.close()
    finally:
        logger.removeHandler(records)
    [warning] = [r for r in records.kept if r.getMessage().startswith("stopping before")]
    assert warning.__dict__["entries"] == BATCH
    assert (warning.__dict__["first_entry"], warning.__dict__["last_entry"]) == (
        entry_ids[BATCH], entry_ids[2 * BATCH - 1])  # fmt: skip
    # Its script may have run (WAIT came back short, not the master): each entry read
    # ahead is decided or pending for a replica to take over, and nothing more was read.
    assert decided(client) + pending(client, gate) == 2 * BATCH
    config = gate.consumer.config
    [group] = [g for g in client.xinfo_groups(config.stream) if g["name"] == config.group]
    assert group["last-delivered-id"] == entry_ids[2 * BATCH - 1]


def test_leaving_an_in_process_gate_closes_it_and_gives_the_root_logger_back(
    redis_proc: RedisProcess, client: redis.Redis
) -> None:
    """bench.common.in_process_worker (the benches' and these tests' gate) ends as
    run_worker does, stopped then closed: what was read ahead is decided. It silenced the
    worker's logs with a handler on a sink it then closed; left in place, every later
    record in the process printed 'Logging error' (seen in the operator tier's runs)."""
    root = logging.getLogger()
    before = root.handlers[:]
    propose(client, range(2 * BATCH))
    with gate_a(redis_proc) as gate:
        assert root.handlers != before  # silenced while it runs
        gate.step()
        assert (decided(client), pending(client, gate)) == (BATCH, BATCH)
    assert (decided(client), pending(client, gate)) == (2 * BATCH, 0)
    assert root.handlers == before
