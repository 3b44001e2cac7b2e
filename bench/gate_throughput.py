"""Gate throughput and decision latency through a real redis-server on loopback.

Starts one redis-server; in the same run measures the floor (the same number of
entries through XADD + XREADGROUP COUNT 500 + one variadic XACK per batch, and a
pipelined HSET + EXPIRE round trip: a permit write without exactly-once) and the
gate (XADD, then the real GateWorker steps until every proposal has its permit).
Decision latency is per proposal, from its batch's arrival: the view read when it did
not come with the stream read, parse, decide, the batch's exactly-once write of permits,
audit entries, heat and reservations, metrics and the batch's JSON log line (to
/dev/null). The book is valid and far from the limits: 11 of every 20 proposals are
grants, whose reservations stay outstanding (no bot fills them).

Scale-out, same run: one, then two ``tradingstack worker gate`` processes (as pods run
them, logs to /dev/null) share the stream; the bench XADDs the proposals and waits until
every decision is in the audit stream, timed in Redis's clock (TIME at the start, the
last audit entry's id at the end: 1 ms resolution, and a wait that polls every 50 ms
takes no CPU from the gates). Two replicas are compared with one, and on a backlog
three with one: where two fall short of twice one, a third that still adds on the same
cores shows that two left cores idle (both waiting on Redis at once), not that the
replicas hold each other back. One replica process is compared with the floor. The
bench's producer (it builds and XADDs each proposal) takes a third of the two cores
from the gates and Redis, where the bots run elsewhere in a cluster; so
scale-out is measured twice: with the producer running, and on a backlog, every proposal
XADDed while the gate processes are stopped (SIGSTOP, each waited for), then the clock
started and the processes continued (SIGCONT) until every decision is in the audit
stream; three times as many proposals, so that a run lasts a few seconds rather than
one. Each backlog run also counts, from SIGCONT to the last decision, the CPU time of
the gate processes and of redis-server (``/proc/<pid>/stat``, 10 ms ticks) and what the
whole machine was busy with (``/proc/stat``): CPU per proposal with two replicas beside
one says what scale-out costs, apart from how many cores the machine's other load left
free. Then latency at the issue's half load (issue #18: p99 at most 5 ms at half of 0.4
x the floor, so 0.2 x the floor of this run) and, for comparison, at half the rate one
replica process reached, proposals paced every 2 ms into one replica process (their
fields built before the paced loop, only ``ts`` stamped at send: the producer shares the
two cores): stream entry to audit entry per proposal, both Redis times (1 ms
resolution). Last, the issue's half load again with permits that expire after 1 s
unfilled, so that the reservations are pruned while the run lasts; and once more with
fills: FILLS_PER_SECOND random outstanding reservations ended as a bot's fill or refusal
ends them (runtime/releases.py), compared with the same load without. Each paced run lasts
three periods of the gate's rolling check of its known reservations (15 s,
gate/spot_check.py): what a gate does every few seconds is in the p99 (paced runs of
4 s left out the whole-hash reads the gate then made every 5 s); at most as many
proposals as the audit stream keeps, since the decisions are read back from it.
"""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple, cast

import redis
from tests.harness.redis_procs import free_port, redis_server

from bench.common import emit, in_process_worker, parser
from tradingstack_workers.gate.reservations import AUDIT_MAXLEN
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.gate.spot_check import PERIOD_SECONDS
from tradingstack_workers.gate.store import ViewRead
from tradingstack_workers.gate.worker import GateWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime import releases
from tradingstack_workers.runtime.streams import StreamEntry
from tradingstack_workers.wire import ClusterStateHash, PortfolioStateHash
from tradingstack_workers.wire.proposal import Proposal

BATCH = 500
#: Seconds a paced run lasts: three periods of what the gate does from time to time.
PACED_SECONDS = 3 * PERIOD_SECONDS
#: Permit TTL (seconds) of the paced run whose grants expire unfilled within it.
EXPIRING_TTL = 1
#: Reservations ended per second in the paced run with fills, a random outstanding one
#: each (a fill ends one the gate may know, or one another replica granted since).
FILLS_PER_SECOND = 50
# KEYS as runtime.releases.release_keys: one random outstanding reservation ended.
_FILL = (
    releases.LUA
    + """
local id = redis.call('HRANDFIELD', KEYS[1])
if not id then return 0 end
return release_reservation(KEYS[1], KEYS[2], KEYS[3], id)
"""
)
SYMBOLS = [f"S{i:02d}USDT" for i in range(20)]


