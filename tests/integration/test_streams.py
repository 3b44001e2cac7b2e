"""The shared consumer-group reader against a real redis-server."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, cast

import pytest
import redis
from tests.harness.processes import DEADLINE
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.runtime.redis_client import RedisUnavailable, RetryPolicy
from tradingstack_workers.runtime.streams import (
    StreamConfig,
    StreamConsumer,
    StreamEntry,
)

pytestmark = pytest.mark.integration

STREAM = "quantum:stream:test"
DEAD = f"{STREAM}:dead"


def always_due() -> Callable[[], float]:
    """A clock that jumps an hour per call, so every fetch tries to claim."""
    ticks = itertools.count()
    return lambda: next(ticks) * 3600.0


def consumer(
    server: RedisProcess, name: str, clock: Callable[[], float] | None = None, **cfg: Any
) -> StreamConsumer:
    config = replace(
        StreamConfig(STREAM, "g", name, DEAD, block_ms=50, claim_idle_ms=60_000), **cfg
    )
    c = StreamConsumer(
        server.client(),
        RetryPolicy(budget_seconds=1),
        config,
        permanent_errors=(ValueError,),
        clock=clock or always_due(),
    )
    c.ensure_group()
    return c


def add(client: redis.Redis, n: int, start: int = 0) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for i in range(start, start + n):
        pipe.xadd(STREAM, {"n": str(i)})
    return [str(x) for x in pipe.execute()]


def wait_idle(client: redis.Redis, ms: int) -> None:
    """Until Redis reports every pending entry idle for at least ``ms`` (its own clock)."""

    def idle() -> bool:
        rows = client.xpending_range(STREAM, "g", "-", "+", 10_000)
        return all(int(row["time_since_delivered"]) >= ms for row in rows)

    wait_for(idle, DEADLINE, f"pending entries idle {ms} ms")


def wait_consumer_idle(client: redis.Redis, name: str, ms: int) -> None:
    def idle() -> bool:
        consumers = client.xinfo_consumers(STREAM, "g")
        return any(c["name"] == name and int(c["idle"]) > ms for c in consumers)

    wait_for(idle, DEADLINE, f"consumer {name} idle over {ms} ms")


def pending(client: redis.Redis, name: str | None = None) -> int:
    if name is None:
        return int(client.xpending(STREAM, "g")["pending"])
    return len(client.xpending_range(STREAM, "g", "-", "+", 10_000, consumername=name))


def test_group_creation_is_idempotent_and_heals_a_lost_stream(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    c = consumer(redis_proc, "a")
    c.ensure_group()
    assert client.exists(STREAM)  # MKSTREAM
    client.delete(STREAM)  # e.g. a failover to a replica that never saw it
    assert c.fetch() == []
    add(client, 3)
    assert len(c.fetch()) == 3


def test_entries_written_before_the_group_are_served(redis_proc: RedisProcess) -> None:
    add(redis_proc.client(), 5)
    assert len(consumer(redis_proc, "a").fetch()) == 5


def test_batches_are_bounded_and_acknowledged_at_once(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    c = consumer(redis_proc, "a", batch_size=500)
    add(client, 1200)
    seen: list[str] = []
    sizes = []
    while batch := c.fetch():
        sizes.append(len(batch))
        assert pending(client, "a") == len(batch)
        report = c.process(batch, lambda e: seen.append(e.fields["n"]))
        assert report.handled == len(batch)
        assert pending(client) == 0
    assert sizes == [500, 500, 200]
    assert seen == [str(i) for i in range(1200)]


def test_two_consumers_share_the_work_once(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    a, b = consumer(redis_proc, "a", batch_size=30), consumer(redis_proc, "b", batch_size=30)
    add(client, 300)
    seen: dict[str, list[str]] = {"a": [], "b": []}
    for _ in range(20):
        for name, c in (("a", a), ("b", b)):

            def handle(entry: StreamEntry, who: str = name) -> None:
                seen[who].append(entry.fields["n"])

            c.process(c.fetch(), handle)
    assert seen["a"]
    assert seen["b"]
    assert sorted(seen["a"] + seen["b"], key=int) == [str(i) for i in range(300)]


def test_a_dead_consumers_entries_are_claimed_with_their_delivery_count(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    a = consumer(redis_proc, "a", claim_idle_ms=100)
    ids = add(client, 10)
    assert len(a.fetch()) == 10  # ... and "a" dies without acknowledging
    assert consumer(redis_proc, "b", claim_idle_ms=60_000).fetch() == []  # not idle enough
    wait_idle(client, 100)
    b = consumer(redis_proc, "b", claim_idle_ms=100)
    claimed = b.fetch()
    assert [e.id for e in claimed] == ids
    assert {e.deliveries for e in claimed} == {2}
    b.process(claimed, lambda e: None)
    assert pending(client) == 0


def test_a_failing_entry_is_retried_then_dead_lettered_with_its_error(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    c = consumer(redis_proc, "a", claim_idle_ms=100, max_deliveries=3)
    add(client, 1)
    attempts: list[int] = []

    def fail(entry: StreamEntry) -> None:
        attempts.append(entry.deliveries)
        raise RuntimeError("downstream said no")

    for _ in range(3):
        report = c.process(c.fetch(), fail)
        wait_idle(client, 100)
    assert attempts == [1, 2, 3]
    assert report.failed == 0
    assert [d.cause for d in report.dead] == ["failed"]
    assert pending(client) == 0
    [(_, fields)] = cast("list[tuple[str, dict[str, str]]]", client.xrange(DEAD))
    assert fields["n"] == "0"
    assert fields["dead_error"] == "RuntimeError: downstream said no"
    assert fields["dead_cause"] == "failed"
    assert fields["dead_deliveries"] == "3"
    assert fields["dead_consumer"] == "a"


def test_a_permanent_error_is_dead_lettered_at_once(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    c = consumer(redis_proc, "a")
    add(client, 3)

    def handle(entry: StreamEntry) -> None:
        if entry.fields["n"] == "1":
            raise ValueError("n: not welcome")

    report = c.process(c.fetch(), handle)
    assert report.handled == 2
    assert [(d.cause, d.error) for d in report.dead] == [
        ("permanent", "ValueError: n: not welcome")
    ]
    assert isinstance(report.dead[0].exc, ValueError)
    assert pending(client) == 0
    assert client.xlen(DEAD) == 1


def test_an_entry_whose_consumers_keep_dying_is_dead_lettered(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    add(client, 1)
    for name in ("a", "b", "c"):  # each takes it and "dies"
        assert len(consumer(redis_proc, name, claim_idle_ms=100).fetch()) == 1
        wait_idle(client, 100)
    d = consumer(redis_proc, "d", claim_idle_ms=100, max_deliveries=3)
    handled: list[StreamEntry] = []
    report = d.process(d.fetch(), handled.append)
    assert handled == []
    assert [(x.cause, x.entry.deliveries) for x in report.dead] == [("redelivered", 4)]
    assert pending(client) == 0


def test_redis_loss_in_the_handler_acknowledges_what_is_done(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    c = consumer(redis_proc, "a")
    add(client, 3)

    def handle(entry: StreamEntry) -> None:
        if entry.fields["n"] == "1":
            raise RedisUnavailable("gone")

    with pytest.raises(RedisUnavailable):
        c.process(c.fetch(), handle)
    left = client.xpending_range(STREAM, "g", "-", "+", 10)
    assert [int(row["times_delivered"]) for row in left] == [1, 1]  # "1" and "2" stay pending


def test_idle_consumers_without_pending_entries_are_pruned(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    old = consumer(redis_proc, "old")
    add(client, 1)
    old.process(old.fetch(), lambda e: None)  # Redis 7.0 creates a consumer on delivery
    wait_consumer_idle(client, "old", 100)
    c = consumer(redis_proc, "new", claim_idle_ms=100_000, prune_idle_ms=100)
    add(client, 1, start=1)
    assert len(c.fetch()) == 1
    names = {x["name"] for x in client.xinfo_consumers(STREAM, "g")}
    assert names == {"new"}


def test_a_commit_hook_owns_the_acknowledgement_in_one_transaction(
    redis_proc: RedisProcess,
) -> None:
    """Intel's hook: the handled ids go to the hook, dead letters stay with the consumer."""
    client = redis_proc.client()
    c = consumer(redis_proc, "a")
    add(client, 4)
    given: list[list[str]] = []

    def handle(entry: StreamEntry) -> None:
        if entry.fields["n"] == "2":
            raise ValueError("malformed")  # permanent: dead-lettered

    def commit(pipe: redis.client.Pipeline, ids: Sequence[str]) -> None:
        given.append(list(ids))
        pipe.incrby("counted", len(ids))
        pipe.xack(STREAM, "g", *ids[:2])  # the hook decides what it acknowledges

    batch = c.fetch()
    report = c.process(batch, handle, commit=commit)
    assert given == [[batch[i].id for i in (0, 1, 3)]]
    assert report.committed == 2  # the reply of the hook's last command
    assert client.get("counted") == "3"
    assert client.xlen(DEAD) == 1
    assert pending(client) == 1  # the one the hook left unacknowledged
    assert c.process([], handle, commit=commit).committed is None


