"""The reservations a gate last read, kept with its own grants since, so a batch need not
read (and sum) the whole hash while nothing but grants changed it. Pure: no I/O.

Outstanding reservations number up to grants/s x permit TTL when orders do not fill,
and reading them all every batch made a batch's cost grow with them. Every grant,
whoever makes it, adds one field to ``Keys.reservations`` and one to the grant count in
the same script (:mod:`.reservations`); fills, refusals and the pruning of expired
fields remove one. So when the hash's length is the known length plus the grants
counted since, nothing was removed: the hash is the known reservations (this gate's
grants included) plus other replicas' grants since. Those are not in the view; the
batch's write checks them against ``Since`` (the totals the known reservations answer
to) exactly as it checks grants made between any read and its write: on symbols the
view holds and within the batch's headroom, or nothing is written and the gate reads
again. So every grant written before a batch's write is in its view or checked there.
Anything else (a removal, an expiry reached, a write refused as a conflict, a failed
Redis call, which a failover causes, or the age limit) makes the gate read the hash
again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ..wire.reservation import Reservation
from .reservations import NOTHING, Grants, Reserved, add

#: The known reservations are read again at least this often (seconds).
MAX_AGE_SECONDS = 5.0


@dataclass
class KnownReservations:
    """Unexpired reservations by symbol as of ``grants``, the hash's length they explain,
    the earliest expiry among them (epoch seconds) and when they were read (monotonic)."""

    reserved: dict[str, Reserved]
    grants: Grants
    length: int
    expires: float
    read_at: float
    symbols: set[str] = field(default_factory=set)

    @classmethod
    def read(
        cls,
        reservations: Iterable[Reservation],
        reserved: Mapping[str, Reserved],
        grants: Grants,
        length: int,
        read_at: float,
    ) -> KnownReservations:
        """From a whole read: ``reservations`` parsed (unexpired or not), ``reserved``
        their unexpired sums, ``grants`` and ``length`` read in the same MULTI."""
        listed = list(reservations)
        return cls(
            dict(reserved),
            grants,
            length,
            min((r.expires_ts for r in listed), default=math.inf),
            read_at,
            {r.symbol for r in listed},
        )

    def current(
        self,
        grants: Grants,
        length: int,
        now: float,
        monotonic: float,
        max_age: float = MAX_AGE_SECONDS,
    ) -> bool:
        """True when nothing was removed since (``grants`` and ``length`` as read now:
        the hash grew by the grants counted since, and only by them), none has expired,
        and they were read less than ``max_age`` seconds ago."""
        return (
            grants.count >= self.grants.count
            and length == self.length + grants.count - self.grants.count
            and now <= self.expires
            and monotonic < self.read_at + max_age
        )

    def granted(self, written: Iterable[tuple[Reservation, float]]) -> None:
        """Add this gate's grants just written: each reservation and its gross USD."""
        per_symbol = dict(self.grants.per_symbol)
        count, usd = self.grants.count, self.grants.usd
        for reservation, notional_usd in written:
            symbol = reservation.symbol
            self.reserved[symbol] = add(self.reserved.get(symbol, NOTHING), reservation)
            per_symbol[symbol] = per_symbol.get(symbol, 0) + 1
            count, usd = count + 1, usd + notional_usd
            self.length += 1
            self.expires = min(self.expires, reservation.expires_ts)
            self.symbols.add(symbol)
        self.grants = replace(self.grants, count=count, usd=usd, per_symbol=per_symbol)
