"""Run faults one after another on one stack under load, and measure each.

For each fault: inject it, then wait until the stack has recovered (the victim replaced and
serving, every process ready, the load's proposals judged again, the hit kind's own output
fresh, and the backlog of proposals from before the fault judged): the time that took is
the recovery figure. Then the whole pipeline is reconciled (:mod:`.ledger`) once the
work in flight has settled; what is still missing at the deadline is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from . import ledger
from .faults import Fault, Injected, replaced
from .load import ProposalLoad
from .stack import BOTS, KEYS, ChaosStack, wait_until

#: How long a fault may take to heal before the run says it did not (a SIGSTOPped worker
#: needs its liveness window, about 35 s, plus a start on a loaded machine).
RECOVERY_DEADLINE = 240.0
#: How long the work in flight at recovery may take to reach its end (a permit wait, a
#: stream entry idle until claimed: 30 s) before what is missing counts as lost.
SETTLE_DEADLINE = 180.0
ACCOUNTS = tuple(a for _, a, _ in BOTS)


def _budget_ts(client: redis.Redis) -> float:
    stamps = [client.hget(KEYS.budget(s), "timestamp") for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")]
    return max((float(str(s)) for s in stamps if s is not None), default=0.0)


def _cursor(client: redis.Redis, account: str, bot: str) -> float:
    value = client.get(KEYS.bot_cursor(account, bot))
    return float(str(value)) if value is not None else 0.0


@dataclass
class Marks:
    """The kinds' own outputs at the moment of a fault."""

    budget_ts: float
    cluster_ts: float
    results: int
    cursors: dict[str, float]

    @classmethod
    def read(cls, client: redis.Redis) -> Marks:
        cluster = client.hget(KEYS.cluster_state, "updated_ts")
        return cls(
            budget_ts=_budget_ts(client),
            cluster_ts=float(str(cluster)) if cluster is not None else 0.0,
            results=int(client.xlen(KEYS.result_stream)),
            cursors={a: _cursor(client, a, b) for _, a, b in BOTS},
        )


def kind_progressed(stack: ChaosStack, kind: str, before: Marks, at: float) -> bool:
    """The hit kind's own output moved on since the fault (or every kind's, for Redis)."""
    client = stack.master()
    now = Marks.read(client)
    checks: dict[str, Callable[[], bool]] = {
        "governor": lambda: now.budget_ts > at,
        "clusters": lambda: now.cluster_ts > at,
        "intel": lambda: ledger.intel_state(client, KEYS)[0] >= before.results,
        "bots": lambda: all(now.cursors[a] > before.cursors[a] for a in ACCOUNTS),
        "gate": lambda: True,  # the load's verdicts (checked for every fault)
    }
    if kind == "redis":  # the pipeline flows again (the clusters' next period is no part)
        return all(checks[k]() for k in ("governor", "intel", "bots"))
    if kind == "workers":  # several kinds hit at once: each one's output
        return all(check() for check in checks.values())
    return checks[kind]()


def _judged(client: redis.Redis, proposal_ids: Sequence[str]) -> set[str]:
    """Which of ``proposal_ids`` have a verdict (their permit, or the audit trail)."""
    pipe = client.pipeline(transaction=False)
    for pid in proposal_ids:
        pipe.exists(KEYS.permit(pid))
    return {pid for pid, found in zip(proposal_ids, pipe.execute(), strict=True) if found}


@dataclass
class Strike:
    """A fault as injected, with what the stack held when it struck, and when (seconds
    after it) each step of the recovery was first seen done."""

    fault: Fault
    injected: Injected
    before: Marks
    backlog: list[str]
    steps: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, done: bool) -> bool:
        if done and name not in self.steps:
            self.steps[name] = round(time.time() - self.injected.at, 3)
        return done


