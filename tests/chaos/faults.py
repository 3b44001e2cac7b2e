"""The faults: each injects itself into a running stack and says when it is over.

A fault names its target the way an operator would (``gate``, ``bot leader``) and picks
the concrete process at injection time (the current leader, a gate holding a batch).
``inject`` returns what it did; ``victim_back`` says whether the processes it hit are
replaced and serving again.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tradingstack_workers.gate.worker import GROUP as GATE_GROUP
from tradingstack_workers.intel.store import GROUP as INTEL_GROUP
from tradingstack_workers.wire import ExecutionResult

from .load import LOAD_BOT
from .stack import BOTS, KEYS, ChaosStack, alive, wait_until

#: How long a fault tries to catch its stream consumer holding a batch before it strikes
#: anyway (the test then fails: the fault did not test what it names).
MID_BATCH_WAIT = 60.0
#: How long one try keeps the consumer frozen waiting for entries to reach it.
FROZEN_WAIT = 0.5
#: Results added at once before intel is killed (two of its 500-entry batches).
BURST = 1000


@dataclass
class Injected:
    """What a fault did: when, to which process, and whether it caught a batch in hand.

    ``victims`` maps each worker instance hit to the PID it had (empty for Redis faults)."""

    at: float  # epoch seconds
    target: str
    pid: int
    mid_batch: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    victims: dict[str, int] = field(default_factory=dict)


def _pending(stack: ChaosStack, stream: str, group: str, consumer: str) -> int:
    try:
        info = stack.master().xpending_range(stream, group, "-", "+", 1000, consumer)
    except redis.RedisError:
        return 0
    return len(info)


def _undelivered(stack: ChaosStack, stream: str, group: str) -> int | None:
    """Entries of ``stream`` not yet delivered to ``group`` (None: Redis did not answer)."""
    try:
        groups = stack.master().xinfo_groups(stream)
    except redis.RedisError:
        return None
    return next((int(g["lag"] or 0) for g in groups if g["name"] == group), None)


def _consumer_of(kind: str) -> tuple[str, str] | None:
    if kind == "gate":
        return KEYS.proposal_stream, GATE_GROUP
    if kind == "intel":
        return KEYS.result_stream, INTEL_GROUP
    return None


def _burst(stack: ChaosStack, stream: str) -> None:
    """BURST results in one transaction, so a consumer blocked on the stream is handed a
    full batch at once (the steady load's results are handled within a millisecond each,
    and results added one by one would each wake it with one entry)."""
    client = stack.master()
    pipe = client.pipeline(transaction=True)
    for _ in range(BURST):
        result = ExecutionResult("SKIP", "chaos_burst", "BTCUSDT", time.time(), LOAD_BOT,
                                 "load", f"burst-{uuid.uuid4().hex}")  # fmt: skip
        pipe.xadd(stream, result.to_fields())  # type: ignore[arg-type]
    pipe.execute()
    client.wait(1, 1000)  # on a replica too, so a later failover cannot lose them


def _frozen(pid: int) -> bool:
    """The process is stopped by a signal (state T), or gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "Tt"
    except (OSError, IndexError):
        return True


def _hold_batch(stack: ChaosStack, instance: str, pid: int) -> None:
    """Freeze the stream consumer ``instance`` (SIGSTOP) at a moment it holds entries it
    has read and not acknowledged, and leave it frozen for the kill.

    Each try freezes it and waits up to FROZEN_WAIT for entries to reach it: a consumer
    frozen while blocked on its read is still handed entries by Redis (a burst of results
    for intel; the steady load's proposals for a gate), and one frozen while working
    holds its batch already. A try that catches nothing thaws it and tries again, until
    MID_BATCH_WAIT; then it is left running. Freezing first makes the observation exact:
    polling a running consumer sees a batch that may be acknowledged before the kill
    lands, and misses batches handled between two polls."""
    stream, group = _consumer_of(stack.kind_of(instance)) or ("", "")
    deadline = time.monotonic() + MID_BATCH_WAIT
    while stream and time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        wait_until(lambda: _frozen(pid), FROZEN_WAIT, every=0.002)
        if stream == KEYS.result_stream and _undelivered(stack, stream, group) == 0:
            _burst(stack, stream)
        held = wait_until(lambda: _pending(stack, stream, group, instance) > 0, FROZEN_WAIT, 0.002)
        if held is not None:  # seconds it took, 0.0 when it held at once
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.01)  # let it run on to its next read before the next try


