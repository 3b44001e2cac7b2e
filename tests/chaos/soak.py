"""A soak: steady load with faults at random intervals, memory sampled throughout.

A sampler thread reads every ``every`` seconds the resident memory of each worker and
Redis process (from /proc, by PID) and the master's ``used_memory``; the main thread
injects a random fault (kill -9 of a random worker of a kind with another replica, or
the master stopped for a second) at random intervals and measures it like the chaos
tier does. The growth per hour of
each series is the slope of a least-squares line through its samples after a warm-up;
a process restarted by a fault starts a new series. At the end every key is classified:
a key family (its name with ids and numbers folded) without a TTL must stay small, and
every stream is reported with its length.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from . import faults, runner
from .load import ProposalLoad
from .stack import ChaosStack, age_seconds, alive, rss_bytes

#: Growth allowed per hour, in bytes, for each process's resident memory and for Redis's
#: used_memory (what the test checks from the JSON; the figures are in the rows).
RSS_GROWTH_LIMIT = 64 * 1024 * 1024
REDIS_GROWTH_LIMIT = 256 * 1024 * 1024
#: Besides, a process may grow once by steps of this much in all (a bot's first trade
#: grows it by about 1.5 MiB at once, seen in a 3-minute soak): over a span of S seconds
#: that adds STEP_ALLOWANCE * 3600 / S bytes an hour to its limit, which a long soak
#: makes small and a leak's steady slope does not fit in.
STEP_ALLOWANCE = 8 * 1024 * 1024
#: A key family without a TTL may hold this many keys (symbols, accounts, streams,
#: per-bot state); one that grows with the proposals would pass it within minutes.
UNTIMED_FAMILY_LIMIT = 64
#: Samples taken while a process is younger than this are left out: a worker's memory
#: grows by steps through its first minutes (imports on first use, first trades, caches).
WARM_UP = 90.0
#: The dataset's first samples are left out too (the load's first keys).
DATASET_WARM_UP = 30.0
MIN_SPAN = 45.0


@dataclass
class Series:
    """One process's (or Redis's) memory over time: (seconds since start, bytes)."""

    name: str
    kind: str
    pid: int
    points: list[tuple[float, int]] = field(default_factory=list)
    #: The process's age (seconds) at each point; the dataset's is the soak's time.
    ages: list[float] = field(default_factory=list)

    def warm_up(self) -> float:
        return DATASET_WARM_UP if self.kind == "redis-dataset" else WARM_UP

    def kept(self) -> list[tuple[float, int]]:
        return [p for p, age in zip(self.points, self.ages, strict=True) if age >= self.warm_up()]

    def limit(self) -> float:
        """Bytes per hour this series may grow by (see STEP_ALLOWANCE)."""
        if self.kind == "redis-dataset":
            return REDIS_GROWTH_LIMIT
        kept = self.kept()
        span = kept[-1][0] - kept[0][0] if len(kept) > 1 else 0.0
        return RSS_GROWTH_LIMIT + STEP_ALLOWANCE * 3600 / max(span, MIN_SPAN)

    def growth_per_hour(self) -> float | None:
        """Least-squares slope after the warm-up, in bytes per hour; None when too short."""
        kept = self.kept()
        if len(kept) < 5 or kept[-1][0] - kept[0][0] < MIN_SPAN:
            return None
        n = len(kept)
        mean_t = sum(t for t, _ in kept) / n
        mean_b = sum(b for _, b in kept) / n
        var = sum((t - mean_t) ** 2 for t, _ in kept)
        slope = sum((t - mean_t) * (b - mean_b) for t, b in kept) / var
        return slope * 3600.0

    def span(self) -> float:
        return self.points[-1][0] - self.points[0][0] if self.points else 0.0


class Sampler:
    """Samples memory every ``every`` seconds on its own thread."""

    def __init__(self, stack: ChaosStack, every: float) -> None:
        self.stack = stack
        self.every = every
        self.series: dict[tuple[str, int], Series] = {}
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _add(self, name: str, kind: str, pid: int, value: int | None) -> None:
        now = time.monotonic() - self.started
        age = now if pid == 0 else age_seconds(pid)
        if value is None or age is None:
            return
        series = self.series.setdefault((name, pid), Series(name, kind, pid))
        series.points.append((now, value))
        series.ages.append(age)

    def sample(self) -> None:
        for instance, started in self.stack.instances().items():
            pid = int(started["pid"])
            if alive(pid):
                self._add(instance, str(started["kind"]), pid, rss_bytes(pid))
        for node in self.stack.redis_nodes():
            if alive(node.pid):
                kind = "redis-sentinel" if node.sentinel else "redis-server"
                self._add(f"{kind} {node.address}", kind, node.pid, rss_bytes(node.pid))
        try:
            used = int(self.stack.master().info("memory")["used_memory"])
            self._add("redis used_memory (master)", "redis-dataset", 0, used)
        except redis.RedisError:
            pass

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)


_ID = re.compile(r"(?<=[:._-])(?:pr|load-)?[0-9a-f]{16,}|\d+(?:\.\d+)?")


def family(key: str) -> str:
    """``key`` with ids and numbers folded to ``*``: the keys one writer makes alike."""
    return _ID.sub("*", key)


def key_audit(client: redis.Redis) -> dict[str, Any]:
    """Every key family: how many keys, how many without a TTL; every stream's length."""
    families: Counter[str] = Counter()
    untimed: Counter[str] = Counter()
    longest_ttl: dict[str, int] = {}
    streams: dict[str, int] = {}
    for key in client.scan_iter(count=1000):
        name = str(key)
        pipe = client.pipeline(transaction=False)
        pipe.type(name)
        pipe.ttl(name)
        kind, ttl = pipe.execute()
        families[family(name)] += 1
        longest_ttl[family(name)] = max(longest_ttl.get(family(name), -1), int(ttl))
        if ttl == -1:
            untimed[family(name)] += 1
        if kind == "stream":
            streams[name] = int(client.xlen(name))
    return {
        "keys": sum(families.values()),
        "families": dict(families.most_common()),
        "untimed_families": dict(untimed.most_common()),
        "longest_ttl_s": {f: t for f, t in longest_ttl.items() if t > 0},
        "streams": streams,
    }


