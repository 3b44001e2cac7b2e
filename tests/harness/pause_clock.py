"""A monotonic clock that only the caller's pauses move (for ``VenueCalls``' 429 pauses).

A test then reads the pause the code decided on: with the wall clock, a loaded machine
spends part of a Retry-After between the 429 and the next call, and the pause read shrinks.
"""

from __future__ import annotations


class PauseClock:
    """``now`` in seconds from 0; ``wait(seconds)`` records the pause, moves ``now`` by it
    and returns True (never stopping)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        self.now += seconds
        return True
