"""The governor as a real process against a real redis-server: what lands in Redis.

Ages are made observable in seconds by shrinking TS_STALENESS_SECONDS and
TS_LKG_MAX_AGE_SECONDS; the real 30 s / 15 min boundaries are covered in
tests/unit/test_governor_decide.py with an injected clock.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import TEST_PASSWORD
from tests.harness.processes import DEADLINE, WorkerProcess, start_worker, worker_env
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.governor import budget as formula

pytestmark = pytest.mark.integration

SYMBOLS = ("BTCUSDT", "ETHUSDT")
BUDGET_FIELDS = {
    "symbol", "budget_usd", "stress_factor", "equity_usd", "portfolio_heat",
    "cluster_stress", "vol_regime", "mode", "timestamp", "base_risk_pct",
}  # fmt: skip


def governor(server: RedisProcess, **extra: str) -> WorkerProcess:
    env = worker_env(
        f"redis://127.0.0.1:{server.port}/0", TEST_PASSWORD, TS_INTERVAL_SECONDS="0.2", **extra
    )
    return start_worker("governor", env)


@pytest.fixture
def r(redis_proc: RedisProcess) -> redis.Redis:
    client = redis_proc.client()
    for symbol in SYMBOLS:
        client.hset(
            f"quantum:position:snapshot:{symbol}",
            mapping={"position_amt": "1", "mark_price": "100", "ts_epoch": str(int(time.time()))},
        )
    return client


@pytest.fixture
def started() -> Iterator[list[WorkerProcess]]:
    processes: list[WorkerProcess] = []
    yield processes
    for process in processes:
        process.stop()


def start(started: list[WorkerProcess], server: RedisProcess, **extra: str) -> WorkerProcess:
    process = governor(server, **extra)
    started.append(process)
    wait_for(lambda: process.get("/readyz")[0] == 200, DEADLINE, "governor ready")
    return process


def metric(process: WorkerProcess, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(process.metrics()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def exists(client: redis.Redis, key: str) -> bool:
    return bool(client.exists(key))


def steps(process: WorkerProcess) -> float:
    return metric(process, "tradingstack_worker_steps_total")


def write_portfolio(client: redis.Redis, equity: float, drawdown: float, ts: float) -> None:
    client.hset(
        "quantum:state:portfolio",
        mapping={"equity_usd": str(equity), "drawdown": str(drawdown), "timestamp": str(ts)},
    )


def post(process: WorkerProcess, path: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{process.http_port()}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize("mode", ["shadow", "enforce"])
def test_budgets_have_seed_fields_ttl_and_mode(
    redis_proc: RedisProcess, r: redis.Redis, started: list[WorkerProcess], mode: str
) -> None:
    now = time.time()
    write_portfolio(r, 40_000, 5.0, now)
    r.hset("quantum:portfolio:heat", mapping={"heat": "0.5", "ts": str(now)})
    r.hset(
        "quantum:portfolio:cluster_state",
        mapping={"cluster_stress": "0.25", "clusters_count": "1", "updated_ts": str(now)},
    )
    r.hset("quantum:state:market:BTCUSDT", mapping={"vol_regime": "HIGH_VOL", "sigma": "0.01"})
    r.hset("quantum:state:market:ETHUSDT", mapping={"sigma": "0.001"})
    process = start(started, redis_proc, TS_MODE=mode, TS_BASE_RISK_PCT="1.5")

    key = "quantum:portfolio:budget:{}"
    wait_for(lambda: all(r.exists(key.format(s)) for s in SYMBOLS), DEADLINE, "budgets")
    for symbol, vol in (("BTCUSDT", 0.67), ("ETHUSDT", 0.0)):
        budget = r.hgetall(key.format(symbol))
        assert set(budget) == BUDGET_FIELDS
        # Expires 300 s after the last write, which came after the inputs and before now.
        expiry = r.expiretime(key.format(symbol))
        assert int(now) + 300 <= expiry <= int(time.time()) + 301
        assert budget["symbol"] == symbol
        assert budget["mode"] == mode
        assert float(budget["vol_regime"]) == vol
        assert (float(budget["portfolio_heat"]), float(budget["cluster_stress"])) == (0.5, 0.25)
        expected = 40_000 * 0.015 * (1 - 5 / 20) * (1 - (0.4 * 0.5 + 0.4 * 0.25 + 0.2 * vol))
        assert float(budget["budget_usd"]) == pytest.approx(expected)
        assert float(budget["base_risk_pct"]) == pytest.approx(0.015)  # a fraction (old P2.8)
        assert float(budget["equity_usd"]) == 40_000
        assert int(now) <= int(budget["timestamp"]) <= time.time()  # written after the inputs
    assert metric(process, "p28_enforce_mode") == (1.0 if mode == "enforce" else 0.0)
    assert metric(process, "p28_budget_computed_total") >= 2
    assert metric(process, "p28_budget_value_usd", symbol="ETHUSDT") == pytest.approx(
        40_000 * 0.015 * 0.75 * 0.7
    )
    assert metric(process, "p28_lkg_cache_used_total") == 0
    assert formula.VOL_FALLBACK == 0.33


#: Portfolio ages (seconds) of the LKG test: the fresh and cached phases must both be seen
#: within LKG_MAX_AGE of the write, so it is the test's slack on a slow machine and also
#: how long the test waits for the cache to age out.
STALENESS = 5.0
LKG_MAX_AGE = 10.0


def test_lkg_cache_then_fail_open(
    redis_proc: RedisProcess, r: redis.Redis, started: list[WorkerProcess]
) -> None:
    process = start(started, redis_proc, TS_STALENESS_SECONDS=str(STALENESS),
                    TS_LKG_MAX_AGE_SECONDS=str(LKG_MAX_AGE))  # fmt: skip
    # Nothing written yet: the governor fails open.
    wait_for(lambda: metric(process, "p28_portfolio_too_old_total") > 0, DEADLINE, "fail-open")

    written_at = time.time()
    write_portfolio(r, 10_000, 0.0, written_at)
    key = "quantum:portfolio:budget:BTCUSDT"
    wait_for(lambda: exists(r, key), DEADLINE, "a budget from fresh state")
    assert metric(process, "p28_portfolio_source", source="fresh") == 1
    assert metric(process, "p28_lkg_cache_used_total") == 0

    # No writer any more, not even the last value in Redis: the cache stands in.
    r.delete("quantum:state:portfolio")
    wait_for(lambda: metric(process, "p28_lkg_cache_used_total") >= 3, DEADLINE, "LKG use")
    r.delete(key)
    wait_for(lambda: exists(r, key), DEADLINE, "a budget from the LKG cache")
    assert float(r.hget(key, "equity_usd") or 0) == 10_000
    assert metric(process, "p28_portfolio_source", source="lkg") == 1
    assert metric(process, "p28_stale_input_total", input_type="portfolio_state") >= 3

    # Past the LKG limit of data age: fail open, no budget written.
    wait_for(lambda: time.time() - written_at > LKG_MAX_AGE, DEADLINE, "the LKG limit")
    too_old = metric(process, "p28_portfolio_too_old_total")
    r.delete(*[f"quantum:portfolio:budget:{s}" for s in SYMBOLS])
    wait_for(lambda: metric(process, "p28_portfolio_too_old_total") >= too_old + 5, DEADLINE,
             "fail-open")  # fmt: skip
    assert not any(r.exists(f"quantum:portfolio:budget:{s}") for s in SYMBOLS)
    assert metric(process, "p28_portfolio_source", source="none") == 1
    assert metric(process, "p28_budget_value_usd", symbol="BTCUSDT") == 0.0  # series removed

    write_portfolio(r, 9_000, 0.0, time.time())  # the producer comes back
    wait_for(lambda: exists(r, key), DEADLINE, "budgets again")
    assert float(r.hget(key, "equity_usd") or 0) == 9_000


def test_stale_redis_state_serves_as_lkg_after_a_restart(
    redis_proc: RedisProcess, r: redis.Redis, started: list[WorkerProcess]
) -> None:
    write_portfolio(r, 7_000, 0.0, time.time() - 60)  # stale, within the 15 min default
    process = start(started, redis_proc)
    wait_for(lambda: exists(r, "quantum:portfolio:budget:ETHUSDT"), DEADLINE, "budget from LKG")
    # The metric is counted just after the write lands: wait for it rather than race it.
    wait_for(lambda: metric(process, "p28_lkg_cache_used_total") >= 1, DEADLINE, "LKG counted")
    assert metric(process, "p28_portfolio_too_old_total") == 0


def test_injection_endpoint_is_404_without_test_mode(
    redis_proc: RedisProcess, r: redis.Redis, started: list[WorkerProcess]
) -> None:
    process = start(started, redis_proc)
    body = {"equity_usd": 1000, "drawdown": 0}
    assert post(process, "/test/inject_portfolio_state", body)[0] == 404
    assert process.get("/test/inject_portfolio_state")[0] == 404
    assert not r.exists("quantum:state:portfolio")
    assert process.get("/healthz")[0] == 200


def test_injection_endpoint_writes_portfolio_state_in_test_mode(
    redis_proc: RedisProcess, r: redis.Redis, started: list[WorkerProcess]
) -> None:
    process = start(started, redis_proc, TS_TEST_MODE="true", TS_MODE="shadow")
    posted = time.time()
    code, body = post(
        process, "/test/inject_portfolio_state", {"equity_usd": 25_000, "drawdown": 2}
    )
    assert code == 200, body
    state = r.hgetall("quantum:state:portfolio")
    assert (state["equity_usd"], state["drawdown"]) == ("25000.0", "2.0")  # the wire's text
    assert posted <= float(state["timestamp"]) <= time.time()  # stamped when injected
    key = "quantum:portfolio:budget:BTCUSDT"
    wait_for(lambda: r.hget(key, "equity_usd") == "25000.0", DEADLINE, "budget from injected state")
    assert r.hget(key, "mode") == "shadow"

    assert post(process, "/test/inject_portfolio_state", {"equity_usd": "x"})[0] == 400
    assert process.get("/test/inject_portfolio_state")[0] == 404  # POST only
    assert post(process, "/test/other", {})[0] == 404


def test_malformed_inputs_are_counted_and_the_loop_keeps_going(
    redis_proc: RedisProcess, r: redis.Redis, started: list[WorkerProcess]
) -> None:
    now = time.time()
    r.hset("quantum:state:portfolio", mapping={"equity_usd": "lots", "drawdown": "0"})
    r.set("quantum:portfolio:heat", "not a hash")  # WRONGTYPE for HGETALL
    r.hset("quantum:portfolio:cluster_state", mapping={"cluster_stress": "0.5", "updated_ts": "?"})
    r.hset("quantum:state:market:BTCUSDT", mapping={"vol_regime": "SPICY", "sigma": "nan"})
    r.hset("quantum:position:snapshot:BAD SYMBOL", mapping={"position_amt": "1"})
    process = start(started, redis_proc)

    def all_counted() -> bool:
        return all(
            metric(process, "p28_malformed_input_total", input_type=t) >= 2
            for t in ("portfolio_state", "portfolio_heat", "cluster_stress", "vol_regime")
        )

    wait_for(all_counted, DEADLINE, "malformed inputs counted")
    assert metric(process, "p28_portfolio_too_old_total") >= 2  # malformed = missing
    assert metric(process, "tradingstack_worker_step_errors_total") == 0
    before = steps(process)
    wait_for(lambda: steps(process) >= before + 5, DEADLINE, "the loop to keep stepping")
    assert process.proc.poll() is None
    assert process.get("/healthz")[0] == 200

    write_portfolio(r, 5_000, 0.0, now + 1)  # repaired primary input; the rest stays bad
    key = "quantum:portfolio:budget:BTCUSDT"
    wait_for(lambda: exists(r, key), DEADLINE, "budgets with fallbacks")
    budget = r.hgetall(key)
    # Never seen a valid heat or cluster stress: each counts as fully stressed (review D8).
    assert (budget["portfolio_heat"], budget["cluster_stress"]) == ("1.0", "1.0")
    assert budget["vol_regime"] == "0.33"
    assert not r.exists("quantum:portfolio:budget:BAD SYMBOL")


def test_a_blown_account_zeroes_every_budget_on_the_next_cycle(
    started: list[WorkerProcess], redis_proc: RedisProcess, r: redis.Redis
) -> None:
    """Review D1: equity -5 000 USD, drawdown 105 % once 100 000 USD was known: budget 0."""
    write_portfolio(r, 100_000, 0.0, time.time())
    process = start(started, redis_proc)
    key = "quantum:portfolio:budget:BTCUSDT"
    wait_for(lambda: float(r.hget(key, "budget_usd") or 0) > 0, DEADLINE, "a positive budget")

    write_portfolio(r, -5_000, 105.0, time.time())

    def zeroed() -> bool:
        budgets = [r.hgetall(f"quantum:portfolio:budget:{s}") for s in SYMBOLS]
        return all(b.get("equity_usd") == "-5000.0" for b in budgets)

    wait_for(zeroed, DEADLINE, "budgets from the blown account's state")
    for symbol in SYMBOLS:
        budget = r.hgetall(f"quantum:portfolio:budget:{symbol}")
        assert (float(budget["budget_usd"]), float(budget["stress_factor"])) == (0.0, 1.0)
    assert metric(process, "p28_portfolio_source", source="fresh") == 1
    assert metric(process, "p28_malformed_input_total", input_type="portfolio_state") == 0
