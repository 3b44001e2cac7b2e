"""Clusters, gate and governor as real processes on one real Redis: the P2.6/P2.7/P2.8 flow.

Seed 001's manual verification, automated: the gate uses its proxy until clusters is
ready, switches to the cluster figure once it is, and falls back to the proxy when
cluster_state goes stale. Seed 002's last-known-good path: budgets keep coming from a
stale portfolio state until its data is 15 minutes old, then stop. The 15 minutes are
reached through the data's own timestamp (the governor's clock is the wall clock, the
portfolio's age is injected), so nothing waits for them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from functools import partial

import pytest
from redis.typing import EncodableT, FieldT
from tests.conftest import TEST_PASSWORD
from tests.harness.market import (
    KEYS,
    POINTS,
    feed,
    independent_state,
    latest_audit,
    metric_values,
    price_paths,
)
from tests.harness.processes import DEADLINE, WorkerProcess, start_worker, worker_env
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.wire.proposal import Permit, Proposal

pytestmark = pytest.mark.integration

CLUSTER_STALE = 2.0  # seconds; the production default is 120
LKG_MAX_AGE = 900.0  # the production default, 15 minutes


def environments(redis_proc: RedisProcess) -> dict[str, dict[str, str]]:
    url = f"redis://127.0.0.1:{redis_proc.port}/0"
    return {
        "clusters": worker_env(url, TEST_PASSWORD, TS_INTERVAL_SECONDS="0.2"),
        "gate": worker_env(
            url,
            TEST_PASSWORD,
            TS_CLUSTER_STALE_SECONDS=str(CLUSTER_STALE),
            TS_STREAM_BLOCK_MS="200",
            TS_SNAPSHOT_RESCAN_SECONDS="0",
        ),
        "governor": worker_env(
            url,
            TEST_PASSWORD,
            TS_INTERVAL_SECONDS="0.2",
            TS_CLUSTER_STALE_SECONDS=str(CLUSTER_STALE),
        ),
    }


@pytest.fixture
def pipeline(redis_proc: RedisProcess) -> Iterator[dict[str, WorkerProcess]]:
    env = environments(redis_proc)
    processes = {kind: start_worker(kind, environ) for kind, environ in env.items()}
    try:
        for kind, process in processes.items():
            wait_for(partial(is_ready, process), DEADLINE, f"{kind} ready")
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def is_ready(process: WorkerProcess) -> bool:
    return process.get("/readyz")[0] == 200


def portfolio(server: RedisProcess, *, age: float) -> None:
    server.client().hset(
        KEYS.portfolio_state,
        mapping={"equity_usd": "1000000", "drawdown": "2.0", "timestamp": repr(time.time() - age)},
    )


def propose(server: RedisProcess, n: int) -> Permit:
    """One small BUY through the gate; returns the permit it issued."""
    proposal = Proposal(proposal_id=f"p-{n}", bot="scenario", strategy="rsi_mean_reversion",
                        symbol="AAA", side="BUY", qty=0.01, price=64_000.0,
                        notional_usd=640.0, ts=time.time())  # fmt: skip
    client = server.client()
    entry: dict[FieldT, EncodableT] = {k: v for k, v in proposal.to_fields().items()}
    client.xadd(KEYS.proposal_stream, entry)
    wait_for(lambda: client.exists(KEYS.permit(proposal.proposal_id)) == 1, DEADLINE, f"permit {n}")
    fields = client.hgetall(KEYS.permit(proposal.proposal_id))
    return Permit.parse({str(k): str(v) for k, v in fields.items()}, time.time())


def budget_stamp(server: RedisProcess) -> float:
    return float(server.client().hget(KEYS.budget("AAA"), "timestamp") or 0)


def budgets_advance(server: RedisProcess) -> None:
    """Wait until the governor writes a budget newer than the one there now."""
    before = budget_stamp(server)
    wait_for(lambda: budget_stamp(server) > before, DEADLINE, "a newer budget")


def cluster_age(server: RedisProcess) -> float:
    """Seconds since clusters last published its state (infinite once withdrawn)."""
    updated = server.client().hget(KEYS.cluster_state, "updated_ts")
    return time.time() - float(updated) if updated is not None else float("inf")


def test_the_risk_pipeline_end_to_end(
    redis_proc: RedisProcess, pipeline: dict[str, WorkerProcess]
) -> None:
    gate, governor, clusters = pipeline["gate"], pipeline["governor"], pipeline["clusters"]
    portfolio(redis_proc, age=0)

    # Before clusters has enough history, the gate decides on its proxy.
    paths = price_paths()
    feed(redis_proc, {s: p[:5] for s, p in paths.items()})
    assert propose(redis_proc, 1).k_source == "proxy"
    assert redis_proc.client().exists(KEYS.cluster_state) == 0  # withdrawn while warming up

    def fallbacks() -> float:  # counted just after the permit is written: wait for it
        values = metric_values(gate).items()
        return sum(v for k, v in values if k.startswith("p26_cluster_fallback_total"))

    wait_for(lambda: fallbacks() >= 1, DEADLINE, "a fallback counted")

    # Clusters ready: the figures equal an independent computation, and the gate uses them.
    feed(redis_proc, paths, start=5)
    # The last point is in the history before the cycle publishes its answer: wait for it.
    wait_for(lambda: latest_audit(redis_proc).get("points") == str(POINTS), DEADLINE,
             "the state of every point")  # fmt: skip
    count, stress = independent_state(paths)
    state = redis_proc.client().hgetall(KEYS.cluster_state)
    assert int(state["clusters_count"]) == count == 2
    assert float(state["cluster_stress"]) == pytest.approx(stress, rel=1e-9)
    portfolio(redis_proc, age=0)
    permit = propose(redis_proc, 2)
    assert permit.k_source == "cluster"
    assert permit.k == pytest.approx(stress, rel=1e-9)
    assert metric_values(gate)["p26_cluster_stress_used"] == 1

    # The governor's budgets carry the same cluster stress and the gate's published heat.
    budgets_advance(redis_proc)
    budget = redis_proc.client().hgetall(KEYS.budget("AAA"))
    assert float(budget["cluster_stress"]) == pytest.approx(stress, rel=1e-6)
    heat = float(redis_proc.client().hget(KEYS.portfolio_heat, "heat") or -1)
    assert float(budget["portfolio_heat"]) == pytest.approx(heat, abs=1e-6)

    # Clusters stops: once cluster_state is stale the gate is back on its proxy.
    clusters.stop()
    wait_for(lambda: cluster_age(redis_proc) > CLUSTER_STALE, DEADLINE, "cluster_state stale")
    portfolio(redis_proc, age=0)
    assert propose(redis_proc, 3).k_source == "proxy"

    # Portfolio state goes stale: last-known-good keeps budgets coming...
    lkg_before = metric_values(governor).get("p28_lkg_cache_used_total", 0)
    portfolio(redis_proc, age=60)
    wait_for(lambda: metric_values(governor)["p28_lkg_cache_used_total"] > lkg_before, DEADLINE,
             "a cycle served from the LKG cache")  # fmt: skip
    budgets_advance(redis_proc)
    # ...until the newest state it knows is 15 minutes old: then no budget is written
    # (fail-open). A running governor still remembers the state of a minute ago, so the
    # governor restarts (its cache is memory) with only a state 15 min + 1 s old to find.
    portfolio(redis_proc, age=LKG_MAX_AGE + 1)
    # SIGTERM: the governor hands its lease back, so the restarted one leads at once
    # (after a kill -9 it would wait out the lease, as a singleton must).
    governor.proc.send_signal(signal.SIGTERM)
    assert governor.proc.wait(timeout=DEADLINE) == 0
    stamp = budget_stamp(redis_proc)
    governor = start_worker("governor", environments(redis_proc)["governor"])
    pipeline["governor"] = governor  # stopped by the fixture
    wait_for(partial(is_ready, governor), DEADLINE, "governor ready")

    def failed_open(cycles: int) -> bool:
        return metric_values(governor).get("p28_portfolio_too_old_total", 0) >= cycles

    wait_for(lambda: failed_open(5), DEADLINE, "five cycles failing open")
    assert budget_stamp(redis_proc) == stamp
    assert metric_values(governor).get("p28_budget_computed_total", 0) == 0
