"""One cycle's position snapshots as arrays, parsed by the wire's rules in one pass (pure).

The clusters worker reads every snapshot each cycle (1000 at the issue's size): one
:class:`~..wire.PositionSnapshot` per symbol cost more than the correlation's own
maths (issue #18). So the three fields of every snapshot arrive as one flat list of
texts and are read here together: one regular expression over all of them says
whether each is a plain decimal number (the texts writers send), one conversion makes
them floats, and the wire's rules (finite amount, positive mark, epoch-seconds time not
in the future) are checked on the arrays. A row that is not plain, or breaks a rule,
is parsed by ``PositionSnapshot.parse`` itself: the same verdict and the same
:class:`~..wire.BadEntry` as before, only for the rare row that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..runtime.freshness import is_future
from ..wire import BadEntry, Fault, PositionSnapshot
from ..wire.fields import EPOCH_MAX_SECONDS, EPOCH_MIN_SECONDS

Vector = NDArray[np.float64]

#: The snapshot fields the worker uses, in the order the read returns them.
FIELDS = ("position_amt", "mark_price", "ts_epoch")

#: A plain decimal number: a subset of what the wire's float accepts, which ``float``
#: reads to the same value (tests/unit/test_clusters_snapshots.py checks both claims).
#: ASCII digits only: ``\d`` would take other scripts' digits, which the wire refuses.
_NUMBER = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_ALL_PLAIN = re.compile(rf"(?:{_NUMBER}\n)*{_NUMBER}")
_PLAIN = re.compile(_NUMBER)


@dataclass(frozen=True)
class Snapshots:
    """Valid snapshots of one cycle, row ``i`` for ``symbols[i]``."""

    symbols: tuple[str, ...]
    position_amt: Vector
    mark_price: Vector
    ts_epoch: Vector

    @property
    def exposure(self) -> Vector:
        """Signed notional (USD) per symbol, as ``PositionSnapshot.exposure``."""
        exposure: Vector = self.position_amt * self.mark_price
        return exposure

    def __len__(self) -> int:
        return len(self.symbols)


@dataclass(frozen=True)
class Skipped:
    symbol: str
    error: BadEntry


def _hash(reply: object) -> Mapping[str, str]:
    """A whole snapshot hash, or :class:`BadEntry` for an empty key or one of another type."""
    if not isinstance(reply, Mapping):
        raise BadEntry("type", f"not a hash ({reply})", Fault.BAD_FORMAT)
    if not reply:
        raise BadEntry("snapshot", "empty (deleted since the scan)", Fault.MISSING)
    return reply


def parse_snapshots(
    symbols: Sequence[str],
    values: Sequence[str],
    whole: Mapping[int, object],
    now: float,
) -> tuple[Snapshots, list[Skipped]]:
    """The snapshots of ``symbols`` read at ``now`` (epoch seconds).

    ``values``: the :data:`FIELDS` of every symbol in turn (``3 * len(symbols)`` texts);
    ``whole``: for the rows lacking one of them, by row, the whole hash as read (a
    mapping; an empty one for a key deleted since the scan) or the error Redis gave
    for a key of another type. Returns the valid snapshots, in ``symbols``' order, and
    the rows skipped with the reason.
    """
    n = len(symbols)
    if len(values) != 3 * n:
        raise ValueError(f"{len(values)} values for {n} symbols, {3 * n} expected")
    plain = np.ones(n, dtype=bool)
    if whole:
        plain[list(whole)] = False
    joined = "\n".join(values)
    # One newline per join only: a text holding one itself ('1\n2') would read as two
    # plain numbers to the regex, then fail the conversion and with it the whole cycle.
    if n and joined.count("\n") == len(values) - 1 and _ALL_PLAIN.fullmatch(joined):
        numbers = np.array(values, dtype=np.float64)
    else:  # some text is not plain: read the plain ones, the others go the wire's way
        numbers = np.full(3 * n, np.nan)
        for i, text in enumerate(values):
            if _PLAIN.fullmatch(text):
                numbers[i] = float(text)
            else:
                plain[i // 3] = False
    amt, mark, ts = numbers.reshape(n, 3).T
    with np.errstate(invalid="ignore"):
        ok = (
            plain
            & np.isfinite(amt)
            & np.isfinite(mark)
            & (mark > 0)
            & (ts >= EPOCH_MIN_SECONDS)
            & (ts < EPOCH_MAX_SECONDS)
            & ~is_future(ts, now)
        )
    skipped: list[Skipped] = []
    for row in np.flatnonzero(~ok).tolist():
        symbol = symbols[row]
        given = values[3 * row : 3 * row + 3]
        fields = whole[row] if row in whole else dict(zip(FIELDS, given, strict=True))
        try:
            snapshot = PositionSnapshot.parse(symbol, _hash(fields), now)
        except BadEntry as exc:
            skipped.append(Skipped(symbol, exc))
            continue
        # The wire accepts what the plain reading did not (spaces, a '+'): its values count.
        amt[row], mark[row], ts[row] = snapshot.position_amt, snapshot.mark_price, snapshot.ts_epoch
        ok[row] = True
    kept = np.flatnonzero(ok)
    return (
        Snapshots(
            symbols=tuple(symbols[i] for i in kept.tolist()),
            position_amt=amt[kept],
            mark_price=mark[kept],
            ts_epoch=ts[kept],
        ),
        skipped,
    )
