"""A batch of decisions in one script call, against a real redis-server: once per
proposal, and grants written side by side by two gates only within each other's room.

Two gates (A and B) read the same book, then write their batches in turn; B's write
sees A's grants. Grants on held symbols within B's headroom do not make B decide
again; beyond it, or on a symbol B's view does not hold, B's write is refused whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import pytest
import redis
from tests.conftest import TEST_PASSWORD
from tests.harness.processes import start_worker, stream_worker_env
from tests.harness.redis_procs import RedisProcess, wait_for
from tests.harness.streams import in_process

from tradingstack_workers.gate.decide import PortfolioView
from tradingstack_workers.gate.reservations import Conflict, Decision, DecisionWriter, Reserved
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.gate.spot_check import PERIOD_SECONDS
from tradingstack_workers.gate.store import GateStore, ViewQuery, ViewRead
from tradingstack_workers.gate.worker import GateWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import RetryPolicy
from tradingstack_workers.runtime.releases import release
from tradingstack_workers.runtime.streams import StreamEntry
from tradingstack_workers.wire import Proposal, Reservation

pytestmark = pytest.mark.integration

KEYS = Keys()
PRICE = 100.0
WAIT = 60.0


def store(
    client: redis.Redis,
    *,
    rescan_seconds: float = 0.0,
    monotonic: Callable[[], float] = time.monotonic,
) -> GateStore:
    """A gate's store on ``client``; ``rescan_seconds`` 0 reads the snapshot index each
    view, a large one only once."""
    retry = RetryPolicy(budget_seconds=5.0)
    return GateStore(
        client, retry, OnceWriter(client, retry, KEYS.prefix), KEYS,
        rescan_seconds=rescan_seconds, monotonic=monotonic,
        decisions=DecisionWriter(client, retry, KEYS),
    )  # fmt: skip


def seed(client: redis.Redis, held: dict[str, float]) -> None:
    now = time.time()
    client.hset(KEYS.portfolio_state, mapping={"equity_usd": "100000", "drawdown": "0",
                                               "timestamp": repr(now)})  # fmt: skip
    for symbol, amt in held.items():
        client.hset(KEYS.snapshot(symbol), mapping={"position_amt": repr(amt),
                                                    "mark_price": repr(PRICE),
                                                    "ts_epoch": repr(now)})  # fmt: skip
        client.sadd(KEYS.snapshot_index, symbol)


def grant(pid: str, symbol: str, qty: float, expires_ts: float | None = None) -> Decision:
    """A grant's writes: a permit, an audit entry (the test counts them) and its
    reservation (expiring in 60 s unless ``expires_ts``)."""
    expires = time.time() + 60 if expires_ts is None else expires_ts
    reservation = Reservation(pid, symbol, qty, PRICE, expires)
    return Decision(pid, {"proposal_id": pid}, 60, reservation=reservation,
                    notional_usd=abs(qty) * PRICE)  # fmt: skip


def read(s: GateStore) -> ViewRead:
    return s.read_view(time.time(), {"AAAUSDT", "BBBUSDT"})


def reserved(view: PortfolioView) -> set[str]:
    return set(view.reserved)


def round_trips(client: redis.Redis) -> int:
    """Script calls since the last call (each read of the book is one)."""
    calls = int(client.info("commandstats").get("cmdstat_eval", {}).get("calls", 0))
    client.config_resetstat()
    return calls


def test_grants_on_held_symbols_within_the_room_do_not_conflict(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0, "BBBUSDT": 1.0})
    a, b = store(client), store(client)
    seen_a, seen_b = read(a), read(b)
    assert a.write_decisions([grant("a1", "AAAUSDT", 10.0)], seen_a, 5_000.0) == [True]
    # B read before A's 1,000 USD: within B's 1,500 USD of room, its grant stands.
    assert b.write_decisions([grant("b1", "BBBUSDT", 10.0)], seen_b, 1_500.0) == [True]
    assert reserved(read(store(client)).view) == {"AAAUSDT", "BBBUSDT"}
    # C read before both (2,000 USD since): beyond its 1,500 USD, nothing is written.
    c = store(client)
    seen_c = seen_b
    with pytest.raises(Conflict):
        c.write_decisions([grant("c1", "AAAUSDT", 1.0)], seen_c, 1_500.0)
    assert not client.hexists(KEYS.reservations, "c1")
    # Decided again on a fresh read, it is written.
    assert c.write_decisions([grant("c1", "AAAUSDT", 1.0)], read(c), 1_500.0) == [True]
    assert client.xlen(KEYS.gate_audit_stream) == 3


def test_a_grant_on_a_symbol_the_view_does_not_hold_conflicts_whatever_its_size(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    a, b = store(client), store(client)
    seen_b = read(b)
    # A reserves a symbol B's view holds no position in: its reservation is valued at
    # its own price and may re-value others on that symbol, so B decides again.
    assert a.write_decisions([grant("a1", "NEWUSDT", 0.01)], read(a), 1e9) == [True]
    with pytest.raises(Conflict):
        b.write_decisions([grant("b1", "AAAUSDT", 1.0)], seen_b, 1e9)
    # Denials and reducing trades (no reservation) need no room: written on any read.
    denial = Decision("b2", {"proposal_id": "b2", "granted": "0"}, 60)
    assert b.write_decisions([denial], seen_b, -1.0) == [True]


def test_each_decision_writes_its_own_permit_and_audit_entry(redis_proc: RedisProcess) -> None:
    """The field names travel once per batch and each decision's values once: every
    permit and audit entry holds its own decision's values, in the permit's order, the
    audit entry with its own fields after them."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    a = store(client)

    def decision(pid: str, granted: str, ttl: int) -> Decision:
        return Decision(pid, {"proposal_id": pid, "granted": granted, "reason": f"r-{pid}"},
                        ttl, {"bot": f"bot-{pid}", "gate": "gate-a"})  # fmt: skip

    batch = [decision("d1", "1", 60), decision("d2", "0", 120), decision("d3", "1", 30)]
    assert a.write_decisions(batch, read(a), 1e9) == [True, True, True]
    audit = cast("list[tuple[str, dict[str, str]]]", client.xrange(KEYS.gate_audit_stream))
    for d, (_, entry) in zip(batch, audit, strict=True):
        assert client.hgetall(KEYS.permit(d.proposal_id)) == d.permit
        assert 0 < client.ttl(KEYS.permit(d.proposal_id)) <= d.permit_ttl_seconds
        assert list(entry.items()) == [*d.permit.items(), *d.audit.items()]
    # Decisions of one batch share their field names; one that does not is refused
    # before anything is written.
    odd = Decision("d5", {"proposal_id": "d5"}, 60, {"bot": "bot-d5", "gate": "gate-a"})
    with pytest.raises(ValueError, match="d5: its permit and audit fields differ"):
        a.write_decisions([decision("d4", "1", 60), odd], read(a), 1e9)
    assert not client.exists(KEYS.permit("d4"), KEYS.permit("d5"))
    assert client.xlen(KEYS.gate_audit_stream) == 3


