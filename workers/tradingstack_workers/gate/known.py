"""The reservations a gate last read, kept with its own grants since, so a batch need not
read (and sum) the whole hash while nothing but grants and counted prunes changed it.
Pure: no I/O.

Outstanding reservations number up to grants/s x permit TTL when orders do not fill,
and reading them all every batch made a batch's cost grow with them. Every grant,
whoever makes it, adds one field to ``Keys.reservations`` and one to the grant count in
the same script (:mod:`.reservations`); the gates' pruning of expired or unreadable
fields removes them and counts each field it removed in the same totals (``pruned``);
the bots' ending of one (a fill, a refusal, a trade given up) counts it there too
(``released``) and logs its name (:mod:`..runtime.releases`), which the gate reads with
the book and drops by name. So when the hash's length is the known length plus the
grants less the prunes and releases counted since, and the releases read are as many as
counted, nothing else was removed: the hash is the known reservations (this gate's
grants included, its expired ones not yet pruned included) less those released, plus
other replicas' grants since. Those are not in the view; the
batch's write checks them against ``Since`` (the totals the known reservations answer
to) exactly as it checks grants made between any read and its write: on symbols the
view holds and within the batch's headroom, or nothing is written and the gate reads
again. So every grant written before a batch's write is in its view or checked there.

A known reservation that expires is taken out of the sums by its id
(:meth:`KnownReservations.expire`) and queued to be pruned with the next write: unfilled
grants expire continually in production, and reading the hash again for each would put
the whole hash back in every batch; so is one a bot ended. Anything else (an uncounted
removal, releases trimmed from the log before this gate read them, a write refused as a
conflict, a failed Redis call, which a failover causes, or a value changed in place,
which :mod:`.spot_check` finds) makes the gate read the hash again.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ..wire.reservation import Reservation
from .reservations import Grants, Reserved


@dataclass
class _Sums:
    """One symbol's unexpired reservations: units and how many, per side; the latest
    price. A side back to no reservation is exactly 0, whatever the rounding of the
    additions and subtractions before."""

    long: float = 0.0
    short: float = 0.0
    longs: int = 0
    shorts: int = 0
    price: float = 0.0

    def add(self, r: Reservation) -> None:
        if r.qty > 0:
            self.long, self.longs = self.long + r.qty, self.longs + 1
        else:
            self.short, self.shorts = self.short + r.qty, self.shorts + 1
        self.price = r.price

    def remove(self, r: Reservation) -> None:
        if r.qty > 0:
            self.longs -= 1
            self.long = self.long - r.qty if self.longs else 0.0
        else:
            self.shorts -= 1
            self.short = self.short - r.qty if self.shorts else 0.0

    @property
    def empty(self) -> bool:
        return not (self.longs or self.shorts)

    def reserved(self) -> Reserved:
        return Reserved(self.long, self.short, self.price)


@dataclass
class KnownReservations:
    """Unexpired reservations as of ``grants``, the hash's length they explain, the
    symbols they name (expired ones included), the fields to prune with the next write
    (expired or unreadable) and ``after``, the last entry of ``Keys.reservation_releases``
    accounted for ('' when unknown)."""

    grants: Grants
    length: int
    symbols: set[str] = field(default_factory=set)
    to_prune: list[str] = field(default_factory=list)
    after: str = ""
    _sums: dict[str, _Sums] = field(default_factory=dict)
    #: (expires_ts, proposal_id, reservation) of every one tracked, earliest first; a
    #: released one stays until its turn, then is skipped (not in ``_live``).
    _expiries: list[tuple[float, str, Reservation]] = field(default_factory=list)
    #: Every unexpired, unreleased one by its field's name.
    _live: dict[str, Reservation] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        reservations: Iterable[Reservation],
        grants: Grants,
        length: int,
        *,
        now: float,
        unreadable: Iterable[str] = (),
        after: str = "",
    ) -> KnownReservations:
        """From a whole read: ``reservations`` parsed (unexpired or not) and the fields
        that broke the contract, ``grants``, ``length`` and ``after`` (the releases' last
        entry) read in the same script."""
        listed = list(reservations)
        known = cls(grants, length, {r.symbol for r in listed}, list(unreadable), after)
        # One pass and one heapify: a whole read holds up to grants/s x TTL of them.
        sums: dict[str, list[float]] = {}
        for r in listed:
            acc = sums.get(r.symbol)
            if acc is None:
                acc = sums[r.symbol] = [0.0, 0.0, 0, 0, 0.0]
            if r.qty > 0:
                acc[0] += r.qty
                acc[2] += 1
            else:
                acc[1] += r.qty
                acc[3] += 1
            acc[4] = r.price
        known._sums = {
            symbol: _Sums(long, short, int(longs), int(shorts), price)
            for symbol, (long, short, longs, shorts, price) in sums.items()
        }
        known._expiries = [(r.expires_ts, r.proposal_id, r) for r in listed]
        heapq.heapify(known._expiries)
        known._live = {r.proposal_id: r for r in listed}
        known.expire(now)
        return known

    def _track(self, reservations: Iterable[Reservation]) -> None:
        for r in reservations:
            self._sums.setdefault(r.symbol, _Sums()).add(r)
            heapq.heappush(self._expiries, (r.expires_ts, r.proposal_id, r))
            self._live[r.proposal_id] = r

    def _untrack(self, r: Reservation) -> None:
        sums = self._sums[r.symbol]
        sums.remove(r)
        if sums.empty:
            del self._sums[r.symbol]

    @property
    def reserved(self) -> dict[str, Reserved]:
        """Unexpired reservations summed per symbol and side."""
        return {symbol: sums.reserved() for symbol, sums in self._sums.items()}

    def expire(self, now: float) -> list[Reservation]:
        """Take out those that expired before ``now`` and queue their fields to be pruned;
        the reservations taken out."""
        gone: list[Reservation] = []
        expiries = self._expiries
        while expiries and expiries[0][0] < now:
            r = heapq.heappop(expiries)[2]
            if self._live.pop(r.proposal_id, None) is None:
                continue  # released before it expired: gone already
            self._untrack(r)
            self.to_prune.append(r.proposal_id)
            gone.append(r)
        return gone

    def release(self, released: int, entries: Iterable[tuple[str, str]]) -> list[str] | None:
        """Drop the reservations the bots ended since: ``entries`` (entry id, field name)
        of ``Keys.reservation_releases`` after :attr:`after`, oldest first, read with
        ``released`` (the totals' count). The names dropped (those known); None when the
        entries are not as many as the count rose (some were trimmed from the log, or
        the totals were reset): the hash must be read again."""
        listed = list(entries)
        if released - self.grants.released != len(listed):
            return None
        dropped: list[str] = []
        for entry_id, name in listed:
            r = self._live.pop(name, None)
            if r is not None:
                self._untrack(r)
                dropped.append(name)
            self.after = entry_id
        self.length -= len(listed)
        self.grants = replace(self.grants, released=released)
        return dropped

    def pruned(self, fields: Iterable[str], removed: int) -> None:
        """This gate's write pruned ``fields``, ``removed`` of them still there (each
        counted in the totals; another gate may have pruned the rest first)."""
        done = set(fields)
        self.to_prune = [f for f in self.to_prune if f not in done]
        self.length -= removed
        self.grants = replace(self.grants, pruned=self.grants.pruned + removed)

    def current(self, grants: Grants, length: int) -> bool:
        """True when nothing but grants, counted prunes and releases changed the hash's
        fields since (``grants`` and ``length`` as read now; releases not yet dropped by
        :meth:`release` make it False)."""
        return (
            grants.count >= self.grants.count
            and grants.pruned >= self.grants.pruned
            and grants.released == self.grants.released
            and length
            == self.length
            + (grants.count - self.grants.count)
            - (grants.pruned - self.grants.pruned)
        )

    def granted(self, written: Iterable[tuple[Reservation, float]]) -> None:
        """Add this gate's grants just written: each reservation and its gross USD."""
        per_symbol = dict(self.grants.per_symbol)
        count, usd = self.grants.count, self.grants.usd
        listed = list(written)
        for reservation, notional_usd in listed:
            per_symbol[reservation.symbol] = per_symbol.get(reservation.symbol, 0) + 1
            count, usd = count + 1, usd + notional_usd
            self.length += 1
            self.symbols.add(reservation.symbol)
        self._track(r for r, _ in listed)
        self.grants = replace(self.grants, count=count, usd=usd, per_symbol=per_symbol)