def soak_faults(stack: ChaosStack, killed: set[str]) -> list[faults.Fault]:
    """kill -9 of a worker process not killed yet whose kind keeps another one never
    killed (so every kind has a process that lives through the whole soak: its growth is
    measured over the longest span), or the master stopped for a second."""
    instances = sorted(stack.instances())
    kinds = {i: stack.kind_of(i) for i in instances}

    def spared(i: str) -> bool:
        return any(j != i and kinds[j] == kinds[i] and j not in killed for j in instances)

    kills = [faults.Fault(f"kill -9 {i}", kinds[i], "kill9", (faults.named(i),))
             for i in instances if i not in killed and spared(i)]  # fmt: skip
    return [*kills, faults.CUT]


def run(
    stack: ChaosStack,
    load: ProposalLoad,
    *,
    seconds: float,
    fault_every: tuple[float, float],
    sample_every: float = 5.0,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """Soak for ``seconds``; the rows: each fault, each series' growth, keys, the total."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    sampler = Sampler(stack, sample_every).start()
    started = time.monotonic()
    before = stack.master().info("memory")["used_memory"]
    killed: set[str] = set()
    try:
        while True:
            wait = rng.uniform(*fault_every)
            if time.monotonic() - started + wait >= seconds:
                break
            time.sleep(wait)
            fault = rng.choice(soak_faults(stack, killed))
            row = runner.run_fault(stack, load, fault)
            killed.add(row["target"])
            rows.append({"soak": "fault", **row})
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    finally:
        sampler.stop()
    findings = runner.reconcile(stack, load, settled_before=time.time())
    elapsed = time.monotonic() - started
    rows += growth_rows(list(sampler.series.values()))
    audit = key_audit(stack.master())
    rows.append({"soak": "keys", **audit,
                 "untimed_family_limit": UNTIMED_FAMILY_LIMIT})  # fmt: skip
    rows.append({
        "soak": "total",
        "seconds": round(elapsed, 1),
        "faults": sum(1 for r in rows if r["soak"] == "fault"),
        "load_proposals": len(load.acknowledged),
        "lost": findings.lost,
        "doubled": findings.doubled,
        "stages": findings.stages,
        "examples": findings.examples,
        "redis_used_memory_start_bytes": before,
    })  # fmt: skip
    return rows


def growth_rows(series: Sequence[Series]) -> list[dict[str, Any]]:
    """Each series' growth per hour beside its limit; series too short say so."""
    rows = []
    for s in sorted(series, key=lambda s: (s.name, s.points[0][0] if s.points else 0.0)):
        growth = s.growth_per_hour()
        rows.append({
            "soak": "memory",
            "process": s.name,
            "kind": s.kind,
            "pid": s.pid,
            "samples": len(s.points),
            "span_s": round(s.span(), 1),
            "age_at_start_s": round(s.ages[0], 1) if s.ages else None,
            "warm_up_s": s.warm_up(),
            "start_bytes": s.points[0][1] if s.points else None,
            "end_bytes": s.points[-1][1] if s.points else None,
            "growth_bytes_per_hour": None if growth is None else round(growth),
            "limit_bytes_per_hour": round(s.limit()),
            "points": [[round(t, 1), b] for t, b in s.points],
        })  # fmt: skip
    return rows
