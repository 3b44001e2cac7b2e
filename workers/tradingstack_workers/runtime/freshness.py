"""One rule for "is this input fresh?", shared by the gate, the governor and clusters.

A value stamped ``ts`` (Unix seconds, the producer's clock) is fresh at ``now`` when::

    -FUTURE_SKEW_SECONDS <= now - ts <= max_age

Both ends are inclusive: a value exactly ``max_age`` old is still fresh (seed 000 says
stale when *older than* 120 s), in every reader, for every limit (portfolio 30 s,
cluster state 120 s, heat 120 s, the last-known-good window 900 s). A stamp more than
``FUTURE_SKEW_SECONDS`` ahead is not skew but a wrong value (milliseconds, a broken
clock): trusted, it would look fresh for ever, so it is never fresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: Clock skew tolerated between producers and readers, seconds.
FUTURE_SKEW_SECONDS = 5.0


def is_fresh(ts: float, now: float, max_age: float) -> bool:
    """True when ``ts`` is at most ``max_age`` seconds old and not too far ahead."""
    age = now - ts
    return -FUTURE_SKEW_SECONDS <= age <= max_age


@overload
def is_future(ts: float, now: float) -> bool: ...
@overload
def is_future(ts: NDArray[np.float64], now: float) -> NDArray[np.bool_]: ...
def is_future(ts: float | NDArray[np.float64], now: float) -> bool | NDArray[np.bool_]:
    """True when ``ts`` lies further ahead than the tolerated skew (a wrong unit or clock);
    element by element for an array of stamps (False for NaN)."""
    return ts - now > FUTURE_SKEW_SECONDS
