"""The book a proposal is judged on, kept as a batch's grants change it. Pure: no I/O.

Per symbol, the signed USD exposure of the position once every outstanding reservation
fills at its worst (:meth:`.reservations.Reserved.worst`); flat symbols are left out.
The book also keeps what the figures need of the whole (gross ``sum |e|``, net
``sum e``, the two largest ``|e|``, the symbols a cluster state does not cover), so a
proposal, which changes one symbol, is judged in the same time on a book of 5 or 500
symbols, and a grant's reservation is added in that time too (:meth:`Book.reserve`).
A book whose totals are not finite (exposures beyond ``1e308`` USD) is walked instead.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from ..wire.proposal import Proposal
from ..wire.reservation import Reservation
from .figures import figures
from .reservations import NOTHING, Reserved, add

if TYPE_CHECKING:
    from .decide import PortfolioView

#: A position smaller than this (in units) is flat; float noise must not look like one.
FLAT = 1e-12


def gaps(
    book: Collection[str], covered: Collection[str] | None, frozen: Iterable[str]
) -> tuple[bool, bool]:
    """Whether some symbol of ``book`` is not among a cluster state's ``covered`` symbols
    (None: the state names none), and whether some is among those it left out as
    ``frozen`` (:func:`.decide.correlation_k`)."""
    symbols = set(book)
    return covered is None or not symbols.issubset(covered), not symbols.isdisjoint(frozen)


class After(NamedTuple):
    """The book once a proposal fills: its totals, and how a cluster state covers it."""

    gross: float
    net: float
    largest: float
    #: Some symbol of the book after is not among the cluster state's symbols.
    uncovered: bool
    #: Some symbol of the book after is among those clusters left out (frozen feed).
    frozen: bool


class Book:
    """Signed USD exposure per symbol with every reservation of ``view`` at its worst,
    and the heat of the positions alone (``heat_now``, for the governor)."""

    def __init__(self, view: PortfolioView, leverage_cap: float) -> None:
        self._positions = view.positions
        self._reserved: dict[str, Reserved] = dict(view.reserved)
        cluster = view.cluster
        self._covered = None if cluster is None else cluster.symbols
        self._frozen = () if cluster is None else cluster.frozen
        # Valued in one pass and summed in symbol order: what adding them one by one with
        # _set gives, without its per-symbol upkeep of the two largest (a batch builds
        # its book anew, so a batch of one paid it for every symbol held).
        exposure: dict[str, float] = {}
        for symbol in sorted({*view.positions, *view.reserved}):
            value = self._value(symbol, 0.0, self._reserved.get(symbol, NOTHING).price)
            if value is not None:
                exposure[symbol] = value
        self.exposure = exposure
        self._gross = self._net = 0.0
        # A loop, not sum(): from Python 3.12 sum() of floats is compensated, and the
        # totals must equal the running ones that _set and after() add and subtract.
        for value in exposure.values():
            self._gross += abs(value)
            self._net += value
        self._top = self._two_largest()
        covered = self._covered
        self._outside = set() if covered is None else {s for s in exposure if s not in covered}
        held = {s: p.exposure for s, p in view.positions.items()}
        self.heat_now = figures(held, view.equity_usd, leverage_cap).heat

    def _value(self, symbol: str, units: float, unheld_price: float) -> float | None:
        """The exposure of ``symbol`` with ``units`` more (None when flat); a symbol not
        held is valued at ``unheld_price``, a held one at its mark."""
        held = self._positions.get(symbol)
        amt = held.amt + units if held is not None else units
        price = held.mark_price if held is not None else unheld_price
        worst = self._reserved.get(symbol, NOTHING).worst(amt)
        return worst * price if abs(worst) > FLAT else None

    def _set(self, symbol: str, exposure: float | None) -> None:
        old = self.exposure.pop(symbol, None)
        if old is not None:
            self._gross -= abs(old)
            self._net -= old
        if exposure is not None:
            self.exposure[symbol] = exposure
            self._gross += abs(exposure)
            self._net += exposure
        if not self.exposure:
            self._gross = self._net = 0.0  # no float residue on an empty book
        if exposure is not None and self._covered is not None and symbol not in self._covered:
            self._outside.add(symbol)
        else:
            self._outside.discard(symbol)
        size = abs(exposure) if exposure is not None else 0.0
        rest = [t for t in self._top if t[1] != symbol]
        if len(rest) == len(self._top) or (old is not None and abs(old) <= size):
            # Not among the two largest, or grew: the others of the two stay the largest.
            if exposure is not None:
                rest.append((size, symbol))
            self._top = sorted(rest, reverse=True)[:2]
        else:  # one of the two largest shrank: the runner-up may be any symbol
            self._top = self._two_largest()

    def _two_largest(self) -> list[tuple[float, str]]:
        """(size USD, symbol) of the two largest exposures, largest first."""
        return heapq.nlargest(2, ((abs(e), s) for s, e in self.exposure.items()))

    def _largest_except(self, symbol: str) -> float:
        for size, holder in self._top:
            if holder != symbol:
                return size
        return 0.0

    def after(self, proposal: Proposal) -> After:
        """The book once ``proposal`` fills (every reservation still at its worst)."""
        symbol = proposal.symbol
        old = self.exposure.get(symbol)
        new = self._value(symbol, proposal.signed_qty, proposal.price)
        if not (math.isfinite(self._gross) and math.isfinite(self._net)):
            return self._walk(symbol, new)
        count = len(self.exposure) - (old is not None) + (new is not None)
        if count == 0:
            return After(0.0, 0.0, 0.0, self._covered is None, False)
        size = abs(new) if new is not None else 0.0
        gross = self._gross - (abs(old) if old is not None else 0.0) + size
        net = self._net - (old if old is not None else 0.0) + (new if new is not None else 0.0)
        outside = self._outside
        uncovered = self._covered is None or (
            len(outside) > 1
            or (len(outside) == 1 and symbol not in outside)
            or (new is not None and symbol not in self._covered)
        )
        frozen = any((new is not None) if f == symbol else f in self.exposure for f in self._frozen)
        return After(gross, net, max(self._largest_except(symbol), size), uncovered, frozen)

    def _walk(self, symbol: str, new: float | None) -> After:
        book = {s: e for s, e in self.exposure.items() if s != symbol}
        if new is not None:
            book[symbol] = new
        sizes = [abs(e) for e in book.values()]
        uncovered, frozen = gaps(book, self._covered, self._frozen)
        return After(sum(sizes), sum(book.values()), max(sizes, default=0.0), uncovered, frozen)

    def reserve(self, reservation: Reservation) -> None:
        """Add a grant's reservation: its symbol is re-valued, every other one stays."""
        symbol = reservation.symbol
        reserved = add(self._reserved.get(symbol, NOTHING), reservation)
        self._reserved[symbol] = reserved
        self._set(symbol, self._value(symbol, 0.0, reserved.price))

    @property
    def reserved(self) -> Mapping[str, Reserved]:
        return self._reserved