def seed_book(client: redis.Redis, keys: Keys) -> None:
    """A valid book the gate grants on (written by the wire classes: a state off the
    contract would be read as no equity, and every proposal judged a denial)."""
    now = time.time()
    state = PortfolioStateHash(equity_usd=1e7, drawdown=0.0, timestamp=now)
    cluster = ClusterStateHash(cluster_stress=0.5, clusters_count=1, updated_ts=int(now),
                               symbols=tuple(SYMBOLS))  # fmt: skip
    pipe = client.pipeline(transaction=False)
    pipe.hset(keys.portfolio_state, mapping=cast("dict[Any, Any]", state.to_fields()))
    pipe.hset(keys.cluster_state, mapping=cast("dict[Any, Any]", cluster.to_fields()))
    for i, symbol in enumerate(SYMBOLS):
        snapshot: dict[Any, Any] = {"position_amt": i - 9.5, "mark_price": 100, "ts_epoch": now}
        pipe.hset(keys.snapshot(symbol), mapping=snapshot)
        pipe.sadd(keys.snapshot_index, symbol)  # as every snapshot writer does
    pipe.execute()


def produce(client: redis.Redis, stream: str, n: int, tag: str) -> None:
    for start in range(0, n, BATCH):
        pipe = client.pipeline(transaction=False)
        for j in range(start, min(n, start + BATCH)):
            p = Proposal(
                proposal_id=f"{tag}-{j}",
                bot="bench",
                strategy="breakout",
                symbol=SYMBOLS[j % 20],
                side="BUY",
                qty=1.0,
                price=100.0,
                notional_usd=100.0,
                ts=time.time(),
            )
            pipe.xadd(stream, cast("dict[Any, Any]", p.to_fields()))
        pipe.execute()  # fmt: skip


def raw_floor(client: redis.Redis, n: int) -> float:
    """Entries per second through XADD + XREADGROUP + one XACK per batch."""
    stream = "bench:raw"
    client.xgroup_create(stream, "g", id="0", mkstream=True)
    started = time.perf_counter()
    produce(client, stream, n, "raw")
    done = 0
    while done < n:
        reply = cast("list[Any]", client.xreadgroup("g", "c", {stream: ">"}, count=BATCH))
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        client.xack(stream, "g", *ids)
        done += len(ids)
    return n / (time.perf_counter() - started)


def write_floor(client: redis.Redis, n: int) -> list[float]:
    """Seconds per pipelined HSET + EXPIRE: a permit write with no exactly-once marker."""
    times = []
    for j in range(n):
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        pipe.hset(f"bench:permit:{j}", mapping={"granted": "1", "reason": "ok"})
        pipe.expire(f"bench:permit:{j}", 60)
        pipe.execute()
        times.append(time.perf_counter() - started)
    return times


def gate_run(port: int, n: int) -> tuple[float, list[float]]:
    settings = GateSettings(redis_url=f"redis://127.0.0.1:{port}/0", instance="bench-gate")
    with in_process_worker(GateWorker, settings) as (ctx, worker):
        timings: list[float] = []
        decide_batch = worker.decide_batch

        def timed(entries: list[StreamEntry], read: ViewRead, picked: float) -> Any:
            failures = decide_batch(entries, read, picked)
            # Every proposal of a batch waits for the batch: its latency is the batch's.
            timings.extend([time.perf_counter() - picked] * len(entries))
            return failures

        worker.decide_batch = timed  # type: ignore[method-assign]
        seed_book(ctx.redis, ctx.keys)
        started = time.perf_counter()
        produce(ctx.redis, ctx.keys.proposal_stream, n, "gate")
        while len(timings) < n:
            worker.step()
        elapsed = time.perf_counter() - started
    return n / elapsed, timings


