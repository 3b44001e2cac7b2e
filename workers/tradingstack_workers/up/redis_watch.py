"""Redis and Sentinel under ``up``: reaped, reported and restarted as the workers are.

A process that exits is reaped at once (no zombie), reported as a ``restart`` event with
its exit code and last lines, and started again on its port after the workers' back-off,
from a config rebuilt by :class:`.redis_procs.SetConfig` (never from the sentinel.conf a
sentinel rewrote). Where it comes back is Sentinel's call, as in the pods' redis.sh:

- a server starts as a replica of the master the sentinels name. One they still name
  master (it died before they noticed) waits for their failover instead of coming back
  as master with an AOF older than its replicas' data; only if no failover comes within
  ``patience_s`` does it start as the master they still name;
- a sentinel starts watching the master the sentinels name (it finds the replicas and
  the other sentinels from there), and waits while none is named.

Each process's readiness is asked in the background, by the pods' readiness rules
(:func:`server_ready`; a sentinel: it answers), and ``status.json`` counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..password import read_password
from . import supervise
from .children import Questions
from .local_redis import LocalRedis
from .redis_procs import MASTER_NAME, RedisProcess, named_master_port
from .supervise import Backoff, ChildView

Emit = Callable[..., None]
#: Seconds a readiness question waits for a process's answer (a frozen one gives none).
ASK_TIMEOUT_S = 0.5


def server_ready(info: Mapping[str, Any], port: int, named_master: int | None) -> bool:
    """Whether a server is ready by the pods' rule (render/redis_sh/probe.sh): a replica
    once its link to the master is up and its sync done; a master once the sentinels
    name it (``named_master``: their master's port; pass ``port`` without Sentinel).
    ``info``: the server's INFO replication."""
    if info.get("role") == "master":
        return named_master == port
    linked = info.get("master_link_status") == "up"
    return linked and int(info.get("master_sync_in_progress", 1)) == 0


@dataclass
class Slot:
    """One Redis process of the stack, whichever PID runs it now."""

    instance: str  # <stack>-redis-<n> or <stack>-redis-sentinel-<n>, as the pods are named
    kind: Literal["redis", "sentinel"]
    index: int
    started_at: float
    streak: int = 0  # restarts in a row without a healthy stretch
    restarts: int = 0
    start_at: float | None = None  # a restart is due from then on
    waiting_since: float | None = None  # for the sentinels to name a master to follow

    @property
    def component(self) -> str:
        return self.instance.rpartition("-")[0]


class RedisWatch:
    """Watches ``redis_``'s processes from ``up``'s main thread (see :mod:`.spawn`)."""

    def __init__(
        self,
        stack_name: str,
        redis_: LocalRedis,
        emit: Emit,
        backoff: Backoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis_
        self.emit = emit
        self.backoff = backoff
        self.clock = clock
        now = clock()
        self.slots = [
            *(Slot(f"{stack_name}-redis-{i}", "redis", i, now) for i in range(len(redis_.servers))),
            *(Slot(f"{stack_name}-redis-sentinel-{i}", "sentinel", i, now)
              for i in range(len(redis_.sentinels))),
        ]  # fmt: skip
        self._pool = ThreadPoolExecutor(max_workers=len(self.slots), thread_name_prefix="ready")
        self._asked = Questions(self._pool)  # readiness, by instance
        self._ready: dict[str, bool] = {}
        timings = redis_.config.timings
        # Long enough for the sentinels to see the master down and finish a failover.
        self.patience_s = 2 * (timings.down_after_ms + timings.failover_timeout_ms) / 1000

    def process(self, slot: Slot) -> RedisProcess:
        return (self.redis.servers if slot.kind == "redis" else self.redis.sentinels)[slot.index]

    def health(self, named: str | None) -> list[tuple[str, bool]]:
        """(component, ready) per process, for ``status.json``: running, and ready by the
        last answer to a readiness question (asked in the background; a new one is sent
        once the last is answered). ``named``: ``host:port`` of the master the sentinels
        name now (:meth:`.LocalRedis.master`), which a master must be to be ready."""
        named_port = None if named is None else int(named.rpartition(":")[2])
        out = []
        for slot in self.slots:
            process = self.process(slot)
            running = slot.start_at is None and process.alive()
            answer = self._asked.answer(slot.instance, process.pid)
            if answer is not None:
                self._ready[slot.instance] = answer
            if running and not self._asked.out(slot.instance):
                self._asked.ask(slot.instance, process.pid, self._ask_ready, slot,
                                process.port, named_port)  # fmt: skip
            out.append((slot.component, running and self._ready.get(slot.instance, False)))
        return out

    def _ask_ready(self, slot: Slot, port: int, named_port: int | None) -> bool:
        client = redis.Redis(
            port=port, password=read_password(self.redis.secret), socket_timeout=ASK_TIMEOUT_S,
            socket_connect_timeout=ASK_TIMEOUT_S, retry=Retry(NoBackoff(), 0),
        )  # fmt: skip
        try:
            if slot.kind == "sentinel":
                return bool(client.ping())
            info = client.info("replication")
        except redis.RedisError:
            return False
        finally:
            client.close()
        return server_ready(info, port, named_port)

    def close(self) -> None:
        """Stop asking (an answer still under way ends with its socket timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def tick(self) -> None:
        """Reap and report what exited; restart what is due and has a master to follow."""
        now = self.clock()
        asked: list[str | None] = []  # the sentinels' master, asked at most once a tick
        for slot in self.slots:
            process = self.process(slot)
            if slot.start_at is None and process.proc is not None:
                code = process.proc.poll()  # reaps it
                if code is not None:
                    self._exited(slot, process, code, now)
            if slot.start_at is not None and now >= slot.start_at:
                self._restart(slot, process, now, asked)

    def _exited(self, slot: Slot, process: RedisProcess, code: int, now: float) -> None:
        view = ChildView(False, slot.started_at, True, 0, None, slot.streak)
        decision = supervise.restart(view, "exited", now, self.backoff)
        slot.restarts += 1
        slot.streak = decision.streak
        slot.start_at = decision.start_at
        self.emit(
            "restart", instance=slot.instance, kind=slot.kind, reason=decision.reason,
            pid=process.pid, exit_code=code, last_lines=process.last_lines(),
            restarts=slot.restarts, delay_s=round(decision.start_at - now, 3),
        )  # fmt: skip

    def _restart(self, slot: Slot, old: RedisProcess, now: float, asked: list[str | None]) -> None:
        master = self._master_to_follow(slot, old, now, asked)
        if master is None:
            return  # asked again on the next tick
        config = self.redis.config
        if slot.kind == "redis":
            new = config.server(slot.index, old.port, None if master == old.port else master)
            self.redis.servers[slot.index] = new
        else:
            new = config.sentinel(slot.index, old.port, master)
            self.redis.sentinels[slot.index] = new
        new.spawn()
        slot.start_at = None
        slot.waiting_since = None
        slot.started_at = now
        role = "master" if master == old.port else f"replica of 127.0.0.1:{master}"
        self.emit(
            "redis_started", instance=slot.instance, kind=slot.kind, pid=new.pid,
            port=new.port, restarts=slot.restarts,
            **({"role": role} if slot.kind == "redis" else {"monitors": f"127.0.0.1:{master}"}),
        )  # fmt: skip

    def _master_to_follow(
        self, slot: Slot, old: RedisProcess, now: float, asked: list[str | None]
    ) -> int | None:
        """The master's port to replicate or watch (a server's own: start as master), or
        None to wait. ``asked`` memoises the sentinels' answer for this tick."""
        if not self.redis.sentinels:
            return old.port  # the one server is the master for good
        if not asked:
            asked.append(self.redis.master())  # skips a master the sentinels see down
        found = asked[0]
        port = None if found is None else int(found.rpartition(":")[2])
        if port is not None and (slot.kind == "sentinel" or port != old.port):
            return port
        if slot.waiting_since is None:
            slot.waiting_since = now
            self.emit(
                "redis_waiting", instance=slot.instance, kind=slot.kind,
                reason="the sentinels name no other master to follow yet: waiting for "
                f"their failover (at most {self.patience_s:g} s)",
            )  # fmt: skip
        if now - slot.waiting_since < self.patience_s:
            return None
        return named_master_port(self.redis.sentinels, MASTER_NAME)
