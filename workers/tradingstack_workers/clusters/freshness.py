"""Which symbols' feeds are frozen: their snapshot stopped changing (pure, no Redis).

A symbol is frozen at ``now`` when its price has not changed for longer than
``frozen_after_s``: either its snapshot stopped being rewritten (no new point was
sampled since) or it is rewritten with the same price every cycle (a stuck price
source). Both look alike in the sampled history: the last run of equal prices began
too long ago. Left in, a frozen symbol drags every correlation with it toward zero and
shrinks the window all symbols share until the state fails closed as misaligned, hours
later, without naming anyone; the worker leaves it out and names it instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from .book import PriceBook


def frozen_symbols(
    book: PriceBook, symbols: Iterable[str], now: float, frozen_after_s: float
) -> tuple[str, ...]:
    """The ``symbols`` whose price has not changed for more than ``frozen_after_s``
    (:meth:`.PriceBook.unchanged_since`), sorted."""
    since = book.unchanged_since(sorted(set(symbols)))
    return tuple(s for s, began in since.items() if now - began > frozen_after_s)