def ready(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def gate_processes(
    port: int, count: int, **extra: str
) -> list[tuple[subprocess.Popen[bytes], int]]:
    """``count`` gate workers on the server at ``port`` (``extra``: more environment),
    and their health ports."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    started = []
    for i in range(count):
        http = free_port()
        env = {**keep, "TS_REDIS_URL": f"redis://127.0.0.1:{port}/0", "TS_INSTANCE": f"gate-{i}",
               "TS_HTTP_HOST": "127.0.0.1", "TS_HTTP_PORT": str(http),
               "TS_STREAM_BATCH_SIZE": str(BATCH), "TS_PORTFOLIO_STALE_SECONDS": "600",
               **extra}  # fmt: skip
        started.append((subprocess.Popen(
            [sys.executable, "-m", "tradingstack_workers.cli", "worker", "gate"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ), http))  # fmt: skip
    return started


def paced(
    client: redis.Redis, stream: str, n: int, per_second: float, fills: float = 0.0
) -> dict[str, float]:
    """XADD ``n`` proposals at ``per_second`` (a small pipeline every 2 ms); the Redis
    time (ms, from the entry id) each proposal entered the stream, by proposal id.
    ``fills``: reservations ended per second meanwhile, in the same pipelines.

    The proposals' fields are built before the paced loop, only ``ts`` stamped at send:
    the producer shares the cores with the gate and Redis, and building each proposal
    in the loop took their time. What is measured is unchanged (stream entry to audit
    entry)."""
    built = [
        Proposal(proposal_id=f"paced-{j}", bot="bench", strategy="breakout",
                 symbol=SYMBOLS[j % 20], side="BUY", qty=1.0, price=100.0,
                 notional_usd=100.0, ts=time.time()).to_fields()
        for j in range(n)
    ]  # fmt: skip
    entered: dict[str, float] = {}
    started = time.perf_counter()
    sent = ended = 0
    while sent < n:
        elapsed = time.perf_counter() - started
        due = min(n, int(elapsed * per_second) + 1)
        if due > sent:
            pipe = client.pipeline(transaction=False)
            stamp = repr(time.time())
            for fields in built[sent:due]:
                fields["ts"] = stamp
                pipe.xadd(stream, cast("dict[Any, Any]", fields))
            for _ in range(ended, int(elapsed * fills)):
                pipe.eval(_FILL, 3, *releases.release_keys(Keys()))
            ended = max(ended, int(elapsed * fills))
            replies = pipe.execute()
            for fields, entry_id in zip(built[sent:due], replies[: due - sent], strict=True):
                entered[fields["proposal_id"]] = entry_ms(entry_id)
            sent = due
        time.sleep(0.002)
    return entered


def entry_ms(entry_id: Any) -> float:
    """The Redis time (ms) a stream entry was added, from its id."""
    return float(str(entry_id).split("-")[0])


TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, seconds, every thread) the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_SECONDS  # utime, stime


def machine_seconds() -> tuple[float, float]:
    """The machine's CPU seconds so far over all cores: (busy, stolen by the hypervisor)."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is counted in user)
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]
    return busy * TICK_SECONDS, ticks[7] * TICK_SECONDS


class CpuUse(NamedTuple):
    """Seconds over a run: its wall time, and the CPU time of the gate processes, of
    redis-server, of this process (the producer) and of the whole machine."""

    wall: float
    gates: float
    redis: float
    producer: float
    machine_busy: float
    machine_steal: float

    @staticmethod
    def sample(pids: list[int], redis_pid: int) -> CpuUse:
        busy, steal = machine_seconds()
        gates = sum(cpu_seconds(p) for p in pids)
        return CpuUse(time.monotonic(), gates, cpu_seconds(redis_pid), time.process_time(),
                      busy, steal)  # fmt: skip

    def __sub__(self, other: tuple[Any, ...]) -> CpuUse:
        return CpuUse(*(a - b for a, b in zip(self, other, strict=True)))


class Run(NamedTuple):
    rate: float  # proposals per second
    latencies: list[float]  # ms per paced proposal, stream entry to audit entry
    cpu: CpuUse  # from the clock's start (or SIGCONT) to the last decision


