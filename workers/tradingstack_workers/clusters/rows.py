"""The stored forms of the clusters' price points (pure): one row per sampling cycle, and
the per-symbol member of the format before rows (still read, :mod:`.history`)."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..wire import epoch_seconds_problem, is_symbol
from ..wire.fields import EPOCH_MAX_SECONDS, EPOCH_MIN_SECONDS
from .book import Vector

#: A row's prices and snapshot times: float64, little-endian, exact.
_FLOATS = np.dtype("<f8")


def encode_row(key: float, symbols: Sequence[str], prices: Vector, snapshot_ts: Vector) -> str:
    """One cycle's points as text: ``"{key} {symbols, comma-separated} {prices}
    {snapshot times}"``, the two vectors as base64 of their float64 bytes (exact, and a
    hundredth of the time ``repr`` of each takes). The key makes each cycle's member
    unique."""
    if not len(symbols) == len(prices) == len(snapshot_ts):
        raise ValueError("symbols, prices and snapshot times differ in length")
    return " ".join(
        (
            repr(float(key)),
            ",".join(symbols),
            base64.b64encode(np.asarray(prices, dtype=_FLOATS).tobytes()).decode("ascii"),
            base64.b64encode(np.asarray(snapshot_ts, dtype=_FLOATS).tobytes()).decode("ascii"),
        )
    )


@dataclass(frozen=True)
class Row:
    """One stored cycle's readable points (an unreadable point is left out)."""

    key: float
    symbols: list[str]
    prices: Vector
    snapshot_ts: Vector


def decode_row(member: str, score: float) -> Row | None:
    """The readable points of a stored row, or None when the row itself is unreadable
    (its key not the score, not epoch seconds, the parts not matching). A point is
    readable with a ticker for a symbol, a finite positive price and an epoch-seconds
    snapshot time: the rules of every wire timestamp, since a point in another unit
    would never align with the others."""
    parts = member.split(" ")
    if len(parts) != 4 or epoch_seconds_problem(score, None):
        return None
    try:
        key = float(parts[0])
        prices = np.frombuffer(base64.b64decode(parts[2], validate=True), dtype=_FLOATS)
        stamps = np.frombuffer(base64.b64decode(parts[3], validate=True), dtype=_FLOATS)
    except ValueError:
        return None
    symbols = parts[1].split(",") if parts[1] else []
    if key != score or not len(symbols) == len(prices) == len(stamps):
        return None
    with np.errstate(invalid="ignore"):
        ok = (
            np.fromiter(map(is_symbol, symbols), bool, len(symbols))
            & np.isfinite(prices)
            & (prices > 0)
            & (stamps >= EPOCH_MIN_SECONDS)
            & (stamps < EPOCH_MAX_SECONDS)
        )
    keep = np.flatnonzero(ok)
    return Row(key, [symbols[i] for i in keep.tolist()], prices[keep], stamps[keep])


def parse_member(member: str, score: float) -> tuple[float, float, float] | None:
    """``(key, price, snapshot_ts)`` of a point stored in the legacy per-symbol format
    (member ``"{snapshot ts}|{price}"``), or None when it is unreadable (same rules as
    :func:`decode_row`)."""
    ts, sep, price = member.partition("|")
    try:
        point = (float(score), float(price), float(ts))
    except ValueError:
        return None
    key, value, snapshot_ts = point
    if not sep or not (math.isfinite(value) and value > 0):
        return None
    if epoch_seconds_problem(key, None) or epoch_seconds_problem(snapshot_ts, None):
        return None
    return point
