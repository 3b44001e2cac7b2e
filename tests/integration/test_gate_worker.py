"""The gate as real processes against a real redis-server: proposals in, permits out."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import TEST_PASSWORD
from tests.harness.held_worker import hold_key
from tests.harness.processes import (
    DEADLINE,
    WorkerProcess,
    drained,
    pending_count,
    start_worker,
    stream_worker_env,
)
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.gate.worker import GROUP
from tradingstack_workers.keys import Keys
from tradingstack_workers.wire.proposal import Permit, Proposal

pytestmark = pytest.mark.integration

KEYS = Keys()
DEAD = KEYS.dead_letter(KEYS.proposal_stream)


def entries(client: redis.Redis, stream: str) -> list[tuple[str, dict[str, str]]]:
    return cast("list[tuple[str, dict[str, str]]]", client.xrange(stream))


def xadd(
    client: redis.Redis | redis.client.Pipeline, fields: dict[str, str], entry_id: str = "*"
) -> None:
    client.xadd(KEYS.proposal_stream, cast("dict[Any, Any]", fields), id=entry_id)


def start_gate(
    server: RedisProcess, name: str, *, held: bool = False, **extra: str
) -> WorkerProcess:
    env = stream_worker_env(
        f"redis://127.0.0.1:{server.port}/0",
        TEST_PASSWORD,
        name,
        TS_SNAPSHOT_RESCAN_SECONDS="0",
        **extra,
    )
    gate = start_worker("gate", env, held=held)
    wait_for(lambda: gate.get("/readyz")[0] == 200, DEADLINE, f"{name} ready")
    return gate


@pytest.fixture
def gate(redis_proc: RedisProcess) -> Iterator[WorkerProcess]:
    process = start_gate(redis_proc, "gate-a")
    yield process
    process.stop()


def metric(gate: WorkerProcess, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(gate.metrics()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name}{labels}")


def book(client: redis.Redis, *, equity: float = 100_000.0, **positions: float) -> None:
    now = time.time()
    state: dict[Any, Any] = {"equity_usd": equity, "drawdown": 0.0, "timestamp": now}
    client.hset(KEYS.portfolio_state, mapping=state)
    for symbol, amt in positions.items():
        client.hset(
            KEYS.snapshot(symbol), mapping={"position_amt": amt, "mark_price": 100, "ts_epoch": now}
        )
        client.sadd(KEYS.snapshot_index, symbol)


def propose(client: redis.Redis, pid: str, symbol: str = "ETHUSDT", qty: float = 1.0) -> None:
    xadd(client, proposal(pid, symbol, qty).to_fields())


def proposal(pid: str, symbol: str = "ETHUSDT", qty: float = 1.0) -> Proposal:
    return Proposal(
        proposal_id=pid,
        bot="bot-a",
        strategy="breakout",
        symbol=symbol,
        side="BUY",
        qty=qty,
        price=100.0,
        notional_usd=qty * 100.0,
        ts=time.time(),
    )


def counted(gate: WorkerProcess, pid: str) -> None:
    """Wait for the log line of the batch that decided ``pid``: the gate logs a batch
    after counting it in its metrics, which it does just after writing its permits."""

    def named() -> bool:
        for line in list(gate.lines):
            if line.get("event") == "decisions" and (
                line["last"]["proposal_id"] == pid
                or any(r["proposal_id"] == pid for r in line["refused"])
            ):
                return True
        return False

    wait_for(named, DEADLINE, f"{pid} logged")


def permit(client: redis.Redis, pid: str) -> Permit:
    wait_for(lambda: client.exists(KEYS.permit(pid)) == 1, DEADLINE, f"permit {pid}")
    return Permit.parse(cast("dict[str, str]", client.hgetall(KEYS.permit(pid))), time.time())


def test_proposals_in_permits_with_ttl_out(redis_proc: RedisProcess, gate: WorkerProcess) -> None:
    client = redis_proc.client()
    booked = time.time()
    book(client, BTCUSDT=10.0)
    propose(client, "p-1", qty=10.0)
    issued = permit(client, "p-1")
    assert issued.granted
    assert issued.reason == "ok"
    assert (issued.symbol, issued.side, issued.k_source) == ("ETHUSDT", "BUY", "proxy")
    # Expires 60 s after it was written, which was after booking and before now
    # (EXPIRETIME rounds to the second).
    expiry = client.expiretime(KEYS.permit("p-1"))
    assert int(booked) + 60 <= expiry <= int(time.time()) + 61
    heat = cast("dict[str, str]", client.hgetall(KEYS.portfolio_heat))
    assert float(heat["heat"]) == pytest.approx(1000 / 100_000 / 3)
    assert booked <= float(heat["ts"]) <= time.time()  # published after the booking
    [(_, audit)] = entries(client, KEYS.gate_audit_stream)
    assert (audit["proposal_id"], audit["gate"], audit["bot"]) == ("p-1", "gate-a", "bot-a")
    # Capacity 300 000 USD (3x equity): BTC 1 000 + ETH 1 000 USD, both long.
    line = gate.wait_log("heat=0.007, conc=0.003, corr_proxy=0.007, K=0.007 (proxy), stress=0.006")
    # One line per batch: its counts, and the figures (message) of its last decision.
    assert (line["event"], line["proposals"], line["granted"], line["denied"]) == (
        "decisions",
        1,
        1,
        {},
    )
    assert (line["last"]["proposal_id"], line["last"]["granted"]) == ("p-1", True)
    assert line["refused"] == []
    assert metric(gate, "p26_proposals_processed_total") == 1
    assert metric(gate, "p26_permits_issued_total", reason="ok") == 1
    age = metric(gate, "p26_snapshot_age_seconds", symbol="BTCUSDT")  # the gate's own clock
    assert age >= 0
    assert booked + age <= time.time()  # the snapshot's stamp plus its age: before now

    book(client, equity=1000.0)  # BTC 1 000 USD is now heat 0.33; +4 000 USD reaches 1.0
    propose(client, "p-2", qty=40.0)
    denied = permit(client, "p-2")
    assert not denied.granted
    assert denied.reason == "heat_limit"
    counted(gate, "p-2")
    assert metric(gate, "p26_permits_denied_total", reason="heat_limit") == 1

    refused = [r for line in list(gate.lines) for r in line.get("refused", [])]
    assert [(r["proposal_id"], r["reason"], r["symbol"]) for r in refused] == [
        ("p-2", "heat_limit", "ETHUSDT")
    ]  # a refusal is logged on its own in its batch's line


def test_cluster_when_fresh_proxy_when_stale_and_back(
    redis_proc: RedisProcess, gate: WorkerProcess
) -> None:
    """Seed 001's manual verification, automated."""
    client = redis_proc.client()
    book(client, BTCUSDT=10.0)
    cluster: dict[Any, Any] = {
        "cluster_stress": 0.748,
        "clusters_count": 1,
        "updated_ts": time.time(),
        "symbols": "BTCUSDT,ETHUSDT",
    }
    client.hset(KEYS.cluster_state, mapping=cluster)
    propose(client, "fresh")
    used = permit(client, "fresh")
    assert (used.k_source, used.k) == ("cluster", 0.748)
    line = gate.wait_log(
        "heat=0.004, conc=0.003, corr_proxy=0.004, K=0.748 (cluster), stress=0.115"
    )
    # The state names both symbols: it covers the book.
    assert (line["last"]["k_fallback"], line["k_fallback"]) == (None, {})
    assert line["k_source"] == {"cluster": 1}
    assert metric(gate, "p26_cluster_stress_used") == 1
    assert metric(gate, "p26_cluster_fallback_total", reason="stale") == 0

    # The first permit's order is given up: its reservation goes, the book is the seed's again.
    client.hdel(KEYS.reservations, "fresh")
    client.hset(KEYS.cluster_state, "updated_ts", time.time() - 121)
    propose(client, "stale", qty=10.0)
    fallback = permit(client, "stale")
    assert fallback.k_source == "proxy"
    assert fallback.k == fallback.corr_proxy
    counted(gate, "stale")
    assert metric(gate, "p26_cluster_stress_used") == 0
    assert metric(gate, "p26_cluster_fallback_total", reason="stale") == 1
    assert gate.wait_log("heat=0.007, conc=0.003, corr_proxy=0.007, K=0.007 (proxy), stress=0.006")

    client.hset(KEYS.cluster_state, "updated_ts", time.time())
    propose(client, "again")
    assert permit(client, "again").k_source == "cluster"
    counted(gate, "again")
    assert metric(gate, "p26_cluster_stress_used") == 1
    assert metric(gate, "p26_k_source_total", source="cluster") == 2


