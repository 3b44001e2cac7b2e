"""The alignment's shared keys: one counted unique gives what pairwise intersections gave."""

from __future__ import annotations

from functools import reduce

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tradingstack_workers.clusters.correlation import shared_keys

KEYS = st.lists(st.integers(0, 40).map(float), max_size=30)


@given(st.lists(KEYS, min_size=1, max_size=8), st.booleans())
def test_shared_keys_equal_the_pairwise_intersection(arrays: list[list[float]], sort: bool) -> None:
    """Sorted histories (the store's) or not, repeated keys or not, empty or not."""
    keys = [np.array(sorted(a) if sort else a, dtype=np.float64) for a in arrays]
    expected = np.unique(reduce(np.intersect1d, keys))  # one array alone: its distinct keys
    assert np.array_equal(shared_keys(keys), expected)


def test_no_arrays_share_nothing() -> None:
    assert len(shared_keys([])) == 0