def test_a_batch_handler_reports_its_refusals_as_an_entry_handler_raises_them(
    redis_proc: RedisProcess,
) -> None:
    """process_batch (intel): what the handler returns is dead-lettered (permanent) or
    left pending for a retry (any other error), the rest goes to the commit hook, and an
    entry delivered too often never reaches the handler."""
    client = redis_proc.client()
    add(client, 1)
    for name in ("a", "b"):  # each takes the first entry and "dies"
        assert len(consumer(redis_proc, name, claim_idle_ms=100).fetch()) == 1
        wait_idle(client, 100)
    c = consumer(redis_proc, "c", claim_idle_ms=100, max_deliveries=2)
    [worn] = c.fetch()
    ids = add(client, 4, start=1)
    batch = [worn, *c.fetch()]
    seen: list[str] = []
    committed: list[list[str]] = []

    def handle(entries: Sequence[StreamEntry]) -> list[tuple[StreamEntry, Exception]]:
        seen.extend(e.id for e in entries)
        return [(entries[0], ValueError("n: not welcome")), (entries[1], RuntimeError("later"))]

    def commit(pipe: redis.client.Pipeline, done: Sequence[str]) -> None:
        committed.append(list(done))
        pipe.xack(STREAM, "g", *done)

    report = c.process_batch(batch, handle, commit=commit)
    assert seen == ids
    assert committed == [ids[2:]]
    assert (report.handled, report.failed, report.committed) == (2, 1, 2)
    assert [(d.cause, d.entry.id) for d in report.dead] == [
        ("redelivered", worn.id),
        ("permanent", ids[0]),
    ]
    assert client.xlen(DEAD) == 2
    assert [row["message_id"] for row in client.xpending_range(STREAM, "g", "-", "+", 10)] == [
        ids[1]
    ]


