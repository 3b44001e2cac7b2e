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

from collections.abc import Iterable, Mapping, Sequence

from .correlation import PricePoint


def unchanged_since(points: Sequence[PricePoint]) -> float | None:
    """The sampling time the last run of equal prices began (None without points)."""
    if not points:
        return None
    since = points[-1].key
    for earlier in reversed(points[:-1]):
        if earlier.price != points[-1].price:
            break
        since = earlier.key
    return since


def frozen_symbols(
    histories: Mapping[str, Sequence[PricePoint]],
    symbols: Iterable[str],
    now: float,
    frozen_after_s: float,
) -> tuple[str, ...]:
    """The ``symbols`` whose price has not changed for more than ``frozen_after_s``."""
    frozen = []
    for symbol in sorted(set(symbols)):
        since = unchanged_since(histories.get(symbol, ()))
        if since is not None and now - since > frozen_after_s:
            frozen.append(symbol)
    return tuple(frozen)
