"""Our complete-linkage cut (nearest-neighbour chain) against scipy's linkage + fcluster."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
from scipy.spatial.distance import squareform  # type: ignore[import-untyped]

from tradingstack_workers.clusters.clustering import group
from tradingstack_workers.clusters.linkage import complete_linkage_cut


def scipy_cut(distance: np.ndarray, cut: float) -> list[int]:
    tree = linkage(squareform(distance, checks=False), method="complete")
    return [int(x) for x in fcluster(tree, t=cut, criterion="distance")]


@pytest.mark.parametrize("seed", range(200))
def test_the_cut_finds_scipys_clusters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    points = rng.standard_normal((n, int(rng.integers(1, 4)))) * rng.uniform(0.1, 3)
    distance = np.sqrt(((points[:, None] - points[None]) ** 2).sum(axis=-1))
    cut = float(rng.uniform(0.05, 4))
    names = [f"S{i}" for i in range(n)]
    ours = complete_linkage_cut(distance, cut)
    assert group(names, ours.tolist()) == group(names, scipy_cut(distance, cut))
    # Every pair inside a cluster is within the cut (complete linkage's promise).
    for label in set(ours.tolist()):
        members = np.flatnonzero(ours == label)
        assert distance[np.ix_(members, members)].max() <= cut


def test_the_cut_joins_by_the_largest_distance() -> None:
    distance = np.array([[0.0, 2.0, 3.0], [2.0, 0.0, 4.0], [3.0, 4.0, 0.0]])
    assert complete_linkage_cut(distance, 1.0).tolist() == [0, 1, 2]
    # 0 and 1 join at 2; the pair then sits at max(3, 4) = 4 from row 2, not within 3.
    three = complete_linkage_cut(distance, 3.0).tolist()
    assert three[0] == three[1] != three[2]
    assert len(set(complete_linkage_cut(distance, 4.0).tolist())) == 1
    assert complete_linkage_cut(np.zeros((1, 1)), 1.0).tolist() == [0]
