"""Consumer-group reading of a Redis stream, shared by every stream worker (gate, intel).

Several replicas share one group; each entry is handled by one of them. What this
module guarantees, and why:

* The group is created idempotently with MKSTREAM (a fresh Redis, or one that lost
  the group in a failover, heals on the next read instead of failing forever).
* ``XREADGROUP COUNT <batch> BLOCK <ms>``: hundreds of entries per round trip, and a
  block shorter than the heartbeat so an idle worker still beats.
* Entries a dead consumer left pending are taken over with ``XAUTOCLAIM`` once idle
  longer than ``claim_idle_ms``; delivery counts come from ``XPENDING``.
* An entry is handled at most ``max_deliveries`` times: a handler that keeps failing,
  or a consumer that keeps dying on it, sends it to the dead-letter stream with its
  error, and it is acknowledged. A permanent error (a malformed entry) goes there at
  once. Dead-lettering and its XACK run in one MULTI so a crash cannot do only half.
* One variadic ``XACK`` per batch, after the handler's writes: a crash before it means
  a redelivery, so handlers must be idempotent (the gate uses the exactly-once writer).
* A ``ReadAlong`` (the gate's view of the book) queues reads behind ``XREADGROUP`` in
  the same round trip: Redis runs a connection's commands in order, so they run once
  the read returns (entries arrived, or the block ran out), and cost no round trip of
  their own. Entries taken over with ``XAUTOCLAIM`` come without them.
* Or, with a ``commit`` hook (intel), the handler only computes and the hook queues the
  batch's writes and their acknowledgement into the settle transaction: one MULTI/EXEC
  holds the dead letters, the writes and the acknowledgement, so they happen together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import redis

from ..wire.dead_letter import dead_letter_fields
from ..wire.errors import BadEntry
from .redis_client import RedisUnavailable, RetryPolicy, Stopping

log = logging.getLogger(__name__)

#: Dead-letter streams are trimmed to about this many entries.
DEAD_LETTER_MAXLEN = 10_000


class StreamEntry(NamedTuple):
    """One stream entry as delivered to this consumer (a named tuple: stream workers
    build hundreds of thousands a second, and a frozen dataclass costs four times more)."""

    id: str
    fields: dict[str, str]
    #: How many times the group has delivered it, this delivery included.
    deliveries: int = 1


@dataclass(frozen=True)
class DeadLetter:
    entry: StreamEntry
    error: str
    #: ``permanent`` (the handler said it can never succeed), ``failed`` (it kept
    #: failing) or ``redelivered`` (consumers kept dying while handling it).
    cause: str
    exc: Exception | None = None

    @property
    def field(self) -> str:
        """The field at fault, when the handler named one (a :class:`BadEntry`)."""
        return self.exc.field if isinstance(self.exc, BadEntry) else ""


@dataclass
class BatchReport:
    """What one call of :meth:`StreamConsumer.process` did."""

    handled: int = 0
    failed: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    #: The reply to the last command the ``commit`` hook queued (None without one).
    committed: Any = None


#: Handles a whole batch without touching Redis; returns the entries it could not handle,
#: each with its error (see :meth:`StreamConsumer.process_batch`).
BatchHandler = Callable[[Sequence[StreamEntry]], Sequence[tuple[StreamEntry, Exception]]]

#: Queues, into the settle transaction, the writes that handled entries (the ids given)
#: produce and their acknowledgement. It is re-run when a transient error hides whether
#: EXEC ran, so what it queues must be safe to apply twice.
Commit = Callable[["redis.client.Pipeline", Sequence[str]], None]


class ReadAlong(Protocol):
    """Commands sent with a stream read, after its ``XREADGROUP``, and their replies."""

    def queue(self, pipe: redis.client.Pipeline) -> None:
        """Queue the commands (each may fail alone: its reply is then the error)."""

    def received(self, replies: list[Any]) -> None:
        """Their replies, in order (also when the block ran out with no entry)."""


@dataclass(frozen=True)
class StreamConfig:
    stream: str
    group: str
    consumer: str
    dead_letter: str
    batch_size: int = 500
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    #: Where a newly created group starts: ``0`` also serves entries written before it.
    start_id: str = "0"
    #: Consumers with nothing pending and idle this long are removed from the group
    #: (pods get new names on every restart; the group would collect them forever).
    prune_idle_ms: int = 3_600_000


def _first_deliveries(pairs: Sequence[tuple[str, dict[str, str] | None]]) -> list[StreamEntry]:
    """The (id, fields) pairs of an XREADGROUP reply as entries delivered once.

    redis-py hands each entry's fields over as a new dict: no copy needed. Built by
    ``tuple.__new__`` in C: the named tuple's own ``__new__`` is a Python call per entry,
    and the read is the worker's costliest part (issue #18). An entry without fields
    (deleted while pending; not in a ``>`` read) reads as empty.
    """
    fields: Iterable[dict[str, str] | None] = map(itemgetter(1), pairs)
    if None in map(itemgetter(1), pairs):
        fields = (f or {} for f in map(itemgetter(1), pairs))
    ids = map(itemgetter(0), pairs)
    return list(map(tuple.__new__, repeat(StreamEntry), zip(ids, fields, repeat(1))))


def _new_entries(reply: Any) -> list[StreamEntry]:
    """The entries of an XREADGROUP ``>`` reply (none for an empty or nil reply)."""
    return [entry for _stream, pairs in (reply or []) for entry in _first_deliveries(pairs)]


A = TypeVar("A", bound="ReadAlong")


class ReadAhead(Generic[A]):
    """A :class:`ReadAlong` that reads the consumer's next new entries (no BLOCK) and then
    ``along``'s commands: sent with a batch's write, the next batch comes back in the
    write's round trip. Redis runs a client's pipeline in order, so the read is not queued
    behind another replica's write the way a read of its own would be, and replicas do not
    fall into step, waiting on Redis at the same time (bench/gate_throughput.py).

    The entries are read once: a write retried after its round trip came back (WAIT short
    of replicas) sends ``along``'s commands again, not the read, which would deliver
    another batch to this consumer and strand the first. ``entries``: what was read
    (empty until then; a read whose reply was lost with its connection left its entries
    pending on this consumer, taken over like any unacknowledged entry)."""

    def __init__(self, config: StreamConfig, along: A) -> None:
        self.config = config
        self.along = along
        self.entries: list[StreamEntry] = []
        self._read = False
        self._reading = False

    def queue(self, pipe: redis.client.Pipeline) -> None:
        cfg = self.config
        self._reading = not self._read
        if self._reading:
            pipe.xreadgroup(cfg.group, cfg.consumer, {cfg.stream: ">"}, count=cfg.batch_size)
        self.along.queue(pipe)

    def received(self, replies: list[Any]) -> None:
        if self._reading:
            reply, replies = (replies[0] if replies else None), replies[1:]
            if isinstance(reply, list):
                self.entries = _new_entries(reply)
                self._read = True
        self.along.received(replies)


class StreamConsumer:
    """Read, hand out, dead-letter and acknowledge the entries of one consumer group."""

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        config: StreamConfig,
        *,
        permanent_errors: tuple[type[Exception], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._retry = retry
        self.config = config
        self._permanent = permanent_errors
        self._clock = clock
        self._claim_cursor = "0-0"
        self._next_claim = 0.0
        self._next_prune = 0.0

    def ensure_group(self) -> None:
        """Create the group (and the stream) unless it exists."""
        cfg = self.config

        def create() -> None:
            try:
                self._client.xgroup_create(cfg.stream, cfg.group, id=cfg.start_id, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        self._retry.run(create, f"create group {cfg.group}")

    def fetch(self, along: ReadAlong | None = None) -> list[StreamEntry]:
        """Entries to handle now: idle ones taken over from dead consumers, else new ones
        (read with ``along``'s commands, whose replies it receives when entries came)."""
        now = self._clock()
        if now >= self._next_claim:
            self._next_claim = now + max(0.1, self.config.claim_idle_ms / 2000)
            claimed = self._claim()
            if claimed:
                return claimed
        if now >= self._next_prune:
            self._next_prune = now + 60.0
            self._prune_consumers()
        return self._read_new(along)

    def read_ahead(self, along: A) -> ReadAhead[A] | None:
        """The next new entries, to be read (with ``along``'s commands) in the round trip
        of a write (:meth:`ReadAhead.queue`); None when taking over idle entries or
        pruning consumers is due, which :meth:`fetch` does first."""
        now = self._clock()
        if now >= self._next_claim or now >= self._next_prune:
            return None
        return ReadAhead(self.config, along)

    def _group_call(self, call: Callable[[], Any], what: str) -> Any:
        """Run a group command; None when the group vanished (it is recreated)."""
        try:
            return self._retry.run(call, what)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        log.warning("consumer group missing, recreating", extra={"group": self.config.group})
        self.ensure_group()
        return None

    def _read_new(self, along: ReadAlong | None) -> list[StreamEntry]:
        """Up to ``batch_size`` new entries, waiting up to ``block_ms`` for the first.

        Redis answers a blocked XREADGROUP as soon as one entry is added, before it
        adds the rest of that producer's pipeline (or what other clients sent in the
        same pass of its event loop): read with one XREADGROUP, a burst of 10 came back
        as 1, and 9 waited a whole batch. So the blocking read takes one entry and a
        second read, which Redis runs once it returns to this client's pipeline, takes
        the rest (tests/integration/test_streams.py)."""
        cfg = self.config
        streams: dict[Any, Any] = {cfg.stream: ">"}
        rest = cfg.batch_size - 1
        reads = 2 if rest else 1

        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            pipe.xreadgroup(cfg.group, cfg.consumer, streams, count=1, block=cfg.block_ms)
            if rest:
                pipe.xreadgroup(cfg.group, cfg.consumer, streams, count=rest)
            if along is not None:
                along.queue(pipe)
            replies: list[Any] = pipe.execute(raise_on_error=False)
            for reply in replies[:reads]:
                if isinstance(reply, Exception):
                    raise reply
            return replies

        # A lost reply leaves the entries pending on us: XAUTOCLAIM recovers them.
        replies = self._group_call(read, f"read {cfg.stream}")
        if replies is None:
            return []
        if along is not None:
            along.received(replies[reads:])
        return [entry for reply in replies[:reads] for entry in _new_entries(reply)]

    def _claim(self) -> list[StreamEntry]:
        cfg = self.config
        reply = self._group_call(
            lambda: self._client.xautoclaim(
                cfg.stream, cfg.group, cfg.consumer, cfg.claim_idle_ms,
                start_id=self._claim_cursor, count=cfg.batch_size,
            ),
            f"claim {cfg.stream}",
        )  # fmt: skip
        if reply is None:
            return []
        self._claim_cursor = str(reply[0])
        pairs = [(i, f) for i, f in reply[1] if f is not None]
        if not pairs:
            return []
        counts = self._delivery_counts([i for i, _ in pairs])
        entries = [StreamEntry(i, dict(f), counts.get(i, 1)) for i, f in pairs]
        log.info("claimed idle entries", extra={"stream": cfg.stream, "count": len(entries)})
        return entries

    def _delivery_counts(self, ids: Sequence[str]) -> dict[str, int]:
        cfg = self.config

        def query() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for entry_id in ids:
                pipe.xpending_range(cfg.stream, cfg.group, entry_id, entry_id, 1)
            return pipe.execute()

        replies = self._retry.run(query, f"pending {cfg.stream}")
        return {
            str(row["message_id"]): int(row["times_delivered"]) for rows in replies for row in rows
        }

    def _prune_consumers(self) -> None:
        cfg = self.config

        def listing() -> Any:
            return self._client.xinfo_consumers(cfg.stream, cfg.group)

        consumers: list[dict[str, Any]] = self._retry.run(listing, "list consumers")
        for info in consumers:
            name = str(info["name"])
            if name != cfg.consumer and not info["pending"] and info["idle"] > cfg.prune_idle_ms:

                def delete(gone: str = name) -> Any:
                    return self._client.xgroup_delconsumer(cfg.stream, cfg.group, gone)

                self._retry.run(delete, "prune consumer")

    def process(
        self,
        entries: Sequence[StreamEntry],
        handle: Callable[[StreamEntry], Any],
        *,
        commit: Commit | None = None,
    ) -> BatchReport:
        """Handle each entry, dead-letter what must be, then acknowledge in one XACK.

        With ``commit``, handled entries are acknowledged by what the hook queues
        instead, in one MULTI/EXEC with the dead letters (see :data:`Commit`).

        A failed entry that has deliveries left stays pending: it comes back through
        :meth:`fetch` once idle longer than ``claim_idle_ms``. Redis going away inside
        the handler aborts the batch (after acknowledging what is done): the entries
        stay pending and nothing is held against them.
        """
        report = BatchReport()
        done: list[str] = []
        try:
            for entry in self._deliverable(entries, report):
                try:
                    handle(entry)
                except (RedisUnavailable, Stopping):
                    raise
                except Exception as exc:
                    self._failed(entry, exc, report)
                else:
                    done.append(entry.id)
        except (RedisUnavailable, Stopping):
            report.handled = len(done)
            self._settle(done, report, commit, best_effort=True)
            raise
        report.handled = len(done)
        self._settle(done, report, commit)
        return report

    def process_batch(
        self, entries: Sequence[StreamEntry], handle: BatchHandler, *, commit: Commit | None = None
    ) -> BatchReport:
        """:meth:`process` for a pure handler that takes the whole batch at once (intel:
        one pass over hundreds of entries instead of a call per entry) and returns the
        entries it could not handle, each with its error; those are dead-lettered or
        left for a retry exactly as :meth:`process` does with an entry that raised."""
        report = BatchReport()
        deliverable = self._deliverable(entries, report)
        failures = handle(deliverable)
        for entry, exc in failures:
            self._failed(entry, exc, report)
        ids: Iterable[str] = map(itemgetter(0), deliverable)
        if failures:
            refused = {entry.id for entry, _ in failures}
            ids = (i for i in ids if i not in refused)
        done = list(ids)
        report.handled = len(done)
        self._settle(done, report, commit)
        return report

    def _deliverable(
        self, entries: Sequence[StreamEntry], report: BatchReport
    ) -> list[StreamEntry]:
        """The entries still to be handled; those delivered too often are dead-lettered."""
        limit = self.config.max_deliveries
        if max(map(itemgetter(2), entries), default=0) <= limit:  # the usual batch, in C
            return list(entries)
        deliverable = []
        for entry in entries:
            if entry.deliveries > limit:
                error = f"delivered {entry.deliveries} times without an acknowledgement"
                report.dead.append(DeadLetter(entry, error, "redelivered"))
            else:
                deliverable.append(entry)
        return deliverable

    def _failed(self, entry: StreamEntry, exc: Exception, report: BatchReport) -> None:
        """Dead-letter an entry that can never succeed or has no deliveries left."""
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, self._permanent):
            report.dead.append(DeadLetter(entry, error, "permanent", exc))
        elif entry.deliveries >= self.config.max_deliveries:
            report.dead.append(DeadLetter(entry, error, "failed", exc))
        else:
            report.failed += 1
            log.warning(
                "entry failed, will be retried",
                extra={"entry": entry.id, "deliveries": entry.deliveries, "error": error},
            )

    def _settle(
        self,
        done: list[str],
        report: BatchReport,
        commit: Commit | None,
        best_effort: bool = False,
    ) -> None:
        cfg = self.config
        dead = report.dead
        hooked = commit is not None and bool(done)
        ids = ([] if hooked else done) + [d.entry.id for d in dead]
        if not ids and not hooked:
            return

        def write() -> None:
            pipe = self._client.pipeline(transaction=bool(dead) or hooked)
            for letter in dead:
                fields: dict[Any, Any] = dead_letter_fields(
                    letter.entry.fields,
                    source_id=letter.entry.id,
                    error=letter.error,
                    field=letter.field,
                    cause=letter.cause,
                    deliveries=letter.entry.deliveries,
                    consumer=cfg.consumer,
                )
                pipe.xadd(cfg.dead_letter, fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
            if ids:
                pipe.xack(cfg.stream, cfg.group, *ids)
            if commit is not None and done:
                commit(pipe, done)
                report.committed = pipe.execute()[-1]
            else:
                pipe.execute()

        try:
            self._retry.run(write, f"ack {len(done) + len(dead)} on {cfg.stream}")
        except (RedisUnavailable, Stopping):
            if not best_effort:
                raise
        for letter in dead:
            log.error(
                "entry dead-lettered",
                extra={
                    "entry": letter.entry.id,
                    "cause": letter.cause,
                    "field": letter.field,
                    "error": letter.error,
                },
            )
