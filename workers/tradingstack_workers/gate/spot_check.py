"""A rolling check of the known reservations against the hash, in place of reading the
whole hash again every few seconds. Pure: no I/O.

The known reservations (:mod:`.known`) stay in use while the grant totals and the hash's
length are what grants and counted prunes explain. That finds every field added or
removed, not a field whose value was changed in place (by hand, or by a writer off the
contract). The gate used to bound that by reading the whole hash every 5 s; with grants
left unfilled the hash holds grants/s x permit TTL fields, and each of those reads
stalled the gate, and Redis for every replica, for the whole hash: in
bench/gate_throughput.py's paced run at half a replica's load (about 8,800 proposals/s,
15 s, no grant filled) the p99 was 145 and 158 ms with those reads, 4 and 4 ms with
this check (two runs each, one machine; issue #18's closing note of 2026-12-02).

So each book read now also fetches a few known fields (HMGET in the same script), the
next ones in turn: as many as compare every known field once per ``period`` seconds of
book reads, at least one, at most ``max_per_read``. A field whose value differs from the
text the gate knows makes it read the whole hash again, as any other sign did before.
A field found gone is left to the length check (a fill or a prune changes the length;
another gate may prune a field its clock expired a little before this gate's did).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Each known reservation is compared with the hash about once per this many seconds.
PERIOD_SECONDS = 5.0
#: Fields compared per book read at most (after an idle stretch the rest follow).
MAX_PER_READ = 1000


@dataclass(frozen=True)
class Picked:
    """Fields picked for one book read: ``fields``; the turn they began in, and the turn
    and position they end at."""

    fields: tuple[str, ...]
    began: list[str] = field(default_factory=list, repr=False)
    turn: list[str] = field(default_factory=list, repr=False)
    end: int = 0


#: No fields: the pick of a read that checks none (nothing known, or the whole hash read).
NOTHING = Picked(())
#: What :func:`differing` names when the reply is not the values asked for (an error).
UNANSWERED = "*"


class SpotCheck:
    """Which known fields the next book read fetches, in turn (:meth:`pick`), and where
    the next starts once a read compared them (:meth:`checked`): a read ahead that found
    no entries reads no book, and its fields are picked again."""

    def __init__(self, period: float = PERIOD_SECONDS, max_per_read: int = MAX_PER_READ) -> None:
        self._period = period
        self._max = max_per_read
        self._turn: list[str] = []
        self._next = 0
        self._last: float | None = None

    def pick(self, known: Collection[str], monotonic: float) -> Picked:
        """The next fields in turn of ``known`` (the known reservations' ids, in a stable
        order): ``len(known)`` x the seconds since fields were last compared / ``period``,
        rounded up, at least 1, at most ``max_per_read`` and ``len(known)``; none when
        nothing is known. A turn is ``known`` as it was when the last turn ended; ids no
        longer known are skipped. ``monotonic``: seconds, the reader's monotonic clock."""
        if not known:
            return NOTHING
        elapsed = 0.0 if self._last is None else max(0.0, monotonic - self._last)
        wanted = min(self._max, len(known), max(1, math.ceil(len(known) * elapsed / self._period)))
        picked: list[str] = []
        turn, position = self._turn, self._next
        new_turn = False
        while len(picked) < wanted:
            if position >= len(turn):
                if new_turn:  # every id of a turn taken in this pick: enough
                    break
                turn, position, new_turn = list(known), 0, True
            field_id = turn[position]
            position += 1
            if field_id in known:
                picked.append(field_id)
        return Picked(tuple(picked), self._turn, turn, position)

    def checked(self, picked: Picked, monotonic: float) -> None:
        """A book read compared ``picked`` with the hash at ``monotonic``: the next pick
        starts after them and counts time from then."""
        if picked.turn is self._turn:
            self._next = max(self._next, picked.end)
        elif picked.began is self._turn:  # it ended the turn and began the next
            self._turn, self._next = picked.turn, picked.end
        self._last = monotonic


def differing(
    picked: Sequence[str], values: Any, known: Mapping[str, tuple[str, object]]
) -> str | None:
    """The first of ``picked`` whose value read (``values``, HMGET's reply in the same
    order) is not the text ``known`` holds for it (``known``: id -> (text, ...)); None
    when all agree. A field gone (None) or no longer known is not a difference; a reply
    that is not a list of that length (an error) is, named :data:`UNANSWERED`."""
    if not isinstance(values, list) or len(values) != len(picked):
        return UNANSWERED
    for name, value in zip(picked, values, strict=True):
        held = known.get(name)
        if value is not None and held is not None and value != held[0]:
            return name
    return None
