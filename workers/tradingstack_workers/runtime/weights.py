"""Weights that must sum to 1 (the gate's stress, the governor's market stress): one rule,
shared by the workers' settings and the spec's admission rules (CEL and Python alike)."""

from __future__ import annotations

from typing import Final

#: A sum within these bounds counts as 1: decimal weights (0.1 + 0.2 + 0.7) do not add up
#: to exactly 1.0 in binary floating point.
SUM_LOW: Final = 0.999999999
SUM_HIGH: Final = 1.000000001


def sums_to_one(*weights: float) -> bool:
    """True when ``weights`` add up to 1 within float rounding."""
    return SUM_LOW <= sum(weights) <= SUM_HIGH