def recovered(stack: ChaosStack, load: ProposalLoad, strike: Strike) -> bool:
    """Every step of the recovery done (each checked on every pass, so each step's own
    time is known): victim back, every process ready, fresh proposals judged, the
    backlog from before the fault judged, the hit kind's output fresh again."""
    fault, injected, backlog = strike.fault, strike.injected, strike.backlog
    try:
        client = stack.master()
        after = load.acknowledged_since(injected.at)
        if len(injected.victims) > 1:  # when each victim was back, for its own figure
            for instance, pid in injected.victims.items():
                strike.step(f"back {instance}", replaced(stack, instance, pid))
        done = [
            strike.step("victim_back", fault.victim_back(stack, injected)),
            strike.step("all_ready", stack.all_ready()),
            strike.step("judging", bool(after) and bool(_judged(client, after[-20:]))),
            strike.step("backlog_judged", len(_judged(client, backlog)) == len(backlog)),
            strike.step(
                "output_fresh", kind_progressed(stack, fault.kind, strike.before, injected.at)
            ),
        ]
    except (redis.RedisError, StopIteration, KeyError):
        return False
    return all(done)


def reconcile(stack: ChaosStack, load: ProposalLoad, settled_before: float) -> ledger.Findings:
    """Wait until nothing settled is missing (or the deadline), then the findings."""
    found: list[ledger.Findings] = []

    def settled() -> bool:
        try:
            snap = ledger.read(stack.master(), KEYS, ACCOUNTS, load.acknowledged)
        except redis.RedisError:
            return False
        found.append(ledger.reconcile(snap, settled_before=settled_before))
        del found[:-1]
        return found[-1].lost == 0 and snap.intel_drained

    wait_until(settled, SETTLE_DEADLINE)
    return found[-1]


def run_fault(stack: ChaosStack, load: ProposalLoad, fault: Fault) -> dict[str, Any]:
    """Inject ``fault``, measure the recovery, reconcile; one figure row."""
    client = stack.master()
    before = Marks.read(client)
    backlog = list(load.acknowledged)[-200:]
    backlog = [p for p in backlog if p not in _judged(client, backlog)]
    restarts_before = len(stack.of("restart"))
    injected = fault.inject(stack)
    strike = Strike(fault, injected, before, backlog)
    took = wait_until(lambda: recovered(stack, load, strike), RECOVERY_DEADLINE)
    recovered_at = time.time()
    findings = reconcile(stack, load, settled_before=recovered_at)
    restarts = stack.of("restart")[restarts_before:]
    row: dict[str, Any] = {
        "scenario": fault.name,
        "kind": fault.kind,
        "action": fault.action,
        "target": injected.target,
        "victims": list(injected.victims),
        "mid_batch": injected.mid_batch,
        "recovered": took is not None,
        # From the fault to the stack whole again: what a cut or a kill costs in full.
        "recovery_s": None if took is None else round(recovered_at - injected.at, 3),
        "lost": findings.lost,
        "doubled": findings.doubled,
        "stages": findings.stages,
        "examples": findings.examples,
        "steps_s": strike.steps,
        "restarts": [e["instance"] for e in restarts],
        "restart_reasons": {e["instance"]: e["reason"] for e in restarts},
        "load_proposals": len(load.acknowledged),
        **injected.details,
    }
    return row


def baseline(stack: ChaosStack, load: ProposalLoad, seconds: float = 10.0) -> dict[str, Any]:
    """The verdict latency with no fault (same run, same machine): the p50 and the worst
    time from a proposal's acknowledgement to its permit, over ``seconds`` of load."""
    client = stack.master()
    start = time.time()
    seen: dict[str, float] = {}
    while time.time() - start < seconds:
        acknowledged = load.acknowledged
        waiting = [p for p, at in acknowledged.items() if at >= start and p not in seen]
        if waiting:
            for pid in _judged(client, waiting):
                seen[pid] = time.time() - acknowledged[pid]
        time.sleep(0.02)
    latencies = sorted(seen.values())
    if not latencies:
        raise RuntimeError("no proposal was judged without a fault: the stack is not working")
    return {
        "verdict_latency_p50_s": round(latencies[len(latencies) // 2], 4),
        "verdict_latency_max_s": round(latencies[-1], 4),
        "judged": len(latencies),
    }


@contextmanager
def running_stack(data_dir: Path, rate: float) -> Iterator[tuple[ChaosStack, ProposalLoad]]:
    """The stack, healthy, with the proposal load running; both stopped at the end."""
    stack = ChaosStack(data_dir)
    load: ProposalLoad | None = None
    try:
        stack.wait_healthy()
        load = ProposalLoad(stack, rate=rate).start()
        wait_until(lambda: len(load.acknowledged) > 0 and stack.all_ready(), RECOVERY_DEADLINE)
        yield stack, load
    finally:
        if load is not None:
            load.stop()
        stack.stop()
