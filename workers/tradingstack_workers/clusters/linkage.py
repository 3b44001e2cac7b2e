"""Complete-linkage clusters cut at a distance, by the nearest-neighbour chain (numpy only).

Why not scipy's ``linkage`` + ``fcluster``: they gave the same clusters (the unit tests
still check ours against them on random books), but importing them maps most of scipy
(``scipy.spatial``, ``scipy.sparse``): about 43 MB of resident memory in a worker that
must stay under 80 MB (issue #18). The clusters only need the flat cut, not the tree.

The nearest-neighbour chain (Murtagh 1983; Muellner 2011, "Modern hierarchical,
agglomerative clustering algorithms", section 3.4) finds every merge of a *reducible*
linkage, which complete linkage is, with O(n) row operations of length n: follow
nearest neighbours until two clusters are each other's nearest, merge them (the merged
cluster's distance to any other is the larger of the two), go on. The merges come in
another order than the greedy algorithm's but are the same set, and complete linkage
never merges below a child's height, so the clusters of the cut at ``t`` are those
joined by merges at heights ``<= t``. A cluster whose nearest neighbour is further
than ``t`` can never merge below ``t`` (complete-linkage distances only grow): it is
final, and so is every cluster on the chain below it (their nearest are further still).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def complete_linkage_cut(distance: NDArray[np.float64], cut: float) -> NDArray[np.intp]:
    """Cluster of each row of the symmetric ``distance`` matrix (n x n): rows share a
    cluster when complete linkage joins them at a height of at most ``cut``. A cluster
    is named by one of its rows' indices."""
    n = len(distance)
    d = np.array(distance, dtype=np.float64)
    np.fill_diagonal(d, np.inf)
    owner = np.arange(n)
    #: Clusters that may still merge: not merged into another, not retired.
    alive = np.ones(n, dtype=bool)
    chain: list[int] = []

    def drop(cluster: int) -> None:
        alive[cluster] = False
        d[cluster, :] = np.inf
        d[:, cluster] = np.inf

    while chain or np.count_nonzero(alive) > 1:
        if not chain:
            chain.append(int(np.argmax(alive)))
        a = chain[-1]
        b = int(np.argmin(d[a]))
        nearest = d[a, b]
        if not nearest <= cut:
            # Nothing on the chain can merge below the cut any more: retire it.
            for done in chain:
                drop(done)
            chain.clear()
            continue
        if len(chain) > 1 and d[a, chain[-2]] <= nearest:
            b = chain[-2]
            del chain[-2:]
            merged = np.maximum(d[a], d[b])
            drop(b)
            d[a, :] = merged
            d[:, a] = merged
            d[a, a] = np.inf
            d[a, b] = d[b, a] = np.inf
            owner[owner == b] = a
        else:
            chain.append(b)
    return owner