def _held_at_death(stack: ChaosStack, instance: str) -> int | None:
    """Entries the killed consumer ``instance`` had read and not acknowledged: its pending
    list, which stays as it was until another consumer claims the entries (30 s idle)."""
    consumer = _consumer_of(stack.kind_of(instance))
    return None if consumer is None else _pending(stack, *consumer, instance)


Pick = Callable[[ChaosStack], str]


def named(instance: str) -> Pick:
    return lambda _stack: instance


def instance_of(deployment: str, n: int = 0) -> Pick:
    return named(f"{deployment}-{n}")


def bot_leader(deployment: str) -> Pick:
    (account,) = [a for d, a, _ in BOTS if d == deployment]

    def pick(stack: ChaosStack) -> str:
        holder = stack.leader(account) or ""
        return next(i for i in stack.instances() if holder.startswith(f"{i}-"))

    return pick


def bot_standby(deployment: str) -> Pick:
    leader = bot_leader(deployment)

    def pick(stack: ChaosStack) -> str:
        lead = leader(stack)
        return next(i for i in stack.instances() if i.startswith(deployment) and i != lead)

    return pick


@dataclass(frozen=True)
class Fault:
    """One fault: a name, a kind (the process kind it hits, ``workers`` for several kinds
    at once, or ``redis``), and how; ``picks`` choose the worker processes it hits."""

    name: str
    kind: str
    action: str  # kill9 | sigstop | redis-cut | redis-master-kill
    picks: tuple[Pick, ...] = ()
    #: How long the Redis master stays stopped in a cut: 1 s is Sentinel's down-after of
    #: up's local Redis (a stall, no failover); longer than the workers' socket timeout
    #: (2 s) cuts them off, and Sentinel fails over before the old master comes back.
    cut_seconds: float = 1.0

    def inject(self, stack: ChaosStack) -> Injected:
        if self.action in ("kill9", "sigstop"):
            assert self.picks
            chosen = [pick(stack) for pick in self.picks]
            victims = {i: int(stack.instances()[i]["pid"]) for i in chosen}
            began = time.monotonic()
            if self.action == "kill9":  # the first victim is killed with a batch in hand
                _hold_batch(stack, chosen[0], victims[chosen[0]])
            hold_s = round(time.monotonic() - began, 3)
            for pid in victims.values():
                os.kill(pid, signal.SIGKILL if self.action == "kill9" else signal.SIGSTOP)
            held = _held_at_death(stack, chosen[0]) if self.action == "kill9" else None
            details: dict[str, Any] = {"held_entries": held, "hold_s": hold_s}
            mid_batch = None if held is None else held > 0
            return Injected(time.time(), ", ".join(victims), victims[chosen[0]], mid_batch,
                            details, victims)  # fmt: skip
        node = stack.master_node()
        if self.action == "redis-master-kill":
            os.kill(node.pid, signal.SIGKILL)
            return Injected(time.time(), f"redis master {node.address}", node.pid)
        os.kill(node.pid, signal.SIGSTOP)
        at = time.time()
        time.sleep(self.cut_seconds)
        os.kill(node.pid, signal.SIGCONT)
        details = {"stopped_seconds": self.cut_seconds, "master_at_resume": stack.master_address()}
        return Injected(at, f"redis master {node.address}", node.pid, details=details)

    def victim_back(self, stack: ChaosStack, injected: Injected) -> bool:
        if self.action == "redis-master-kill":
            address = stack.master_address()
            return address is not None and not injected.target.endswith(address)
        if self.action == "redis-cut":  # serving again: the master, or a synced replica
            address = injected.target.rsplit(" ", 1)[1]
            return alive(injected.pid) and stack.node_serving(address)
        return all(replaced(stack, i, pid) for i, pid in injected.victims.items())


