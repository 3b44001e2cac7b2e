"""The intel worker as real processes against a real redis-server: exactly-once counts
across kill -9, dead letters, UNKNOWN decisions, deduplicated alerts, and the report.

The golden report lives in tests/data/intel/report_all.json. After an intended change
of the report's shape, regenerate it with
``INTEL_GOLDEN_UPDATE=1 .venv/bin/pytest tests/integration/test_intel_worker.py -k golden``
and review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import TEST_PASSWORD
from tests.harness.held_worker import hold_key
from tests.harness.processes import (
    DEADLINE,
    ROOT,
    WorkerProcess,
    drained,
    pending_count,
    start_worker,
    stream_worker_env,
)
from tests.harness.redis_procs import RedisProcess, wait_for

from tradingstack_workers.intel.store import GROUP
from tradingstack_workers.keys import Keys
from tradingstack_workers.wire.result import Decision, ExecutionResult

pytestmark = pytest.mark.integration

KEYS = Keys()
STREAM = KEYS.result_stream
DEAD = KEYS.dead_letter(STREAM)
GOLDEN = ROOT / "tests" / "data" / "intel" / "report_all.json"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
REASONS = ("heat_limit", "p33_permit_denied", "stress_limit", "no_position")


def start_intel(
    server: RedisProcess, name: str, *, held: bool = False, env: dict[str, str] | None = None
) -> WorkerProcess:
    environ = stream_worker_env(
        f"redis://127.0.0.1:{server.port}/0", TEST_PASSWORD, name, **(env or {})
    )
    intel = start_worker("intel", environ, held=held)
    wait_for(lambda: intel.get("/readyz")[0] == 200, DEADLINE, f"{name} ready")
    return intel


def metric(worker: WorkerProcess, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(worker.metrics()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name}{labels}")


def more_steps(worker: WorkerProcess, count: int) -> Callable[[], bool]:
    """A condition: ``worker`` has run ``count`` more steps of its loop than it has now."""
    target = metric(worker, "tradingstack_worker_steps_total") + count
    return lambda: metric(worker, "tradingstack_worker_steps_total") >= target


def synthetic(i: int) -> ExecutionResult:
    """A fixed mix: a quarter EXECUTE; reasons skewed towards heat_limit."""
    mix: tuple[Decision, ...] = ("EXECUTE", "SKIP", "BLOCKED", "SKIP", "ERROR", "BLOCKED", "SKIP",
                                 "EXECUTE")  # fmt: skip
    decision = mix[i % 8]
    reason = "" if decision == "EXECUTE" else REASONS[(i * 7 + i // 3) % 5 % 4]
    return ExecutionResult(decision, reason, SYMBOLS[i % 3], 1.7e9 + i, bot="bot-a")


def publish(
    client: redis.Redis, results: list[dict[str, str]], ids: list[str] | None = None
) -> None:
    for start in range(0, len(results), 1000):
        # One MULTI per thousand: a reader sees a batch whole, never its first part alone
        # (an alert judged on the first 70 of 100 entries would be another severity).
        pipe = client.pipeline(transaction=True)
        for j in range(start, min(len(results), start + 1000)):
            fields = cast("dict[Any, Any]", results[j])
            pipe.xadd(STREAM, fields, id=ids[j] if ids else "*")
        pipe.execute()


def ids_from_now(count: int) -> list[str]:
    """Stream ids for ``count`` entries added now, known before they are added."""
    now_ms = int(time.time() * 1000)
    return [f"{now_ms}-{i}" for i in range(count)]


def processed(client: redis.Redis) -> int:
    return int(client.hget(KEYS.intel_status, "processed_total") or 0)


def bucket_totals(client: redis.Redis, table: str) -> Counter[str]:
    """Every bucket hash of one table (``decisions``, ``reasons``, ``symbols``), summed."""
    totals: Counter[str] = Counter()
    for key in client.scan_iter(match=KEYS.intel_bucket(f"*:{table}"), count=1000):
        for name, count in cast("dict[str, str]", client.hgetall(key)).items():
            totals[name] += int(count)
    return totals


def pending_of(client: redis.Redis, consumer: str) -> int:
    return pending_count(client, STREAM, GROUP, consumer)


def test_killed_mid_batch_and_restarted_under_a_new_name_every_result_counts_once(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    total = 20_000
    results = [synthetic(i) for i in range(total)]
    ids = ids_from_now(total)
    a = start_intel(redis_proc, "intel-a", held=True, env={"TS_STREAM_BATCH_SIZE": "50"})
    b: WorkerProcess | None = None
    try:
        # "a" holds the batch holding the middle entry: read, never counted.
        client.set(hold_key("intel-a"), ids[total // 2])
        publish(client, [r.to_fields() for r in results], ids)
        held = int(a.wait_log("holding batch")["entries"])
        a.proc.kill()
        a.proc.wait(timeout=10)
        counted_by_a = processed(client)
        assert 0 < counted_by_a < total, counted_by_a
        assert pending_of(client, "intel-a") == held > 0

        b = start_intel(redis_proc, "intel-b", env={"TS_STREAM_BATCH_SIZE": "500"})
        wait_for(lambda: processed(client) >= total, DEADLINE, "every result counted")
        b.wait_log("claimed idle entries")
        wait_for(lambda: drained(client, STREAM, GROUP), DEADLINE, "every entry acknowledged")
        assert processed(client) == total
        assert client.xlen(DEAD) == 0
        decisions = bucket_totals(client, "decisions")
        assert decisions == Counter(r.decision for r in results)
        reasons = bucket_totals(client, "reasons")
        assert reasons == Counter(r.reason for r in results if r.decision != "EXECUTE")
        assert bucket_totals(client, "symbols") == Counter(r.symbol for r in results)
        assert metric(b, "p35_processed_total") == total - counted_by_a
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_poison_is_dead_lettered_and_unknown_is_counted_and_reported(
    redis_proc: RedisProcess,
) -> None:
    client = redis_proc.client()
    intel = start_intel(redis_proc, "intel-a")
    try:
        good = synthetic(1).to_fields()
        publish(client, [
            {k: v for k, v in good.items() if k != "symbol"},  # poison: no symbol
            {**good, "decision": "UNKNOWN", "reason": ""},  # what the old Apply Layer wrote
            good,
            # An unusual reason is sanitised; its decision still counts (review D12).
            {**good, "decision": "BLOCKED", "reason": "leverage ratio exceeded"},
        ])  # fmt: skip
        wait_for(lambda: processed(client) == 3, DEADLINE, "three results counted")
        wait_for(lambda: client.xlen(DEAD) == 1, DEADLINE, "the poison dead-lettered")
        [(_, dead)] = cast("list[tuple[str, dict[str, str]]]", client.xrange(DEAD))
        assert (dead["dead_cause"], dead["dead_error"]) == (
            "permanent",
            "BadEntry: symbol: missing",
        )
        assert client.xpending(STREAM, GROUP)["pending"] == 0
        assert metric(intel, "p35_malformed_total", field="symbol") == 1
        assert metric(intel, "p35_dead_lettered_total", cause="permanent") == 1
        assert metric(intel, "p35_unknown_decisions_total") == 1
        assert metric(intel, "p35_decisions_total", decision="UNKNOWN") == 1
        a = report(redis_proc, "a")
        assert a["data_quality"]["unknown"] == 1
        # UNKNOWN's pseudo-reason "none" is not a gate (review D16).
        assert sorted(r["reason"] for r in a["top_reasons"]) == [
            "leverage_ratio_exceeded", good["reason"]]  # fmt: skip
        assert metric(intel, "p35_malformed_total", field="reason") == 1
        assert report(redis_proc, "e")["unknown_total"] == 1
        text = report_text(redis_proc, "a")
        assert "DATA QUALITY: 1 UNKNOWN decisions" in text
    finally:
        intel.stop()


def test_an_explosion_alerts_once_per_period_across_replicas(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    fast = {"TS_ALERT_CHECK_SECONDS": "0.1", "TS_STATUS_INTERVAL_SECONDS": "0.1"}
    a = start_intel(redis_proc, "intel-a", env=fast)
    b: WorkerProcess | None = None
    try:
        now = time.time()
        results = [ExecutionResult("BLOCKED", "p33_permit_denied", "BTCUSDT", now)] * 70
        results += [ExecutionResult("EXECUTE", "", "ETHUSDT", now)] * 30
        publish(client, [r.to_fields() for r in results])
        wait_for(lambda: client.xlen(KEYS.intel_alerts_stream) >= 1, DEADLINE, "an alert")
        b = start_intel(redis_proc, "intel-b", env=fast)
        # Each replica checks the window again and again (a step runs a check once due):
        # b has seen the explosion, and both have checked many times since.
        wait_for(lambda: metric(b, "p35_top_reason_share") == 0.7, DEADLINE, "b checks")
        for worker in (a, b):
            wait_for(more_steps(worker, 10), DEADLINE, "ten more steps")
        alerts = cast("list[tuple[str, dict[str, str]]]", client.xrange(KEYS.intel_alerts_stream))
        assert len(alerts) == 1
        # Seed 003's key only: DESIGN.md's table named <prefix>:stream:p35.alerts, which
        # the seed's consumers (Governor UI, Discord bot, AI engine) never read.
        assert KEYS.intel_alerts_stream == "quantum:p35:alerts"
        assert client.exists("quantum:stream:p35.alerts") == 0
        event = alerts[0][1]
        assert set(event) == {"window", "reason", "score", "total", "share", "timestamp",
                              "severity", "alert_id"}  # fmt: skip
        assert (event["window"], event["reason"], event["severity"]) == (
            "5m", "p33_permit_denied", "HIGH")  # fmt: skip
        assert (event["score"], event["total"], event["share"]) == ("70", "100", "0.7")
        assert event["alert_id"] == f"p35_alert_{event['timestamp']}_p33_permit_denied"
        assert metric(a, "p35_alerts_total", severity="HIGH") == 1
        assert metric(b, "p35_alerts_total", severity="HIGH") == 0
        assert metric(a, "p35_top_reason_share") == pytest.approx(0.7)
        assert metric(a, "p35_pending") == 0
        assert 0 < client.ttl(KEYS.intel_alert_dedup("5m", "p33_permit_denied", "HIGH")) <= 300
    finally:
        a.stop()
        if b is not None:
            b.stop()


def report_env(server: RedisProcess) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    env.update(TS_REDIS_URL=f"redis://127.0.0.1:{server.port}/0", TS_REDIS_PASSWORD=TEST_PASSWORD)
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


def run_report(server: RedisProcess, *args: str, exit_code: int = 0) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", "intel", "report", *args],
        cwd=ROOT, env=report_env(server), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == exit_code, done.stderr
    return done.stdout


def report(server: RedisProcess, *args: str) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(run_report(server, *args, "--json")))


def report_text(server: RedisProcess, *args: str) -> str:
    return run_report(server, *args)


#: The golden data set: 2026-02-01 07:00:00 UTC, 600 results over ten minutes, the
#: last five dominated by p33_permit_denied.
GOLDEN_T0 = 1_769_929_200
GOLDEN_NOW = GOLDEN_T0 + 570  # window: the buckets from 07:05 to 07:09 (current)


def golden_data() -> tuple[list[dict[str, str]], list[str]]:
    results, ids = [], []
    for i in range(600):
        fields = synthetic(i).to_fields()
        if i >= 300 and fields["decision"] != "EXECUTE" and i % 5 < 4:
            fields = {**fields, "reason": "p33_permit_denied"}  # it explodes at 07:05
        if i % 97 == 0:
            fields = {**fields, "decision": "FILLED"}  # a writer off the contract: UNKNOWN
        results.append(fields)
        ids.append(f"{(GOLDEN_T0 * 1000) + i * 1000}-0")
    results.append({"decision": "SKIP", "symbol": "BTCUSDT", "ts": "1"})  # poison: no reason
    ids.append(f"{(GOLDEN_T0 + 600) * 1000}-0")
    return results, ids


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """Drop what depends on the wall clock: status update time and consumer idle times."""
    e = data["e"]
    e["status_updated_ts"] = "<masked>"
    for consumer in e["consumers"]:
        consumer["idle_ms"] = "<masked>"
    return data


def test_golden_report_all_json(redis_proc: RedisProcess) -> None:
    client = redis_proc.client()
    results, ids = golden_data()
    publish(client, results, ids)
    intel = start_intel(redis_proc, "golden", env={"TS_BUCKET_TTL_SECONDS": str(20 * 365 * 86400)})
    try:
        wait_for(lambda: processed(client) == 600, DEADLINE, "the data set counted")
        wait_for(lambda: client.xlen(DEAD) == 1, DEADLINE, "the poison dead-lettered")
    finally:
        intel.stop()
    got = masked(report(redis_proc, "all", "--now", str(GOLDEN_NOW)))
    if os.environ.get("INTEL_GOLDEN_UPDATE") == "1":
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text())
    text = report_text(redis_proc, "all", "--now", str(GOLDEN_NOW))
    for heading in ("A) Why", "B) Top gates", "C) Gate share", "D) Drift", "E) Service health"):
        assert heading in text
    # Drift found: exit 3, so the seed's cron check can act on it.
    output = run_report(redis_proc, "d", "--threshold", "10", "--now", str(GOLDEN_NOW), "--json",
                        exit_code=3)  # fmt: skip
    d = json.loads(output)
    assert d["threshold_pct"] == 10.0
    assert not d["healthy"]
    b = report(redis_proc, "b", "--symbols", "ETHUSDT", "--now", str(GOLDEN_NOW))
    assert [s["symbol"] for s in b["symbols"]] == ["ETHUSDT"]


@pytest.mark.parametrize(("budget", "waited"), [(None, "5 s"), ("0.3", "0.3 s")])
def test_report_without_redis_says_so(tmp_path: Path, budget: str | None, waited: str) -> None:
    """The report's own 5 s, or TS_REDIS_RETRY_BUDGET_SECONDS when given (it was ignored)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    env.update(TS_REDIS_URL="redis://127.0.0.1:1/0", PYTHONPATH=str(ROOT))
    if budget is not None:
        env["TS_REDIS_RETRY_BUDGET_SECONDS"] = budget
    done = subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", "intel", "report", "e"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"Redis unreachable for {waited}" in done.stderr
