"""Position snapshots as the bots write them, parsed without trusting them (pure).

A malformed snapshot is a typed :class:`Malformed` value, never an exception: the
shell counts it by reason and skips that symbol, and the loop goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

FIELDS = ("position_amt", "mark_price", "ts_epoch")


class Malformed(StrEnum):
    """Why a snapshot was skipped (the skip counter's label)."""

    EMPTY = "empty"
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    NOT_A_NUMBER = "not_a_number"
    BAD_PRICE = "bad_price"


@dataclass(frozen=True)
class Snapshot:
    symbol: str
    position_amt: float
    mark_price: float
    ts_epoch: float

    @property
    def exposure(self) -> float:
        """Signed notional: what the position gains or loses per unit relative move."""
        return self.position_amt * self.mark_price


def parse_snapshot(symbol: str, fields: Mapping[str, str]) -> Snapshot | Malformed:
    """A snapshot, or why it cannot be used."""
    if not fields:
        return Malformed.EMPTY
    if any(name not in fields for name in FIELDS):
        return Malformed.MISSING_FIELD
    try:
        amt, price, ts = (float(fields[name]) for name in FIELDS)
    except ValueError:
        return Malformed.NOT_A_NUMBER
    if not all(math.isfinite(v) for v in (amt, price, ts)):
        return Malformed.NOT_A_NUMBER
    if price <= 0:
        return Malformed.BAD_PRICE
    return Snapshot(symbol, amt, price, ts)
