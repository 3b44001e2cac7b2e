"""Brownian motion with random access: W(i) is a pure function of (key, i), in O(log N).

Why not ``cumsum(rng.normal(size=i))``: a restarted bot must resume the *same* market
at bar ``i`` without replaying ``i`` draws (at one bar a second that is 30 million a
year), and reading history must not depend on what was read before. So the path is
built as a Brownian bridge over ``[0, 2**LEVELS]``: the endpoint is one normal draw,
each dyadic midpoint is drawn conditionally on its interval's two ends, and every draw
comes from a counter-based hash of ``(key, node)``. Reaching index ``i`` walks one
root-to-leaf path: LEVELS draws, vectorised over all requested indices. The joint law
of ``W(0), W(1), ...`` is exactly that of a standard Brownian motion sampled at the
integers (Levy-Ciesielski), so bar increments are i.i.d. N(0, 1).
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

#: Horizon 2**40 bars: 35 000 years of one-second bars; W(2**40) ~ 1e6, far inside
#: float64 precision for unit-variance bar increments.
LEVELS = 40
HORIZON = 1 << LEVELS

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stream_key(seed: int, name: str) -> np.uint64:
    """A 64-bit key per (seed, stream name): keyed by name, so adding a symbol or a
    factor never changes the draws of the others. blake2b, not ``hash()``, which is
    salted per process."""
    digest = hashlib.blake2b(f"{seed}\x00{name}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mix(x: U64) -> U64:
    """splitmix64's finaliser: a bijective 64-bit hash with full avalanche."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _unit(h: U64) -> Floats:
    """53 high bits to a float in the open interval (0, 1)."""
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def uniforms(key: np.uint64, counters: Ints) -> Floats:
    """One U(0, 1) per counter, a pure function of (key, counter)."""
    return _unit(_mix(_mix(counters.astype(np.uint64)) ^ key))


def normals(key: np.uint64, counters: Ints) -> Floats:
    """One N(0, 1) per counter (Box-Muller on two chained hashes)."""
    h1 = _mix(_mix(counters.astype(np.uint64)) ^ key)
    h2 = _mix(h1)
    radius: Floats = np.sqrt(-2.0 * np.log(_unit(h1)))
    angle: Floats = np.cos(2.0 * np.pi * _unit(h2))
    return radius * angle


def brownian(key: np.uint64, idx: Ints) -> Floats:
    """W(i) for each i in ``idx`` (0 <= i <= HORIZON), in units of one bar's variance."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() > HORIZON):
        raise ValueError(f"bar index outside [0, {HORIZON}]")
    lo = np.zeros_like(idx)
    hi = np.full_like(idx, HORIZON)
    w_lo = np.zeros(idx.shape, dtype=np.float64)
    # The root's counter is HORIZON itself: midpoints are all strictly inside (0, HORIZON).
    w_hi = np.sqrt(float(HORIZON)) * normals(key, np.full_like(idx, HORIZON))
    for _ in range(LEVELS):
        mid = (lo + hi) // 2
        w_mid = 0.5 * (w_lo + w_hi) + 0.5 * np.sqrt((hi - lo).astype(np.float64)) * normals(
            key, mid
        )
        right = idx >= mid
        lo = np.where(right, mid, lo)
        w_lo = np.where(right, w_mid, w_lo)
        hi = np.where(right, hi, mid)
        w_hi = np.where(right, w_hi, w_mid)
    out: Floats = np.where(idx == hi, w_hi, w_lo)
    return out