def audit_ids(client: redis.Redis) -> Counter[str]:
    return Counter(f["proposal_id"] for _, f in entries(client, KEYS.gate_audit_stream))


def test_two_gates_share_a_stream_each_proposal_once(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    book(client, BTCUSDT=1.0)
    gates = [start_gate(redis_proc, n, TS_STREAM_BATCH_SIZE="20") for n in ("gate-a", "gate-b")]
    try:
        for i in range(0, 1000, 100):
            pipe = client.pipeline(transaction=False)
            for j in range(i, i + 100):
                xadd(pipe, proposal(f"s-{j}").to_fields())
            pipe.execute()
        wait_for(lambda: drained(client, KEYS.proposal_stream, GROUP), DEADLINE, "1000 decisions")
        ids = audit_ids(client)
        assert len(ids) == 1000
        assert set(ids.values()) == {1}
        by_gate = Counter(f["gate"] for _, f in entries(client, KEYS.gate_audit_stream))
        assert set(by_gate) == {"gate-a", "gate-b"}
    finally:
        for g in gates:
            g.stop()


def pending_of(client: redis.Redis, consumer: str) -> int:
    return pending_count(client, KEYS.proposal_stream, GROUP, consumer)


def test_a_killed_gates_pending_proposals_are_reclaimed(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    book(client, BTCUSDT=1.0)
    total = 3000
    now_ms = int(time.time() * 1000)
    ids = [f"{now_ms}-{j}" for j in range(total)]
    a = start_gate(redis_proc, "gate-a", held=True, TS_STREAM_BATCH_SIZE="200")
    b: WorkerProcess | None = None
    try:
        client.set(hold_key("gate-a"), ids[total // 2])  # "a" holds the batch that reaches it...
        pipe = client.pipeline(transaction=False)
        for j in range(total):
            xadd(pipe, proposal(f"k-{j}").to_fields(), ids[j])
        pipe.execute()
        held = int(a.wait_log("holding batch")["entries"])
        assert pending_of(client, "gate-a") == held > 0
        b = start_gate(redis_proc, "gate-b", TS_STREAM_BATCH_SIZE="200")
        a.proc.kill()  # ...and is killed holding it
        a.proc.wait(timeout=10)
        wait_for(lambda: client.xlen(KEYS.gate_audit_stream) >= total, DEADLINE, "every decision")
        wait_for(lambda: pending_of(client, "gate-a") == 0, DEADLINE, "a's entries reclaimed")
        b.wait_log("claimed idle entries")
        wait_for(lambda: drained(client, KEYS.proposal_stream, GROUP), DEADLINE, "all acknowledged")
        ids_seen = audit_ids(client)
        assert len(ids_seen) == total
        assert set(ids_seen.values()) == {1}  # exactly one permit per proposal
        assert all(client.exists(KEYS.permit(f"k-{j}")) for j in range(0, total, 97))
        assert client.xlen(DEAD) == 0
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_a_poison_entry_is_dead_lettered_after_n_deliveries(
    redis_proc: RedisProcess, gate: WorkerProcess
) -> None:
    client = redis_proc.client()
    book(client)
    client.set(KEYS.permit("poison"), "not a hash")  # every write of its permit fails
    propose(client, "poison")
    propose(client, "fine")
    assert permit(client, "fine").granted
    wait_for(lambda: client.xlen(DEAD) == 1, DEADLINE, "dead letter")
    [(_, dead)] = entries(client, DEAD)
    assert dead["proposal_id"] == "poison"
    assert dead["dead_cause"] == "failed"
    assert dead["dead_deliveries"] == "3"
    assert "WRONGTYPE" in dead["dead_error"]
    assert metric(gate, "p26_dead_lettered_total", cause="failed") == 1
    assert client.xpending(KEYS.proposal_stream, GROUP)["pending"] == 0


def test_malformed_input_is_counted_and_the_loop_goes_on(
    redis_proc: RedisProcess, gate: WorkerProcess
) -> None:
    client = redis_proc.client()
    book(client, BTCUSDT=1.0)
    now = time.time()
    client.hset(
        KEYS.snapshot("AAAUSDT"), mapping={"position_amt": 1, "mark_price": "x", "ts_epoch": now}
    )
    client.hset(KEYS.snapshot("BBBUSDT"), mapping={"position_amt": 1, "mark_price": 5})
    client.set(KEYS.snapshot("CCCUSDT"), "not a hash")
    client.sadd(KEYS.snapshot_index, "AAAUSDT", "BBBUSDT", "CCCUSDT")
    good = proposal("ok-1").to_fields()
    xadd(client, {**good, "qty": "abc"})
    xadd(client, {k: v for k, v in good.items() if k != "symbol"})
    xadd(client, {"unrelated": ""})
    propose(client, "ok-1")
    # Unreadable snapshots hide part of the book: new risk is refused (review D7).
    assert permit(client, "ok-1").reason == "snapshot_malformed"
    wait_for(lambda: client.xlen(DEAD) == 3, DEADLINE, "three dead letters")
    assert metric(gate, "p26_proposals_malformed_total", field="qty") == 1
    assert metric(gate, "p26_proposals_malformed_total", field="symbol") == 1
    assert metric(gate, "p26_proposals_malformed_total", field="proposal_id") == 1
    assert metric(gate, "p26_dead_lettered_total", cause="permanent") == 3
    for field in ("mark_price", "ts_epoch", "type"):
        assert metric(gate, "p26_snapshot_malformed_total", field=field) >= 1
    assert gate.proc.poll() is None
    assert gate.get("/healthz")[0] == 200


def test_heat_is_published_without_proposals(redis_proc: RedisProcess) -> None:
    """The governor reads heat from Redis; a quiet stream must not let it go stale."""
    client = redis_proc.client()
    book(client, equity=30_000.0, BTCUSDT=-300.0)  # 30 000 USD short on 30 000: 1x of 3x
    gate = start_gate(redis_proc, "gate-a", TS_HEAT_PUBLISH_SECONDS="0.3")
    try:
        wait_for(lambda: client.exists(KEYS.portfolio_heat) == 1, DEADLINE, "heat published")
        first = cast("dict[str, str]", client.hgetall(KEYS.portfolio_heat))
        assert float(first["heat"]) == pytest.approx(1 / 3)
        wait_for(
            lambda: client.hget(KEYS.portfolio_heat, "ts") != first["ts"],
            DEADLINE,
            "heat republished",
        )
        assert metric(gate, "p26_portfolio_heat") == pytest.approx(1 / 3)
    finally:
        gate.stop()