def test_a_redelivered_batch_keeps_its_first_decisions(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    a = store(client)
    batch = [grant("p1", "AAAUSDT", 1.0), grant("p2", "AAAUSDT", 2.0)]
    assert a.write_decisions(batch, read(a), 1e9) == [True, True]
    # Redelivered with one more: the first two are not written again, the third is.
    again = [*batch, grant("p3", "AAAUSDT", 3.0)]
    assert a.write_decisions(again, read(a), 1e9) == [False, False, True]
    assert client.xlen(KEYS.gate_audit_stream) == 3
    assert client.hlen(KEYS.reservations) == 3
    assert float(client.hget(KEYS.reservation_grants, "usd") or 0) == pytest.approx(600.0)


def test_a_proposal_twice_in_one_batch_is_decided_once(redis_proc: RedisProcess) -> None:
    """The markers are read once per batch: a proposal id met again in the same batch is
    a redelivery too, and its first decision stands."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    a = store(client)
    batch = [grant("p1", "AAAUSDT", 1.0), grant("p2", "AAAUSDT", 2.0), grant("p1", "AAAUSDT", 5.0)]
    assert a.write_decisions(batch, read(a), 1e9) == [True, True, False]
    assert client.xlen(KEYS.gate_audit_stream) == 2
    assert client.hlen(KEYS.reservations) == 2
    first = cast("str", client.hget(KEYS.reservations, "p1"))
    assert Reservation.from_json("p1", first).qty == 1.0
    assert client.hget(KEYS.reservation_grants, "count") == "2"
    assert float(client.hget(KEYS.reservation_grants, "usd") or 0) == pytest.approx(300.0)


def test_a_batch_of_the_largest_size_is_written_pruned_and_acknowledged_whole(
    redis_proc: RedisProcess,
) -> None:
    """A batch as large as ``stream_batch_size`` allows, with as many fields to prune:
    Lua's unpack takes at most 8000 values, so the script's multi-key calls (markers,
    reservations, prunes, the XACK) go in parts."""
    largest = next(m.le for m in GateSettings.model_fields["stream_batch_size"].metadata
                   if getattr(m, "le", None) is not None)  # fmt: skip
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    expired = time.time() - 1
    stale: dict[Any, str] = {
        f"old{i}": Reservation(f"old{i}", "AAAUSDT", 1.0, PRICE, expired).to_json()
        for i in range(largest)
    }
    client.hset(KEYS.reservations, mapping=stale)
    stream, group = KEYS.proposal_stream, "g"
    client.xgroup_create(stream, group, id="0", mkstream=True)
    pipe = client.pipeline(transaction=False)
    for i in range(largest):
        pipe.xadd(stream, {"proposal_id": f"p{i}"})
    ids = [str(entry_id) for entry_id in pipe.execute()]
    client.xreadgroup(group, "c", {stream: ">"}, count=largest)
    a = store(client)
    seen = read(a)
    assert sorted(seen.drop) == sorted(stale)  # every one expired
    batch = [grant(f"p{i}", "AAAUSDT", 0.001) for i in range(largest)]
    assert a.write_decisions(batch, seen, 1e9, acknowledge=(stream, group, ids)) == [True] * largest
    assert client.xpending(stream, group)["pending"] == 0
    assert client.hlen(KEYS.reservations) == largest  # the new grants, none of the stale
    assert client.hget(KEYS.reservation_grants, "pruned") == str(largest)
    assert client.hget(KEYS.reservation_grants, "count") == str(largest)
    assert client.xlen(KEYS.gate_audit_stream) == largest
    # Redelivered whole: every marker is found, nothing is written again.
    assert a.write_decisions(batch, read(a), 1e9) == [False] * largest
    assert client.xlen(KEYS.gate_audit_stream) == largest


def test_a_write_that_fails_part_way_leaves_no_grant_unreserved_or_uncounted(
    redis_proc: RedisProcess,
) -> None:
    """Redis does not roll back a script that fails part-way. The batch's reservations
    and their totals are written before its permits, so whatever a failure leaves, no
    permit is out without its reservation, and every reservation is in the totals the
    other replicas check their writes against."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    client.set(KEYS.permit("p2"), "not a hash")  # p2's HSET fails: WRONGTYPE
    a = store(client)
    batch = [grant("p1", "AAAUSDT", 1.0), grant("p2", "AAAUSDT", 2.0), grant("p3", "AAAUSDT", 3.0)]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        a.write_decisions(batch, read(a), 1e9)
    assert client.hgetall(KEYS.permit("p1"))["proposal_id"] == "p1"
    assert not client.exists(KEYS.permit("p3"))
    assert set(client.hkeys(KEYS.reservations)) == {"p1", "p2", "p3"}
    assert client.hget(KEYS.reservation_grants, "count") == "3"
    assert float(client.hget(KEYS.reservation_grants, "usd") or 0) == pytest.approx(600.0)
    # Once the key is fixed, the redelivered batch writes what was not written.
    client.delete(KEYS.permit("p2"))
    assert a.write_decisions(batch, read(a), 1e9) == [False, True, True]
    assert all(client.hget(KEYS.permit(p), "proposal_id") == p for p in ("p1", "p2", "p3"))
    assert client.xlen(KEYS.gate_audit_stream) == 3


# Two gate processes, each taking a batch of 4 that fits the heat limit alone; the
# 8 together do not (5 fit). Whichever writes second must see the first's grants.
FIT = 5
NOTIONAL = 0.9 * 3 * 100_000.0 / (FIT + 0.5)  # max_heat x leverage cap x equity / 5.5
ROUNDS = 3


def test_two_gate_processes_never_grant_past_the_heat_limit_together(
    redis_proc: RedisProcess,
) -> None:
    url = f"redis://127.0.0.1:{redis_proc.port}/0"
    gates = [
        start_worker("gate", stream_worker_env(
            url, TEST_PASSWORD, name, TS_STREAM_BATCH_SIZE="4",
            TS_PORTFOLIO_STALE_SECONDS="600", TS_SNAPSHOT_RESCAN_SECONDS="0",
        ))
        for name in ("gate-a", "gate-b")
    ]  # fmt: skip
    client = redis_proc.client()
    try:
        for gate in gates:
            wait_for(lambda g=gate: g.get("/readyz")[0] == 200, WAIT, "gate ready")  # type: ignore[misc]
        for round_ in range(ROUNDS):
            client.delete(KEYS.reservations, KEYS.reservation_grants)
            seed(client, {})
            qty = NOTIONAL / PRICE
            ids = [f"r{round_}-{i}" for i in range(2 * 4)]
            pipe = client.pipeline(transaction=False)
            for i, pid in enumerate(ids):
                p = Proposal(proposal_id=pid, bot="bot", strategy="s", symbol=f"S{i}USDT",
                             side="BUY", qty=qty, price=PRICE, notional_usd=NOTIONAL,
                             ts=time.time())  # fmt: skip
                pipe.xadd(KEYS.proposal_stream, p.to_fields())  # type: ignore[arg-type]
            pipe.execute()
            wait_for(lambda ids=ids: all(client.exists(KEYS.permit(p)) for p in ids),  # type: ignore[misc]
                     WAIT, "every permit")  # fmt: skip
            granted = [p for p in ids if client.hget(KEYS.permit(p), "granted") == "1"]
            assert len(granted) == FIT, (round_, granted)  # the limit reached, never passed
            assert client.hlen(KEYS.reservations) == FIT
    finally:
        for gate in gates:
            gate.stop()


def test_a_symbol_granted_anywhere_is_read_even_after_its_reservation_filled(
    redis_proc: RedisProcess,
) -> None:
    """Every grant counts its symbol in the totals: a gate reads that symbol's snapshot
    without scanning again, and without the reservation still being there."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    b = store(client, rescan_seconds=3600.0)
    assert set(b.read_view(time.time()).view.positions) == {"AAAUSDT"}  # scanned once
    a = store(client)
    assert a.write_decisions([grant("a1", "NEWUSDT", 2.0)], read(a), 1e9) == [True]
    # The order fills: the chokepoint moves the reservation into a position.
    client.hdel(KEYS.reservations, "a1")
    seed(client, {"NEWUSDT": 2.0})
    seen = b.read_view(time.time())
    assert set(seen.view.positions) == {"AAAUSDT", "NEWUSDT"}
    assert seen.view.reserved == {}


def test_a_gate_keeps_the_reservations_it_knows_and_checks_other_grants_at_the_write(
    redis_proc: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0, "BBBUSDT": 1.0})
    a, b = store(client), store(client)
    assert a.write_decisions([grant("a1", "AAAUSDT", 2.0)], read(a), 1e9) == [True]
    # Only grants changed the hash since a's read: its next view is the known reservations
    # plus its grant, equal to what a fresh read gives.
    kept, fresh = read(a), read(store(client))
    assert kept.view.reserved == fresh.view.reserved
    assert kept.grants == fresh.grants
    # A value rewritten in place (no grant, same length): the fields each read checks
    # (here the one known field, every read) find it, and the hash is read again.
    moved = Reservation("a1", "AAAUSDT", 5.0, PRICE, time.time() + 60)
    client.hset(KEYS.reservations, "a1", moved.to_json())
    assert read(a).view.reserved["AAAUSDT"].long == 5.0
    assert [r.reservation for r in caplog.records if hasattr(r, "reservation")] == ["a1"]
    # Another gate's grant (1,000 USD) is not read but checked at a's write: within a's
    # room the write stands; beyond it, nothing is written and a reads the hash again.
    assert b.write_decisions([grant("b1", "BBBUSDT", 10.0)], read(b), 1e9) == [True]
    seen = read(a)
    assert set(seen.view.reserved) == {"AAAUSDT"}
    with pytest.raises(Conflict):
        a.write_decisions([grant("a2", "AAAUSDT", 1.0)], seen, 999.0)
    again = read(a)
    assert (again.view.reserved["AAAUSDT"].long, again.view.reserved["BBBUSDT"].long) == (5.0, 10.0)
    assert a.write_decisions([grant("a2", "AAAUSDT", 1.0)], again, 999.0) == [True]
    assert b.write_decisions([grant("b2", "BBBUSDT", 1.0)], read(b), 1e9) == [True]
    assert a.write_decisions([grant("a3", "AAAUSDT", 1.0)], read(a), 101.0) == [True]
    # A fill removes a field: read again.
    client.hdel(KEYS.reservations, "b1")
    assert set(read(a).view.reserved) == {"AAAUSDT", "BBBUSDT"}
    assert read(a).view.reserved["BBBUSDT"].long == 1.0
    # A failed Redis call (a failover may have lost writes): read again.
    rewritten = Reservation("a1", "AAAUSDT", 7.0, PRICE, time.time() + 60)
    client.hset(KEYS.reservations, "a1", rewritten.to_json())
    a.forget_reservations()
    assert read(a).view.reserved["AAAUSDT"].long == 9.0  # 7 + a2 + a3


def ended(client: redis.Redis, *names: str) -> list[bool]:
    """End each reservation as a bot does (runtime.releases); whether each was held."""
    retry = RetryPolicy(budget_seconds=5.0)
    return [release(client, retry, KEYS, name) for name in names]


def read_counted(client: redis.Redis, a: GateStore) -> tuple[ViewRead, int]:
    """``a``'s view, and how many reads of the book it took (2: the whole hash again)."""
    round_trips(client)
    seen = read(a)
    return seen, round_trips(client)


def knowing_two_grants(client: redis.Redis) -> GateStore:
    """A gate that granted a1 (2 units) and a2 (3 units) of AAAUSDT, and knows them."""
    a = store(client, rescan_seconds=3600.0)
    two = [grant("a1", "AAAUSDT", 2.0), grant("a2", "AAAUSDT", 3.0)]
    assert a.write_decisions(two, read(a), 1e9) == [True, True]
    return a


def test_reservations_the_bots_end_are_dropped_by_name_without_reading_the_whole_hash(
    redis_proc: RedisProcess,
) -> None:
    """A fill, a refusal or a trade given up ends its reservation through
    runtime.releases: counted in the totals and logged by name. A gate drops those it
    knows and keeps the rest: its book is still one read, and what a fresh read gives.
    Releases it never read (trimmed from the log) make it read the whole hash."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0, "BBBUSDT": 1.0})
    a, b = knowing_two_grants(client), store(client)
    assert b.write_decisions([grant("b1", "BBBUSDT", 1.0)], read(b), 1e9) == [True]
    assert set(read(a).view.reserved) == {"AAAUSDT"}  # b1 is checked at a's write
    assert ended(client, "a1", "b1", "a1") == [True, True, False]  # ended and counted once
    kept, reads = read_counted(client, a)
    assert reads == 1
    assert kept.view.reserved == {"AAAUSDT": Reserved(3.0, 0.0, PRICE)}
    assert kept.view.reserved == read(store(client)).view.reserved
    assert a.write_decisions([grant("a3", "BBBUSDT", 1.0)], kept, 1e9) == [True]
    # Released and trimmed from the log before a read it: a reads the whole hash.
    assert ended(client, "a2") == [True]
    client.xtrim(KEYS.reservation_releases, maxlen=0)
    seen, reads = read_counted(client, a)
    assert (seen.view.reserved, reads) == ({"BBBUSDT": Reserved(1.0, 0.0, PRICE)}, 2)


def test_a_releases_log_that_is_not_a_stream_is_reported_and_the_count_decides(
    redis_proc: RedisProcess,
) -> None:
    """The log is the gates' bookkeeping: a key of another type there (a hand edit) fails
    no fill, the view reports it by name, and a counted release it cannot name makes the
    gate read the whole hash."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    a = knowing_two_grants(client)
    client.set(KEYS.reservation_releases, "not a stream")
    seen = read(a)
    assert [(name, bad.field) for name, bad in seen.inputs_malformed] == [
        ("reservation_releases", "type")
    ]
    assert ended(client, "a1") == [True]
    assert client.hget(KEYS.reservation_grants, "released") == "1"
    seen, reads = read_counted(client, a)
    assert (seen.view.reserved, reads) == ({"AAAUSDT": Reserved(3.0, 0.0, PRICE)}, 2)


def test_a_batch_reads_its_book_in_one_round_trip_while_only_grants_changed_the_hash(
    redis_proc: RedisProcess,
) -> None:
    """The grant totals come with the book (one script), not in a read of their own; the
    book is read again only when they show something the first read missed."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0, "BBBUSDT": 1.0})
    a = store(client, rescan_seconds=3600.0)
    b = store(client)
    assert a.write_decisions([grant("a1", "AAAUSDT", 2.0)], read(a), 1e9) == [True]
    assert b.write_decisions([grant("b1", "BBBUSDT", 1.0)], read(b), 1e9) == [True]
    round_trips(client)
    seen = read(a)
    assert round_trips(client) == 1
    assert seen.view.reserved["AAAUSDT"].long == 2.0
    # A grant on a symbol a's book did not read: read again, that symbol with it.
    assert b.write_decisions([grant("b2", "NEWUSDT", 1.0)], read(b), 1e9) == [True]
    seed(client, {"NEWUSDT": 1.0})
    round_trips(client)
    seen = read(a)
    assert round_trips(client) == 2
    assert "NEWUSDT" in seen.view.positions


def test_the_write_acknowledges_its_entries_and_a_refused_write_none(
    redis_proc: RedisProcess,
) -> None:
    """A batch's entries are acknowledged by the script that writes its decisions: never
    before (a refused write leaves them pending), and with no round trip of their own."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    stream, group = KEYS.proposal_stream, "g"
    client.xgroup_create(stream, group, id="0", mkstream=True)
    ids = [str(client.xadd(stream, {"proposal_id": pid})) for pid in ("a1", "b1", "b2")]
    client.xreadgroup(group, "c", {stream: ">"})
    a, b = store(client), store(client)
    seen_b = read(b)
    assert a.write_decisions([grant("a1", "NEWUSDT", 1.0)], read(a), 1e9,
                             acknowledge=(stream, group, ids[:1])) == [True]  # fmt: skip
    assert client.xpending(stream, group)["pending"] == 2
    with pytest.raises(Conflict):  # a1 is on a symbol b's view does not hold
        b.write_decisions([grant("b1", "AAAUSDT", 1.0), grant("b2", "AAAUSDT", 1.0)], seen_b,
                          1e9, acknowledge=(stream, group, ids[1:]))  # fmt: skip
    assert client.xpending(stream, group)["pending"] == 2
    assert b.write_decisions([grant("b1", "AAAUSDT", 1.0), grant("b2", "AAAUSDT", 1.0)], read(b),
                             1e9, acknowledge=(stream, group, ids[1:])) == [True, True]  # fmt: skip
    assert client.xpending(stream, group)["pending"] == 0


def expiring(pid: str, qty: float, expires_ts: float) -> Decision:
    return grant(pid, "AAAUSDT", qty, expires_ts)


def test_grants_that_expire_unfilled_are_pruned_without_reading_the_whole_hash(
    redis_proc: RedisProcess,
) -> None:
    """Unfilled grants expire all the time in production (the permit's TTL): each gate
    drops them from its known reservations by id and prunes them, every prune counted
    in the totals, so the next batch's book is still one read without the hash."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    a, b = store(client, rescan_seconds=3600.0), store(client, rescan_seconds=3600.0)
    now = time.time()
    first = [expiring("g0", 2.0, now + 10), expiring("g1", 3.0, now + 100)]
    assert a.write_decisions(first, a.read_view(now), 1e9) == [True, True]
    assert b.read_view(now).view.reserved["AAAUSDT"].long == 5.0  # b knows both
    # Batch after batch, a grant made two batches before has expired: each batch grants
    # one that lives 1.5 s (a batch a second here).
    for i in range(1, 6):
        round_trips(client)
        seen = a.read_view(now + 10 + i)
        assert round_trips(client) == 1
        assert seen.view.reserved["AAAUSDT"].long == (3.0 if i == 1 else 7.0)
        assert seen.drop == (["g0"] if i == 1 else [f"e{i - 2}"] if i > 2 else [])
        assert a.write_decisions(
            [expiring(f"e{i}", 4.0, now + 11.5 + i)], seen, 1e9
        ) == [True]  # fmt: skip
        assert not client.hexists(KEYS.reservations, seen.drop[0] if seen.drop else "g0")
    assert client.hlen(KEYS.reservations) == 3  # g1, e4, e5
    assert client.hget(KEYS.reservation_grants, "pruned") == "4"  # g0, e1, e2, e3
    # What a gate keeps is what a fresh read gives, totals included.
    kept, fresh = a.read_view(now + 16), store(client, rescan_seconds=3600.0).read_view(now + 16)
    assert kept.view.reserved == fresh.view.reserved
    assert (kept.grants, kept.drop) == (fresh.grants, fresh.drop) == (kept.grants, ["e4"])
    # b, which knew g0, expires it too and is still current; its prune of a field a
    # pruned before counts nothing. (a's grants since are checked at b's write.)
    round_trips(client)
    seen_b = b.read_view(now + 16)
    assert round_trips(client) == 1
    assert (seen_b.view.reserved["AAAUSDT"].long, seen_b.drop) == (3.0, ["g0"])
    assert b.write_decisions([expiring("b1", 1.0, now + 100)], seen_b, 1e9) == [True]
    assert client.hget(KEYS.reservation_grants, "pruned") == "4"
    # A value rewritten in place: each read checks the next known field in turn (one a
    # read while reads come this close), so within as many reads as a knows (g1, e5)
    # it is found and the hash read again, b's grant with it.
    client.hset(KEYS.reservations, "g1", Reservation("g1", "AAAUSDT", 9.0, PRICE,
                                                     now + 100).to_json())  # fmt: skip
    longs = [a.read_view(now + 16).view.reserved["AAAUSDT"].long for _ in range(2)]
    assert longs[-1] == 9.0 + 4.0 + 1.0  # g1, e5, b1
    # A removal nobody counted (a fill) still reads the hash again.
    client.hdel(KEYS.reservations, "b1")
    assert a.read_view(now + 16).view.reserved["AAAUSDT"].long == 9.0 + 4.0


def test_a_step_reads_its_book_in_the_stream_reads_round_trip(
    redis_proc: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The book comes with the entries, in one round trip; a proposal on a symbol that
    read did not cover takes one more read, with it, and is covered until the next SCAN."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    book_lag = {"TS_SNAPSHOT_RESCAN_SECONDS": "3600", "TS_PORTFOLIO_STALE_SECONDS": "600"}
    with in_process(GateWorker, GateSettings, redis_proc, "gate-a", **book_lag) as worker:
        steps_read_their_book(worker, client, monkeypatch)


def steps_read_their_book(
    worker: GateWorker, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone: list[list[str]] = []
    read = ViewQuery.read

    def counted(query: ViewQuery, client: redis.Redis) -> list[Any]:
        alone.append(query.wanted)
        return read(query, client)

    monkeypatch.setattr(ViewQuery, "read", counted)
    held: list[set[str]] = []
    decide_batch = worker.decide_batch

    def seen(
        entries: list[StreamEntry], view: ViewRead, picked: float
    ) -> tuple[dict[str, Exception], set[str]]:
        held.append(set(view.view.positions))
        return decide_batch(entries, view, picked)

    monkeypatch.setattr(worker, "decide_batch", seen)

    def step(pid: str, symbol: str) -> None:
        p = Proposal(proposal_id=pid, bot="b", strategy="s", symbol=symbol, side="BUY",
                     qty=1.0, price=PRICE, notional_usd=PRICE, ts=time.time())  # fmt: skip
        client.xadd(KEYS.proposal_stream, cast("dict[Any, Any]", p.to_fields()))
        worker.step()
        assert client.exists(KEYS.permit(pid))

    step("p1", "AAAUSDT")
    assert (alone, held) == ([], [{"AAAUSDT"}])
    seed(client, {"NEWUSDT": 2.0})  # written after the SCAN: not known to the gate
    step("p2", "NEWUSDT")
    assert (alone, held[-1]) == ([["AAAUSDT", "NEWUSDT"]], {"AAAUSDT", "NEWUSDT"})
    step("p3", "NEWUSDT")
    assert (len(alone), held[-1]) == (1, {"AAAUSDT", "NEWUSDT"})


def test_a_gate_checks_the_reservations_it_knows_in_turn_and_never_reads_them_all_again(
    redis_proc: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of grants outstanding (none filled): over a minute of batches the book
    reads check every known field, a few per read, and never read the whole hash again
    (each such read stalled the gate, and Redis, for the whole hash). A value then
    rewritten in place is found within two periods of reads, and the hash read again."""
    client = redis_proc.client()
    seed(client, {"AAAUSDT": 1.0})
    clock = [0.0]
    a = store(client, rescan_seconds=3600.0, monotonic=lambda: clock[0])
    now = time.time()
    for start in range(0, 3000, 500):
        granted = [grant(f"g{i}", "AAAUSDT", 1.0, now + 600) for i in range(start, start + 500)]
        assert a.write_decisions(granted, a.read_view(now), 1e9) == [True] * 500
    queries: list[ViewQuery] = []
    view_query = GateStore.view_query

    def recorded(store: GateStore, *args: Any, **kwargs: Any) -> ViewQuery:
        query = view_query(store, *args, **kwargs)
        queries.append(query)
        return query

    monkeypatch.setattr(GateStore, "view_query", recorded)
    for _ in range(480):  # 60 s of reads, 1/8 s apart
        clock[0] += 0.125
        assert a.read_view(now).view.reserved["AAAUSDT"].long == 3000.0
    assert not any(q.whole for q in queries)
    assert {f for q in queries for f in q.to_check.fields} == {f"g{i}" for i in range(3000)}
    assert max(len(q.to_check.fields) for q in queries) == 75  # 3,000 x 1/8 s / 5 s
    client.hset(KEYS.reservations, "g1234", Reservation("g1234", "AAAUSDT", 9.0, PRICE,
                                                        now + 600).to_json())  # fmt: skip
    queries.clear()
    longs = []
    while clock[0] < 60.0 + 2 * PERIOD_SECONDS:
        clock[0] += 0.125
        longs.append(a.read_view(now).view.reserved["AAAUSDT"].long)
    assert longs[-1] == 3008.0
    assert sum(q.whole for q in queries) == 1