def replaced(stack: ChaosStack, instance: str, pid: int) -> bool:
    """``instance`` runs a new process (not ``pid``, which is gone) that is serving."""
    started = stack.instances().get(instance)
    # "healthy": up's startup probe passed, so its liveness probe now watches the new
    # process (a process still starting is given the startup probe's 300 s instead).
    healthy = {int(e["pid"]) for e in stack.of("healthy") if e["instance"] == instance}
    return (
        started is not None
        and int(started["pid"]) != pid
        and int(started["pid"]) in healthy
        and not alive(pid)
        and stack.ready(instance)
    )


def worker_faults(action: str, *, all_bots: bool) -> list[Fault]:
    """``action`` on each worker kind: gate, governor, clusters, intel, bot leader and standby."""
    verb = "kill -9" if action == "kill9" else "SIGSTOP"
    gate = 0 if action == "kill9" else 1
    faults = [
        Fault(f"{verb} gate", "gate", action, (instance_of("paper-gate", gate),)),
        Fault(f"{verb} governor", "governor", action, (instance_of("paper-governor"),)),
        Fault(f"{verb} clusters", "clusters", action, (instance_of("paper-clusters"),)),
        Fault(f"{verb} intel", "intel", action, (instance_of("paper-intel"),)),
    ]
    for deployment, _, bot in BOTS if all_bots else BOTS[:1]:
        faults += [
            Fault(f"{verb} bot {bot} leader", "bots", action, (bot_leader(deployment),)),
            Fault(f"{verb} bot {bot} standby", "bots", action, (bot_standby(deployment),)),
        ]
    return faults


#: SIGSTOP of every worker kind at once, each a process that a liveness probe must find
#: hung and replace: a gate (the other judges meanwhile), the governor, clusters, intel,
#: one bot's leader (its standby takes the lease) and the other bot's standby. One
#: liveness window for all, where one fault per kind would wait one window each.
STOP_EVERY_KIND = Fault(
    "SIGSTOP gate, governor, clusters, intel, a bot leader and a bot standby at once",
    "workers",
    "sigstop",
    (instance_of("paper-gate", 1), instance_of("paper-governor"), instance_of("paper-clusters"),
     instance_of("paper-intel"), bot_leader(BOTS[0][0]), bot_standby(BOTS[1][0])),
)  # fmt: skip
CUT = Fault("Redis master stopped 1 s (clients stalled)", "redis", "redis-cut")
CUT_OFF = Fault("Redis master stopped 5 s (clients cut off; Sentinel fails over)", "redis",
                "redis-cut", cut_seconds=5.0)  # fmt: skip
MASTER_KILL = Fault("kill -9 Redis master", "redis", "redis-master-kill")


def suite_faults() -> list[Fault]:
    """What the test command runs: kill -9 of every kind (one bot's leader and standby),
    SIGSTOP of every kind at once (liveness restarts each), the master stopped 1 s and
    5 s, and the master killed last (the stack keeps a master and a replica after it, as
    Kubernetes would until the pod comes back)."""
    return [*worker_faults("kill9", all_bots=False), STOP_EVERY_KIND, CUT, CUT_OFF, MASTER_KILL]


def all_faults() -> list[Fault]:
    """Every kind, every bot, kill -9 and SIGSTOP; then the two cuts and the master."""
    return [*worker_faults("kill9", all_bots=True), *worker_faults("sigstop", all_bots=True),
            CUT, CUT_OFF, MASTER_KILL]  # fmt: skip
