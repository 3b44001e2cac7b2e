"""A small market for integration tests: correlated price paths fed as position snapshots.

AAA and BBB ride one factor, CCC is independent. ``feed`` writes one set of snapshots
and waits (polling) until the clusters worker has appended that point for every
symbol, so timing comes from the data, not from sleeps. ``independent_state``
recomputes clusters_count and ClusterStress pair by pair without the worker's code.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping

import numpy as np

from tests.harness.processes import WorkerProcess
from tests.harness.redis_procs import RedisProcess, wait_for
from tradingstack_workers.clusters.history import HistoryStore
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import RetryPolicy

KEYS = Keys()
THRESHOLD = 0.70
POINTS = 40
POSITIONS = {"AAA": 2.0, "BBB": 30.0, "CCC": -40.0}


def metric_values(process: WorkerProcess) -> dict[str, float]:
    """``name{labels}`` -> value, from the worker's /metrics."""
    values = {}
    for line in process.metrics().splitlines():
        match = re.match(r"^([a-z0-9_]+(?:\{[^}]*\})?) (\S+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def price_paths() -> dict[str, np.ndarray]:
    """AAA and BBB ride one factor; CCC is independent."""
    rng = np.random.default_rng(2024)
    factor = rng.standard_normal(POINTS - 1) * 0.01
    returns = {
        "AAA": factor + rng.standard_normal(POINTS - 1) * 0.003,
        "BBB": factor + rng.standard_normal(POINTS - 1) * 0.003,
        "CCC": rng.standard_normal(POINTS - 1) * 0.01,
    }
    start = {"AAA": 64_000.0, "BBB": 3_200.0, "CCC": 150.0}
    return {s: start[s] * np.exp(np.concatenate([[0.0], np.cumsum(r)])) for s, r in returns.items()}


def write_snapshots(server: RedisProcess, fields: Mapping[str, Mapping[str, str]]) -> None:
    """All symbols in one MULTI: the worker never sees half a set."""
    pipe = server.client().pipeline(transaction=True)
    for symbol, values in fields.items():
        pipe.delete(KEYS.snapshot(symbol))
        for name, value in values.items():
            pipe.hset(KEYS.snapshot(symbol), name, value)
        pipe.sadd(KEYS.snapshot_index, symbol)  # as every snapshot writer does
    pipe.execute()


def history_len(server: RedisProcess, symbol: str) -> int:
    """Points of ``symbol`` in the clusters' stored history, as a restarted worker loads it."""
    store = HistoryStore(server.client(), RetryPolicy(budget_seconds=5), KEYS,
                         lookback=10_000, ttl_seconds=86_400)  # fmt: skip
    return store.load(now=time.time()).book.length(symbol)


def feed(server: RedisProcess, paths: Mapping[str, np.ndarray], start: int = 0) -> None:
    """Points ``start`` up to the paths' length, one set of snapshots per clusters cycle."""
    for k in range(start, min(len(p) for p in paths.values())):
        write_snapshots(
            server,
            {
                s: {
                    "position_amt": repr(POSITIONS[s]),
                    "mark_price": repr(float(paths[s][k])),
                    "ts_epoch": str(1_769_000_000 + k),
                }
                for s in paths
            },
        )

        def appended(k: int = k) -> bool:
            return all(history_len(server, s) == k + 1 for s in paths)

        wait_for(appended, 10, f"point {k}")


def latest_audit(server: RedisProcess) -> dict[str, str]:
    """The newest entry of the clusters audit stream (written with cluster_state, atomically)."""
    entries = server.client().xrevrange(KEYS.cluster_state_stream, count=1)
    if not entries:
        return {}
    return {str(k): str(v) for k, v in (entries[0][1] or {}).items()}


def independent_state(paths: Mapping[str, np.ndarray]) -> tuple[int, float]:
    """clusters_count and ClusterStress recomputed pair by pair, without the worker's code."""
    symbols = sorted(paths)
    returns = {s: np.diff(np.log(paths[s])) for s in symbols}
    n = POINTS - 1
    shrunk = {}
    for a, b in itertools.combinations(symbols, 2):
        x = (returns[a] - returns[a].mean()) / returns[a].std()
        y = (returns[b] - returns[b].mean()) / returns[b].std()
        r = float(np.mean(x * y))
        # delta-method variance of r from fourth moments (normal data: (1 - r^2)^2 / n)
        m22, m40, m04 = np.mean(x**2 * y**2), np.mean(x**4), np.mean(y**4)
        m31, m13 = np.mean(x**3 * y), np.mean(x * y**3)
        var = max(0.0, (m22 + r**2 / 4 * (m40 + m04 + 2 * m22) - r * (m31 + m13)) / n)
        shrunk[a, b] = shrunk[b, a] = r * (1 - min(1.0, var / r**2))
    # Fewest clusters such that every pair inside one meets the threshold (3 symbols:
    # enumerate every partition).
    partitions = [[["AAA", "BBB", "CCC"]], [["AAA", "BBB"], ["CCC"]], [["AAA", "CCC"], ["BBB"]],
                  [["BBB", "CCC"], ["AAA"]], [["AAA"], ["BBB"], ["CCC"]]]  # fmt: skip
    valid = [
        p
        for p in partitions
        if all(shrunk[a, b] >= THRESHOLD for c in p for a, b in itertools.combinations(c, 2))
    ]
    best = min(valid, key=len)
    # ClusterStress: every same-side pair, weighted by r ramped in over 0.10 below the
    # threshold, over the gross exposure squared.
    exposure = {s: POSITIONS[s] * float(paths[s][-1]) for s in symbols}
    gross = sum(abs(e) for e in exposure.values())

    def weight(r: float) -> float:
        return max(r, 0.0) * min(1.0, max(0.0, 1.0 + (r - THRESHOLD) / min(0.10, THRESHOLD)))

    clustered = sum(
        max(0.0, exposure[a] * exposure[b]) * weight(shrunk[a, b])
        for a, b in itertools.permutations(symbols, 2)
    )
    return len(best), min(1.0, max(0.0, clustered / gross**2))
