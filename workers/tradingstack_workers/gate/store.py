"""The gate's Redis I/O: build a :class:`PortfolioView`, write a decision, publish heat.

Snapshot symbols come from the writers' index (:class:`SnapshotSymbols`), read every
``rescan_seconds`` rather than per batch; in between, the known keys plus the
symbols of the batch being judged are read in one pipeline. A snapshot that breaks
its contract is skipped and reported by field, never fatal.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import redis

from ..keys import Keys
from ..runtime.once import Command, OnceWriter
from ..runtime.redis_client import RetryPolicy
from ..runtime.releases import released_names
from ..runtime.streams import ReadAlong, StreamConfig
from ..runtime.symbol_scan import SnapshotSymbols
from ..wire import (
    BadEntry,
    ClusterStateHash,
    Fault,
    HeatHash,
    PortfolioStateHash,
    PositionSnapshot,
    Proposal,
    Reservation,
    is_symbol,
)
from .decide import ClusterState, PortfolioView, Position
from .known import KnownReservations
from .parsed import ParsedHashes
from .reservations import (
    Conflict,
    Decision,
    DecisionWriter,
    Grants,
    ParsedReservations,
    Since,
)
from .spot_check import NOTHING, PERIOD_SECONDS, UNANSWERED, Picked, SpotCheck, differing

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Reads of the book one view takes at most (:meth:`GateStore.read_view`).
VIEW_READS = 3
#: Releases one read of the book takes at most: a gate further behind (a burst of fills
#: between two of its reads) reads the whole hash instead.
RELEASES_PER_READ = 1000


def _flat(fields: Mapping[str, str]) -> list[str]:
    return [x for kv in fields.items() for x in kv]


@dataclass
class ViewRead:
    view: PortfolioView
    snapshot_ages: dict[str, float] = field(default_factory=dict)
    #: (symbol, problem) of each snapshot skipped as malformed.
    malformed: list[tuple[str, BadEntry]] = field(default_factory=list)
    #: (input, problem) of the portfolio or cluster state when it broke its contract.
    inputs_malformed: list[tuple[str, BadEntry]] = field(default_factory=list)
    #: ``Keys.reservation_grants`` the book answers to: a batch's write compares it.
    grants: Grants = field(default_factory=Grants)
    #: Reservation fields expired or unreadable: dropped with the next decision written.
    drop: list[str] = field(default_factory=list)


def position(snapshot: PositionSnapshot) -> Position:
    return Position(
        symbol=snapshot.symbol,
        amt=snapshot.position_amt,
        mark_price=snapshot.mark_price,
        ts=snapshot.ts_epoch,
    )


def cluster_state(cluster: ClusterStateHash) -> ClusterState:
    covered = None if cluster.symbols is None else frozenset(cluster.symbols)
    return ClusterState(
        cluster.cluster_stress,
        cluster.clusters_count,
        cluster.updated_ts,
        covered,
        cluster.frozen,
    )


#: What the decision sees of a cluster state that broke its contract: an invalid stress,
#: so it falls back to the proxy and says why (``invalid``).
def unreadable_cluster(now: float) -> ClusterState:
    return ClusterState(math.nan, 0, now)


def _hash(reply: object) -> Mapping[str, str]:
    """A hash reply, or :class:`BadEntry` when the key held another type (WRONGTYPE)."""
    if isinstance(reply, dict):
        return reply
    raise BadEntry("type", f"not a hash ({reply})", Fault.BAD_FORMAT)


def _parsed(
    name: str,
    reply: object,
    parse: Callable[[Mapping[str, str], float], T],
    now: float,
    problems: list[tuple[str, BadEntry]],
) -> T | None:
    """The parsed hash; None when it is absent, or malformed (then listed in ``problems``)."""
    if isinstance(reply, dict) and not reply:
        return None
    try:
        return parse(_hash(reply), now)
    except BadEntry as exc:
        problems.append((name, exc))
        return None


# KEYS: grant totals, reservations, portfolio state, cluster state, the reservations'
# releases, then the snapshots; for a read ahead, last, the proposal stream. ARGV[1]: '1'
# to read the whole reservations hash too (after the releases); ARGV[2] and [3]: for a
# read ahead, the group and consumer, else ''; ARGV[4]: the last release accounted for
# ('': the latest one is wanted, with a whole read); ARGV[5...]: reservations to check
# (.spot_check). One script: a fill moves a reservation into a position atomically, and
# must be seen once. Each read stands alone (pcall): a key of another type answers its
# error, which the gate reports as that input's problem.
_READ_VIEW = f"""#!lua flags=no-writes
local last = #KEYS
if ARGV[2] ~= '' then
  -- Sent after a read ahead: the book is wanted only if that read delivered entries,
  -- which stay pending on this consumer until their batch's write acknowledges them.
  last = last - 1
  local pending = redis.pcall('XPENDING', KEYS[#KEYS], ARGV[2], '-', '+', 1, ARGV[3])
  if type(pending) == 'table' and pending.err == nil and #pending == 0 then return false end
end
local checked = {{}}
if #ARGV > 4 then checked = redis.pcall('HMGET', KEYS[2], unpack(ARGV, 5)) end
local released
if ARGV[4] == '' then
  released = redis.pcall('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)
else
  released = redis.pcall('XRANGE', KEYS[5], '(' .. ARGV[4], '+', 'COUNT',
    {RELEASES_PER_READ})
end
local out = {{redis.pcall('HGETALL', KEYS[1]), redis.pcall('HLEN', KEYS[2]),
             redis.pcall('HGETALL', KEYS[3]), redis.pcall('HGETALL', KEYS[4]), checked,
             released}}
if ARGV[1] == '1' then out[#out + 1] = redis.pcall('HGETALL', KEYS[2]) end
for i = 6, last do out[#out + 1] = redis.pcall('HGETALL', KEYS[i]) end
return out
"""
#: Replies of the script before the whole hash (when read) and the snapshots.
_FIXED_REPLIES = 6


def _releases(reply: object) -> list[tuple[str, str]] | None:
    """The releases an XRANGE (or XREVRANGE) reply holds; None for anything else (an
    error: the key is not a stream, reported as an input problem by the view)."""
    if not isinstance(reply, list):
        return None
    try:
        return list(released_names(reply))
    except (TypeError, ValueError):
        return None


def _pairs(reply: object) -> object:
    """A script's HGETALL reply (a flat list) as a dict; anything else (an error) as is."""
    if isinstance(reply, list):
        return dict(zip(reply[::2], reply[1::2], strict=True))
    return reply


class ViewQuery:
    """One read of the book: grant totals, the reservations hash's length, the values of
    the reservations ``to_check`` (:mod:`.spot_check`), the releases logged after
    ``after`` (with a ``whole`` read, the last one) and, when ``whole``, the hash,
    portfolio and cluster state, and the snapshots of ``wanted``;
    sent alone (:meth:`read`) or with a stream read (a
    :class:`~..runtime.streams.ReadAlong`). ``replies`` once read, hashes as dicts.

    ``ahead_of``: the consumer whose stream read it is sent after, a read ahead; the book
    is then read only when that consumer has entries pending (the read found some), and
    ``replies`` stay None when it has none: at a light load most reads ahead find
    nothing, and their book was read and parsed for nothing (at 4,800 proposals/s, a
    tenth of the gate's and of Redis's CPU: bench/gate_throughput.py)."""

    def __init__(
        self,
        keys: Keys,
        wanted: list[str],
        *,
        whole: bool,
        ahead_of: StreamConfig | None = None,
        to_check: Picked = NOTHING,
        after: str = "",
    ) -> None:
        self.wanted = wanted
        self.whole = whole
        self.to_check = to_check
        self.replies: list[Any] | None = None
        #: The releases read, (entry id, name) each; None when the key is not a stream.
        self.released: list[tuple[str, str]] | None = None
        self._keys = [
            keys.reservation_grants,
            keys.reservations,
            keys.portfolio_state,
            keys.cluster_state,
            keys.reservation_releases,
            *(keys.snapshot(symbol) for symbol in wanted),
        ]
        self._args = ["1" if whole else "0", "", "", "" if whole else after, *to_check.fields]
        if ahead_of is not None:
            self._keys.append(ahead_of.stream)
            self._args[1:3] = [ahead_of.group, ahead_of.consumer]

    def queue(self, pipe: redis.client.Pipeline) -> None:
        pipe.eval(_READ_VIEW, len(self._keys), *self._keys, *self._args)

    def received(self, replies: list[Any]) -> None:
        """The script's reply (first of ``replies``); an error, or no book (nothing
        read ahead), leaves it unread."""
        reply = replies[0] if replies else None
        if isinstance(reply, list):
            self.replies = [r if i in (1, 4, 5) else _pairs(r) for i, r in enumerate(reply)]
            self.released = _releases(reply[5])  # parsed once, here

    def read(self, client: redis.Redis) -> list[Any]:
        """Read it now, alone; the replies."""
        pipe = client.pipeline(transaction=False)
        self.queue(pipe)
        replies = pipe.execute()
        self.received(replies)
        if self.replies is None:
            raise redis.ResponseError(f"the view read answered {replies!r}")
        return self.replies


class GateStore:
    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        once: OnceWriter,
        keys: Keys,
        *,
        rescan_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        decisions: DecisionWriter | None = None,
        check_period_seconds: float = PERIOD_SECONDS,
    ) -> None:
        self._client = client
        self._retry = retry
        self._once = once
        self._decisions = decisions or DecisionWriter(client, retry, keys)
        self._keys = keys
        self._rescan = rescan_seconds
        self._monotonic = monotonic
        self._next_scan = 0.0
        self._symbols: set[str] = set()
        self._snapshot_symbols = SnapshotSymbols(client, retry, keys)
        #: Symbols asked for since the snapshot index was read (a proposal's symbol may
        #: have no snapshot: read with every book until the index is read again, rather
        #: than in a read of its own).
        self._asked: set[str] = set()
        #: Symbols the grant totals name (read with every book, and kept: a flat one
        #: has no snapshot and leaves ``_symbols``).
        self._granted: set[str] = set()
        self._reservations = ParsedReservations()
        self._snapshots: ParsedHashes[PositionSnapshot] = ParsedHashes()
        self._portfolio: ParsedHashes[PortfolioStateHash] = ParsedHashes()
        self._cluster: ParsedHashes[ClusterStateHash] = ParsedHashes()
        self._known: KnownReservations | None = None
        self._check = SpotCheck(check_period_seconds)

    def _know(
        self,
        reservations: object,
        grants: Grants,
        released: list[tuple[str, str]] | None,
        now: float,
    ) -> KnownReservations:
        """The reservations hash as read with ``grants`` and the last release
        (``released``, from XREVRANGE); its expired and unreadable fields are to be
        pruned."""
        fields = reservations if isinstance(reservations, dict) else {}
        found, unreadable = self._reservations.parse(fields)
        self._known = KnownReservations.read(
            found, grants, len(fields), now=now, unreadable=unreadable,
            after=released[0][0] if released else "0-0",
        )  # fmt: skip
        self._reservations.forget(self._known.to_prune)
        return self._known

    def view_query(
        self, symbols: Iterable[str] = (), *, ahead_of: StreamConfig | None = None
    ) -> ViewQuery:
        """The next read of the book: the snapshots of every symbol known (in the snapshot
        index, reserved, or asked since the index was read) and of ``symbols``; with the
        whole reservations hash when the known reservations were forgotten. ``ahead_of``:
        see :class:`ViewQuery`."""
        if self._monotonic() >= self._next_scan:
            self._symbols = set(self._snapshot_symbols.read().symbols)
            self._asked = set()
            self._next_scan = self._monotonic() + self._rescan
        known = self._known
        reserved = self._granted | (known.symbols if known is not None else set())
        wanted = sorted(self._symbols | reserved | self._asked | set(symbols))
        to_check = (
            NOTHING
            if known is None
            else self._check.pick(self._reservations.texts, self._monotonic())
        )
        return ViewQuery(
            self._keys, wanted, whole=known is None, ahead_of=ahead_of, to_check=to_check,
            after=known.after if known is not None else "",
        )  # fmt: skip

    def read_view(
        self, now: float, symbols: Iterable[str] = (), query: ViewQuery | None = None
    ) -> ViewRead:
        """The portfolio as Redis holds it now, granted permits' reservations included (one
        script, so a fill that moves a reservation into a position is seen once);
        ``symbols`` are always read. The reservations are those known from the last read
        plus this gate's grants while nothing but grants changed the hash; other replicas'
        grants since are then checked at the write, not read (:mod:`.known`).

        ``query``: a read already made (:meth:`view_query`, sent with the stream read);
        used when it holds its replies. Usually that, or one round trip: the grant totals
        and the hash's length come with the book. The book is read again, with the whole
        hash, when they show the known reservations out of date; and, up to
        :data:`VIEW_READS` reads, when a symbol asked or reserved was not read (every
        grant counts its symbol in the totals, so a symbol first held through a
        reservation that filled is read)."""
        asked = {s for s in symbols if is_symbol(s)}
        self._asked |= asked
        query, replies, known = self._read_book(now, asked, query)
        problems: list[tuple[str, BadEntry]] = []
        if query.released is None:
            problems.append(
                ("reservation_releases", BadEntry("type", f"not a stream ({replies[5]})"))
            )
        replies = [replies[2], replies[3], *replies[_FIXED_REPLIES + int(query.whole) :]]
        parse_state = partial(self._portfolio.parse, "", parse=PortfolioStateHash.parse)
        state = _parsed("portfolio_state", replies[0], parse_state, now, problems)
        parse_cluster = partial(self._cluster.parse, "", parse=ClusterStateHash.parse)
        cluster = _parsed("cluster_state", replies[1], parse_cluster, now, problems)
        if cluster is None and any(name == "cluster_state" for name, _ in problems):
            view_cluster: ClusterState | None = unreadable_cluster(now)
        else:
            view_cluster = None if cluster is None else cluster_state(cluster)
        result = ViewRead(
            PortfolioView(
                equity_usd=None if state is None else state.equity_usd,
                equity_ts=None if state is None else state.timestamp,
                positions={},
                cluster=view_cluster,
                now=now,
            ),
            inputs_malformed=problems,
        )
        positions: dict[str, Position] = {}
        for symbol, reply in zip(query.wanted, replies[2:], strict=True):
            if isinstance(reply, dict) and not reply:
                self._symbols.discard(symbol)  # gone since the index was read
                continue
            try:
                snapshot = self._snapshots.parse(
                    symbol, _hash(reply), now, partial(PositionSnapshot.parse, symbol)
                )
            except BadEntry as exc:
                result.malformed.append((symbol, exc))
                continue
            result.snapshot_ages[symbol] = max(0.0, now - snapshot.ts_epoch)
            positions[symbol] = position(snapshot)
        self._snapshots.keep_only_read()
        result.view = PortfolioView(
            equity_usd=result.view.equity_usd,
            equity_ts=result.view.equity_ts,
            positions=positions,
            cluster=result.view.cluster,
            now=now,
            unreadable=frozenset(symbol for symbol, _ in result.malformed),
            reserved=known.reserved,
        )
        result.grants = known.grants
        result.drop = list(known.to_prune)
        return result

    def _read_book(
        self, now: float, asked: set[str], query: ViewQuery | None
    ) -> tuple[ViewQuery, list[Any], KnownReservations]:
        """:meth:`read_view`'s reads: the last query read, its replies, the reservations
        known once it was read."""
        reads = 0
        while True:
            if query is None or query.replies is None:
                query = self.view_query(asked)
                replies = self._retry.run(partial(query.read, self._client), "read portfolio view")
            else:
                replies = query.replies
            reads += 1
            self._check.checked(query.to_check, self._monotonic())  # its values are read
            totals, length = replies[0], replies[1]
            grants = Grants.of(totals if isinstance(totals, dict) else {})
            self._granted = {s for s in grants.per_symbol if is_symbol(s)}
            known = self._known
            if query.whole:
                known = self._know(replies[_FIXED_REPLIES], grants, query.released, now)
            elif known is None:  # forgotten since the query (a call failed): read it whole
                query = None
                continue
            # An unreadable log shows no release: the count then decides.
            elif (
                (released := known.release(grants.released, query.released or [])) is not None
                and known.current(grants, length if isinstance(length, int) else -1)
                and self._agrees(query, replies[4])
            ):
                self._reservations.forget(released)
                self._reservations.forget(r.proposal_id for r in known.expire(now))
            else:
                self._known, query = None, None  # read again, with the whole hash
                continue
            wanted = query.wanted
            if (self._granted | known.symbols | asked) <= set(wanted) or reads >= VIEW_READS:
                return query, replies, known
            query = None

    def _agrees(self, query: ViewQuery, values: Any) -> bool:
        """The reservations ``query`` checked hold the text this gate knows (``values``:
        their HMGET reply); a warning names the first that does not."""
        changed = differing(query.to_check.fields, values, self._reservations.texts)
        if changed is None:
            return True
        if changed == UNANSWERED:
            log.warning(
                "the check of known reservations answered no values: reading the whole hash",
                extra={"reply": repr(values)[:200], "key": self._keys.reservations},
            )
        else:
            log.warning(
                "a reservation's value changed in place: reading the whole hash again",
                extra={"reservation": changed, "key": self._keys.reservations},
            )
        return False

    def forget_reservations(self) -> None:
        """Read the reservations hash again at the next batch (a Redis call failed: after a
        failover the new master may have lost writes the known reservations hold)."""
        self._known = None

    def heat_command(self, heat: float, now: float) -> Command:
        return ["HSET", self._keys.portfolio_heat, *_flat(HeatHash(heat=heat, ts=now).to_fields())]

    def decision(
        self,
        proposal: Proposal,
        permit: Mapping[str, str],
        ttl_seconds: int,
        instance: str,
        *,
        reservation: Reservation | None = None,
        notional_usd: float = 0.0,
    ) -> Decision:
        """One proposal's writes: ``permit`` (a :class:`~..wire.Permit`'s fields) with its
        TTL, audit entry, and for a grant its reservation (the heat is the batch's:
        :meth:`write_decisions`)."""
        audit = {"bot": proposal.bot, "strategy": proposal.strategy, "gate": instance}
        return Decision(
            proposal.proposal_id, permit, ttl_seconds, audit,
            reservation=reservation, notional_usd=notional_usd,
        )  # fmt: skip

    def write_decisions(
        self,
        decisions: Sequence[Decision],
        read: ViewRead,
        headroom_usd: float,
        heat: tuple[float, float] | None = None,
        *,
        acknowledge: tuple[str, str, Sequence[str]] | None = None,
        along: ReadAlong | None = None,
    ) -> list[bool]:
        """A batch's decisions, each applied once per proposal id (False for a proposal
        decided before: a redelivery; the first decision stands), and ``heat`` (value,
        time) once: every proposal of a batch sees the same book, so the same heat. Grants
        are written only if other grants since ``read`` stay within ``headroom_usd`` (else
        :class:`~.reservations.Conflict`, nothing written). ``acknowledge`` (stream, group,
        entry ids) is acknowledged with the decisions, in the same script: no round trip
        of its own, and never before they are written. ``along``: commands sent in the
        same round trip, after the write (the next batch's read:
        :class:`~..runtime.streams.ReadAhead`)."""
        # Held: valued at its mark by every reader (:class:`.book.Book`).
        since = Since(read.grants, list(read.view.positions), headroom_usd)
        after = [self.heat_command(*heat)] if heat is not None else []
        try:
            written = self._decisions.write(
                decisions, since, read.drop, after=after, acknowledge=acknowledge, along=along
            )
        except Conflict:
            self._known = None  # others granted past the room: read the hash again
            raise
        known = self._known
        if known is not None:
            granted = [
                (d.reservation, d.notional_usd, d.reservation_text)
                for d, fresh in zip(decisions, written.fresh, strict=True)
                if fresh and d.reservation is not None
            ]
            known.granted((r, usd) for r, usd, _ in granted)
            known.pruned(read.drop, written.pruned)
            for reservation, _, text in granted:
                self._reservations.learn(reservation, text)
        return written.fresh

    def publish_heat(self, heat: float, now: float) -> None:
        """Heat for the governor when no proposal came by (a whole-value write: safe to retry)."""
        command = self.heat_command(heat, now)
        self._retry.run(lambda: self._client.execute_command(*command), "publish heat")