def stopped(pid: int) -> bool:
    """Whether the process is stopped by a signal (state ``T`` in /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def signal_all(procs: list[subprocess.Popen[bytes]], sig: signal.Signals, deadline: float) -> None:
    """Send ``sig`` to each process; after SIGSTOP, wait until each is seen stopped."""
    for p in procs:
        p.send_signal(sig)
    while sig == signal.SIGSTOP and not all(stopped(p.pid) for p in procs):
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(procs)} gate processes not stopped")
        time.sleep(0.01)


def replicas_run(
    server: Any,
    n: int,
    count: int,
    per_second: float | None = None,
    *,
    backlog: bool = False,
    fills: float = 0.0,
    **extra: str,
) -> Run:
    """Proposals per second through ``count`` gate processes, XADD to the last decision;
    with ``backlog``, from continuing the stopped processes on ``n`` proposals already in
    the stream to the last decision; with ``per_second``, proposals are paced at that
    rate and the second value is each one's latency (ms, stream entry to audit entry,
    both Redis times: 1 ms resolution). ``extra``: more environment for the gate
    processes."""
    client = server.client()
    client.flushall()
    keys = Keys()
    seed_book(client, keys)
    gates = gate_processes(server.port, count, **extra)
    procs = [p for p, _ in gates]
    try:
        deadline = time.monotonic() + 120
        while not all(ready(http) for _, http in gates):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"{count} gate processes not ready")
            time.sleep(0.05)
        seed_book(client, keys)  # fresh timestamps
        if backlog:
            signal_all(procs, signal.SIGSTOP, deadline)
            produce(client, keys.proposal_stream, n, f"b{count}")
        # Redis time, as the audit entries' ids: the wait below polls seldom, so that
        # it takes no CPU from the gates, and the last entry's id says when it ended.
        seconds, micros = client.time()
        started_ms = seconds * 1000 + micros / 1000
        entered: dict[str, float] = {}
        before = CpuUse.sample([p.pid for p in procs], server.pid)
        if backlog:
            signal_all(procs, signal.SIGCONT, deadline)
        elif per_second is None:
            produce(client, keys.proposal_stream, n, f"r{count}")
        else:
            entered = paced(client, keys.proposal_stream, n, per_second, fills)
        while client.xlen(keys.gate_audit_stream) < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"{client.xlen(keys.gate_audit_stream)} of {n} decided")
            time.sleep(0.05)
        cpu = CpuUse.sample([p.pid for p in procs], server.pid) - before
        audit = cast("list[Any]", client.xrange(keys.gate_audit_stream))
        elapsed = max(entry_ms(audit[-1][0]) - started_ms, 1.0) / 1000
        latencies = [
            entry_ms(entry_id) - entered[f["proposal_id"]]
            for entry_id, f in audit
            if f["proposal_id"] in entered
        ]
        return Run(n / elapsed, latencies, cpu)
    finally:
        for p in procs:
            p.terminate()
            p.send_signal(signal.SIGCONT)  # a stopped process acts on SIGTERM once continued
        for p in procs:
            p.wait(timeout=30)


def cpu_use(runs: list[Run], proposals: int) -> dict[str, float]:
    """What runs of ``proposals`` each used, summed over the runs: CPU per proposal (µs,
    the gates and redis-server, and each one's part) and cores (CPU seconds per second:
    the gates and redis-server, the producer, the whole machine, what else ran on it,
    and the hypervisor's steal)."""
    total = CpuUse(*(sum(column) for column in zip(*(r.cpu for r in runs), strict=True)))
    decided = proposals * len(runs)
    ours = total.gates + total.redis
    return {
        "us_per_proposal": round(ours / decided * 1e6, 2),
        "gates_us_per_proposal": round(total.gates / decided * 1e6, 2),
        "redis_us_per_proposal": round(total.redis / decided * 1e6, 2),
        "gates_and_redis_cores": round(ours / total.wall, 3),
        "producer_cores": round(total.producer / total.wall, 3),
        "machine_busy_cores": round(total.machine_busy / total.wall, 3),
        "others_cores": round((total.machine_busy - ours - total.producer) / total.wall, 3),
        "steal_cores": round(total.machine_steal / total.wall, 3),
    }


def pct(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 300 if args.quick else 20_000

    def paced_n(per_second: float) -> int:
        return 300 if args.quick else min(AUDIT_MAXLEN, int(per_second * PACED_SECONDS))

    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            client = server.client()
            floor_rate = raw_floor(client, n)
            floor_lat = write_floor(client, min(n, 5000))
            rate, lat = gate_run(server.port, n)
            one, two = replicas_run(server, n, 1), replicas_run(server, n, 2)
            # Interleaved, so that a change in the machine's other load hits both.
            # Three replicas too (see the module doc).
            drained: dict[int, list[Run]] = {1: [], 2: [], 3: []}
            for count in (1, 2, 3, 3, 2, 1):
                drained[count].append(replicas_run(server, 3 * n, count, backlog=True))
            one_drained, two_drained, three_drained = (
                statistics.mean(r.rate for r in drained[c]) for c in (1, 2, 3)
            )
            # The half load (half of 0.4 x the floor, per replica), and half of
            # what one replica process did in this run.
            paced_runs = {
                rate: replicas_run(server, paced_n(rate), 1, per_second=rate)
                for rate in (0.2 * floor_rate, 0.5 * one.rate)
            }
            # The same half load with permits that expire after 1 s, unfilled: the state
            # a desk reaches when orders do not follow grants (reservations pruned).
            half = 0.2 * floor_rate
            expiring = replicas_run(server, paced_n(half), 1, per_second=half,
                                    TS_PERMIT_TTL_SECONDS=str(EXPIRING_TTL))  # fmt: skip
            # The same half load while bots end outstanding reservations.
            filling = replicas_run(server, paced_n(half), 1, per_second=half,
                                   fills=FILLS_PER_SECOND)  # fmt: skip
            ended = int(client.hget(Keys().reservation_grants, "released") or 0)
        finally:
            server.stop()
    emit(
        "gate_throughput",
        "gate proposals",
        unit="proposals/s",
        value=rate,
        baseline_case="XADD+XREADGROUP+XACK",
        baseline_value=floor_rate,
        proposals=n,
        batch=BATCH,
    )
    emit("gate_throughput", "gate proposals, 1 replica process", unit="proposals/s",
         value=one.rate, baseline_case="XADD+XREADGROUP+XACK", baseline_value=floor_rate,
         proposals=n, batch=BATCH, replicas=1, use=cpu_use([one], n))  # fmt: skip
    emit("gate_throughput", "gate proposals, 2 replica processes", unit="proposals/s",
         value=two.rate, baseline_case="gate proposals, 1 replica process",
         baseline_value=one.rate, proposals=n, batch=BATCH, replicas=2, cores=os.cpu_count(),
         use=cpu_use([two], n))  # fmt: skip
    emit("gate_throughput", "gate proposals, 2 replica processes, backlog", unit="proposals/s",
         value=two_drained, baseline_case="gate proposals, 1 replica process, backlog",
         baseline_value=one_drained, proposals=3 * n, batch=BATCH, replicas=2,
         cores=os.cpu_count(),
         runs={c: [round(r.rate) for r in drained[c]] for c in (1, 2)})  # fmt: skip
    emit("gate_throughput", "gate proposals, 3 replica processes, backlog", unit="proposals/s",
         value=three_drained, baseline_case="gate proposals, 1 replica process, backlog",
         baseline_value=one_drained, proposals=3 * n, batch=BATCH, replicas=3,
         cores=os.cpu_count(),
         runs={c: [round(r.rate) for r in drained[c]] for c in (1, 3)})  # fmt: skip
    use = {c: cpu_use(runs, 3 * n) for c, runs in drained.items()}
    emit("gate_throughput", "CPU per proposal (gates + redis-server), 2 replica processes, "
         "backlog", unit="us", value=use[2]["us_per_proposal"],
         baseline_case="CPU per proposal (gates + redis-server), 1 replica process, backlog",
         baseline_value=use[1]["us_per_proposal"], proposals=3 * n, batch=BATCH,
         cores=os.cpu_count(), use=use)  # fmt: skip
    for (per_second, run), q in itertools.product(paced_runs.items(), (50, 99)):
        emit("gate_throughput", f"decision p{q} at {per_second:.0f} proposals/s, 1 replica process",
             unit="ms", value=pct(run.latencies, q), baseline_case=f"HSET+EXPIRE p{q}",
             baseline_value=pct(floor_lat, q) * 1e3, proposals=len(run.latencies),
             per_second=round(per_second), resolution_ms=1,
             use=cpu_use([run], len(run.latencies)))  # fmt: skip
    for q in (50, 99):
        emit("gate_throughput", f"decision p{q} at {half:.0f} proposals/s, permits expiring "
             f"after {EXPIRING_TTL} s, 1 replica process", unit="ms",
             value=pct(expiring.latencies, q), baseline_case=f"HSET+EXPIRE p{q}",
             baseline_value=pct(floor_lat, q) * 1e3, proposals=len(expiring.latencies),
             per_second=round(half), permit_ttl_seconds=EXPIRING_TTL, resolution_ms=1,
             use=cpu_use([expiring], len(expiring.latencies)))  # fmt: skip
    for q in (50, 99):
        emit("gate_throughput", f"decision p{q} at {half:.0f} proposals/s, "
             f"{FILLS_PER_SECOND} reservations ended/s, 1 replica process", unit="ms",
             value=pct(filling.latencies, q),
             baseline_case=f"decision p{q} at {half:.0f} proposals/s, 1 replica process",
             baseline_value=pct(paced_runs[half].latencies, q),
             proposals=len(filling.latencies), per_second=round(half), ended=ended,
             resolution_ms=1, use=cpu_use([filling], len(filling.latencies)))  # fmt: skip
    for q in (50, 99):
        emit("gate_throughput", f"decision p{q}", unit="ms", value=pct(lat, q) * 1e3,
             baseline_case=f"HSET+EXPIRE p{q}", baseline_value=pct(floor_lat, q) * 1e3,
             proposals=n)  # fmt: skip


if __name__ == "__main__":
    main()
