"""Correlation + clustering of N symbols x M points: numpy/scipy against the seeds' loops.

Also the alignment's key step (``shared_keys``: the sampling times every symbol has)
against the pairwise ``reduce(np.intersect1d, ...)`` it replaced, on the same keys.

Ours: log returns, vectorised Pearson, per-pair shrinkage above the weight floor,
complete linkage per connected component (``clusters.correlation`` +
``clusters.clustering``, as the worker calls them). Baseline, same run: pure Python
written the seeds' way, one O(M) Pearson loop per pair (O(N^2 M)) and grouping of
pairs above the threshold. For large N the baseline is timed on a random sample of
pairs and extrapolated to all N(N-1)/2 pairs (``baseline_extrapolated`` in params).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from functools import partial, reduce

import numpy as np

from bench.common import emit, parser
from tradingstack_workers.clusters.clustering import complete_linkage_labels, weight_floor
from tradingstack_workers.clusters.correlation import FailClosed, shared_keys, shrunk_correlation

THRESHOLD = 0.70


def best_of(action: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def prices(n_symbols: int, n_points: int, seed: int = 0) -> np.ndarray:
    """Random walks on a few common factors, so some pairs cluster."""
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_points - 1, 5))
    loadings = rng.uniform(0, 1, (5, n_symbols)) * (rng.random((5, n_symbols)) < 0.3)
    noise = rng.standard_normal((n_points - 1, n_symbols))
    returns = (factors @ loadings + noise) * 0.01
    return np.asarray(100 * np.exp(np.vstack([np.zeros(n_symbols), np.cumsum(returns, axis=0)])))


def ours(matrix: np.ndarray, symbols: Sequence[str]) -> list[int]:
    corr = shrunk_correlation(matrix, symbols, floor=weight_floor(THRESHOLD))
    assert not isinstance(corr, FailClosed)
    return complete_linkage_labels(corr, THRESHOLD)


def seed_pearson(x: list[float], y: list[float]) -> float:
    n = len(x)
    mean_x = sum(x) / n
    mean_y = sum(y) / n
    cov = var_x = var_y = 0.0
    for i in range(n):
        dx, dy = x[i] - mean_x, y[i] - mean_y
        cov += dx * dy
        var_x += dx * dx
        var_y += dy * dy
    return cov / math.sqrt(var_x * var_y)


def seed_way(columns: list[list[float]], pairs: Sequence[tuple[int, int]]) -> int:
    """The seeds' loops: returns per symbol, Pearson per pair, group pairs above threshold."""
    returns = [[math.log(c[k + 1] / c[k]) for k in range(len(c) - 1)] for c in columns]
    parent = list(range(len(columns)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in pairs:
        if seed_pearson(returns[i], returns[j]) >= THRESHOLD:
            parent[root(i)] = root(j)
    return len({root(i) for i in range(len(columns))})


def key_arrays(n_symbols: int, n_points: int) -> list[np.ndarray]:
    """Each symbol's sampling keys (cycle times), each missing one of the first 20 cycles."""
    rng = np.random.default_rng(1)
    every = 1.8e9 + 60.0 * np.arange(n_points)
    return [np.delete(every, rng.integers(0, min(20, n_points))) for _ in range(n_symbols)]


def pairwise_shared_keys(keys: list[np.ndarray]) -> int:
    """The replaced step: the keys all symbols share by N-1 pairwise intersections."""
    return len(reduce(np.intersect1d, keys))


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    points = 60 if args.quick else 360
    sizes = (10, 50) if args.quick else (50, 200, 500, 1000)
    max_pairs = 300 if args.quick else 20_000
    repeats = 1 if args.quick else 3
    rng = random.Random(0)
    for n in sizes:
        matrix = prices(n, points)
        symbols = [f"S{i}" for i in range(n)]
        columns = [[float(v) for v in matrix[:, i]] for i in range(n)]
        all_pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        sample = all_pairs if len(all_pairs) <= max_pairs else rng.sample(all_pairs, max_pairs)
        vectorised = best_of(partial(ours, matrix, symbols), repeats) * 1000
        timed = best_of(partial(seed_way, columns, sample), 1) * 1000
        baseline = timed * len(all_pairs) / len(sample)
        emit(
            "clusters_correlation",
            f"numpy, {n} symbols x {points} points",
            unit="ms",
            value=vectorised,
            baseline_case=f"pure-Python loops, {n} symbols x {points} points",
            baseline_value=baseline,
            symbols=n,
            points=points,
            pairs=len(all_pairs),
            baseline_pairs_timed=len(sample),
            baseline_extrapolated=len(sample) < len(all_pairs),
            speedup=round(baseline / vectorised, 1) if vectorised else None,
        )
        keys = key_arrays(n, points)
        shared = shared_keys(keys)
        assert len(shared) == pairwise_shared_keys(keys)  # the same answer, or no figure
        emit(
            "clusters_correlation",
            f"shared keys by one counted unique, {n} symbols x {points} points",
            unit="ms",
            value=best_of(partial(shared_keys, keys), repeats) * 1000,
            baseline_case=f"shared keys by pairwise intersect1d, {n} symbols x {points} points",
            baseline_value=best_of(partial(pairwise_shared_keys, keys), repeats) * 1000,
            symbols=n,
            points=points,
            shared_points=len(shared),
        )


if __name__ == "__main__":
    main()