class Along:
    """Reads a key in the stream read's round trip; keeps what it received."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.replies: list[list[Any]] = []

    def queue(self, pipe: redis.client.Pipeline) -> None:
        pipe.get(self.key)

    def received(self, replies: list[Any]) -> None:
        self.replies.append(replies)


def blocking_consumer(redis_proc: RedisProcess, **cfg: Any) -> StreamConsumer:
    """Consumer "a" whose reads block up to the deadline (its socket waits longer), so
    a test can write while it blocks; ``cfg`` overrides the :class:`StreamConfig`."""
    config = replace(StreamConfig(STREAM, "g", "a", DEAD, block_ms=int(DEADLINE * 1000)), **cfg)
    c = StreamConsumer(
        redis_proc.client(socket_timeout=DEADLINE * 2),
        RetryPolicy(budget_seconds=1),
        config,
        clock=lambda: 0.0,
    )
    c.ensure_group()
    return c


def test_commands_read_along_run_once_the_blocked_read_returns(redis_proc: RedisProcess) -> None:
    """Queued behind a blocked XREADGROUP, a read sees what was written while it blocked,
    in the same round trip; taken-over entries come without it."""
    client = redis_proc.client()
    c = blocking_consumer(redis_proc)
    along = Along("test:along")
    got: list[list[StreamEntry]] = []
    reader = threading.Thread(target=lambda: got.append(c.fetch(along)))
    reader.start()
    wait_for(lambda: int(client.info("clients")["blocked_clients"]) == 1, DEADLINE, "blocked")
    client.set("test:along", "written while blocked")
    add(client, 1)
    reader.join(DEADLINE)
    assert [e.fields for e in got[0]] == [{"n": "0"}]
    assert along.replies == [["written while blocked"]]
    # The block running out with no entry: the commands ran and their replies come back.
    idle = consumer(redis_proc, "b", clock=lambda: 0.0, block_ms=10)
    assert idle.fetch(along) == []
    assert along.replies[-1] == ["written while blocked"]
    # Entries taken over from a dead consumer: no stream read, no commands along.
    claims = consumer(redis_proc, "c", claim_idle_ms=1)
    wait_idle(client, 1)
    assert [e.fields for e in claims.fetch(along)] == [{"n": "0"}]
    assert len(along.replies) == 2


def burst_while_blocked(redis_proc: RedisProcess, batch_size: int, burst: int) -> list[StreamEntry]:
    """What one fetch returns when a producer pipelines ``burst`` entries while it blocks."""
    client = redis_proc.client()
    c = blocking_consumer(redis_proc, batch_size=batch_size)
    got: list[list[StreamEntry]] = []
    reader = threading.Thread(target=lambda: got.append(c.fetch(Along("test:along"))))
    reader.start()
    wait_for(lambda: int(client.info("clients")["blocked_clients"]) == 1, DEADLINE, "blocked")
    add(client, burst)
    reader.join(DEADLINE)
    assert not reader.is_alive()
    return got[0]


def test_a_burst_added_while_the_read_blocks_comes_back_in_that_read(
    redis_proc: RedisProcess,
) -> None:
    """Redis answers a blocked XREADGROUP once the first entry of a pipelined burst is
    added, before the rest: the fetch still returns the whole burst, in order (with one
    XREADGROUP it returned 1 of 10, and 9 waited for a whole batch of their consumer)."""
    entries = burst_while_blocked(redis_proc, batch_size=100, burst=10)
    assert [e.fields["n"] for e in entries] == [str(i) for i in range(10)]
    assert [e.deliveries for e in entries] == [1] * 10


@pytest.mark.parametrize(("batch_size", "expected"), [(1, 1), (3, 3)])
def test_a_burst_read_while_blocked_keeps_to_the_batch_size(
    redis_proc: RedisProcess, batch_size: int, expected: int
) -> None:
    """No more than ``batch_size`` entries per fetch; the rest wait in the stream."""
    entries = burst_while_blocked(redis_proc, batch_size=batch_size, burst=10)
    assert [e.fields["n"] for e in entries] == [str(i) for i in range(expected)]
    assert redis_proc.client().xpending(STREAM, "g")["pending"] == expected
