"""Faults on the local stack of ``tradingstack up`` under a steady proposal load (issue #17).

One stack serves the module: first a 3-minute soak with random faults (memory growth
per hour, keys), then faults in order: kill -9 of each worker kind in mid-batch (the gate
and intel holding unacknowledged entries; a bot's leader and its standby), every worker
kind SIGSTOPped at once (a gate, the governor, clusters, intel, a bot's leader and
another's standby: the liveness probe restarts each), the Redis master stopped for a
second (every client stalls, no failover) and for five (every client cut off past its
socket timeout; Sentinel fails over, the old master comes back a replica), and the master
killed (Sentinel fails over). After each, the pipeline is reconciled end to end: nothing
lost, nothing doubled. The recovery times are figures (``.reliability/chaos.jsonl``, and
``python -m bench.chaos``), never asserted. The module ends with checks of the stack as
it stands: the planted Redis password is in none of its outputs, Redis refuses a client
without it, and no worker serves a test-only route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.chaos import faults, figures, runner, soak
from tests.chaos.load import ProposalLoad
from tests.chaos.stack import ChaosStack, http_status, http_text
from tests.harness import reliability
from tests.harness.reliability import record
from tests.security.leaks import found_in
from tests.unit.test_bench_contract import check_results

pytestmark = pytest.mark.integration

RATE = 10.0  # proposals a second
#: Every fault but the master's kill, which comes last: the killed master does not come
#: back locally (no pod restarts it), and the faults after it would run on one replica.
*FAULTS, LAST = faults.suite_faults()
SOAK_SECONDS = 180.0
SOAK_FAULT_EVERY = (20.0, 40.0)


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChaosStack, ProposalLoad]]:
    with runner.running_stack(tmp_path_factory.mktemp("chaos") / "data", RATE) as (stack, load):
        keep("chaos", {"scenario": "baseline (no fault)", **runner.baseline(stack, load)})
        yield stack, load


#: Every row of the module, for the benchmark results' shape at the end.
ROWS: dict[str, list[dict[str, Any]]] = {"chaos": [], "soak": []}


def keep(kind: str, row: dict[str, Any]) -> None:
    ROWS[kind].append(row)
    record(kind, row)


def check_fault(stack: ChaosStack, load: ProposalLoad, fault: faults.Fault) -> None:
    row = runner.run_fault(stack, load, fault)
    keep("chaos", row)
    assert row["recovered"], row
    assert (row["lost"], row["doubled"]) == (0, 0), json.dumps(row, indent=1)
    if fault.kind in ("gate", "intel") and fault.action == "kill9":
        assert row["mid_batch"], "the consumer never held a batch to be killed in"
    if fault.action == "sigstop":  # each victim restarted by its liveness probe, as on Kubernetes
        reasons = {v: row["restart_reasons"].get(v, "not restarted") for v in row["victims"]}
        assert all(r.startswith("liveness probe failed") for r in reasons.values()), reasons


def test_a_soak_with_random_faults_grows_no_memory_or_key_without_bound(
    chaos: tuple[ChaosStack, ProposalLoad],
) -> None:
    for row in soak.run(*chaos, seconds=SOAK_SECONDS, fault_every=SOAK_FAULT_EVERY):
        keep("soak", row)
    # The limits are checked on the figures as written (what RELIABILITY.md shows).
    rows = reliability.read("soak")
    assert len(rows) == len(ROWS["soak"])
    (total,) = [r for r in rows if r["soak"] == "total"]
    assert total["faults"] >= 1
    assert (total["lost"], total["doubled"]) == (0, 0), json.dumps(total, indent=1)
    for fault_row in (r for r in rows if r["soak"] == "fault"):
        assert fault_row["recovered"], fault_row
    memory = [r for r in rows if r["soak"] == "memory"]
    lived_through = [r for r in memory if r["span_s"] >= 0.9 * SOAK_SECONDS]
    assert {r["kind"] for r in lived_through} >= {
        "gate",
        "governor",
        "clusters",
        "intel",
        "bots",
        "redis-server",
        "redis-dataset",
    }
    assert all(r["growth_bytes_per_hour"] is not None for r in lived_through)
    over = [r for r in memory if (r["growth_bytes_per_hour"] or 0) > r["limit_bytes_per_hour"]]
    assert over == [], json.dumps(over, indent=1)
    (keys,) = [r for r in rows if r["soak"] == "keys"]
    untimed = {
        f: n for f, n in keys["untimed_families"].items() if n > keys["untimed_family_limit"]
    }
    assert untimed == {}, f"key families without a TTL that grow: {untimed}"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_the_stack_recovers_losing_and_doubling_nothing(
    chaos: tuple[ChaosStack, ProposalLoad], fault: faults.Fault
) -> None:
    check_fault(*chaos, fault)


def test_the_stack_survives_the_loss_of_its_redis_master(
    chaos: tuple[ChaosStack, ProposalLoad],
) -> None:
    check_fault(*chaos, LAST)


def test_the_planted_password_is_in_no_output_of_the_stack(
    chaos: tuple[ChaosStack, ProposalLoad],
) -> None:
    stack, _ = chaos
    outputs: dict[str, str] = {"up events": json.dumps(stack.events)}
    for path in stack.log_files():
        outputs[f"log {path.name}"] = path.read_text(errors="replace")
    for instance, started in stack.instances().items():
        port = int(started["http_port"])
        for route in ("/metrics", "/healthz", "/readyz"):
            outputs[f"{instance} {route}"] = http_text(port, route)
    assert len([k for k in outputs if k.startswith("log ")]) >= len(stack.instances())
    assert found_in(outputs, [stack.password]) == []
    check = "chaos stack: planted Redis password in no log, event or metric"
    record("security", {"check": check, "outcome": "passed", "outputs_searched": len(outputs)})


def test_redis_and_sentinel_refuse_a_client_without_the_password(
    chaos: tuple[ChaosStack, ProposalLoad],
) -> None:
    stack, _ = chaos
    answers: dict[str, Any] = {}
    for node in stack.redis_nodes():
        host, port = node.address.rsplit(":", 1)
        client = redis.Redis(host=host, port=int(port), socket_timeout=3)
        try:
            client.ping()
            answers[node.address] = "answered"
        except redis.AuthenticationError:
            answers[node.address] = "refused"
        except redis.ConnectionError:
            answers[node.address] = "down"  # the killed master
    assert set(answers.values()) <= {"refused", "down"}, answers
    assert list(answers.values()).count("refused") >= len(answers) - 1
    record("security", {"check": "chaos stack: Redis and Sentinel refuse a client without the "
                        "password", "outcome": "passed", "nodes": answers})  # fmt: skip


def test_no_worker_serves_a_test_only_route(chaos: tuple[ChaosStack, ProposalLoad]) -> None:
    stack, _ = chaos
    codes = {
        instance: http_status(int(started["http_port"]), "/test/inject_portfolio_state")
        for instance, started in stack.instances().items()
    }
    assert "paper-governor-0" in codes
    assert set(codes.values()) == {404}, codes
    record("security", {"check": "chaos stack: no test-only route outside test mode "
                        "(governor's injection included)", "outcome": "passed"})  # fmt: skip


def test_the_figures_are_benchmark_results() -> None:
    """What ``python -m bench.chaos`` and ``bench.soak`` print, in bench/README.md's shape."""
    chaos_results = list(figures.chaos_results(ROWS["chaos"]))
    assert len(chaos_results) == len(faults.suite_faults())
    check_results(chaos_results)
    check_results(list(figures.soak_results(ROWS["soak"])))
