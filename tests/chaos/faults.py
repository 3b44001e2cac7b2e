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
from typing import Any

import redis

from tradingstack_workers.gate.worker import GROUP as GATE_GROUP
from tradingstack_workers.intel.store import GROUP as INTEL_GROUP
from tradingstack_workers.wire import ExecutionResult

from .load import LOAD_BOT
from .stack import BOTS, KEYS, ChaosStack, alive

#: How long a fault waits for its stream consumer to hold a batch before it strikes anyway.
MID_BATCH_WAIT = 5.0
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


def _consumer_of(kind: str) -> tuple[str, str] | None:
    if kind == "gate":
        return KEYS.proposal_stream, GATE_GROUP
    if kind == "intel":
        return KEYS.result_stream, INTEL_GROUP
    return None


def _burst(stack: ChaosStack, stream: str) -> None:
    """BURST results at once: intel reads them in full batches, so it holds one long enough
    to be caught (the steady load's results are handled within a millisecond each)."""
    pipe = stack.master().pipeline(transaction=False)
    for _ in range(BURST):
        result = ExecutionResult("SKIP", "chaos_burst", "BTCUSDT", time.time(), LOAD_BOT,
                                 "load", f"burst-{uuid.uuid4().hex}")  # fmt: skip
        pipe.xadd(stream, result.to_fields())  # type: ignore[arg-type]
    pipe.execute_command("WAIT", 1, 1000)
    pipe.execute()


def _hold_batch(stack: ChaosStack, instance: str) -> bool | None:
    """Wait (briefly) until a stream worker holds entries it has not acknowledged."""
    stream = _consumer_of(stack.kind_of(instance))
    if stream is None:
        return None
    if stream[0] == KEYS.result_stream:
        _burst(stack, stream[0])
    deadline = time.monotonic() + MID_BATCH_WAIT
    while time.monotonic() < deadline:
        if _pending(stack, *stream, instance) > 0:
            return True
        time.sleep(0.001)
    return False


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
            mid_batch = _hold_batch(stack, chosen[0]) if self.action == "kill9" else None
            victims = {i: int(stack.instances()[i]["pid"]) for i in chosen}
            for pid in victims.values():
                os.kill(pid, signal.SIGKILL if self.action == "kill9" else signal.SIGSTOP)
            return Injected(time.time(), ", ".join(victims), victims[chosen[0]], mid_batch,
                            victims=victims)  # fmt: skip
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
