"""A worker kind of which exactly one instance writes: a lease elects it, a fence holds it.

Deployment ``Recreate`` does not make a singleton: a pod on a partitioned node keeps
running while its replacement starts. So every instance runs this loop: renew (or try
to take) the kind's lease every ``renew_seconds``; while leading, run
:meth:`SingletonWorker.lead` every ``interval_seconds`` with the lease's epoch, and
write only through :class:`~.fencing.FencedWriter` with that epoch. A standby does
nothing but try for the lease.

Two safeguards, as for the bots: the local lease deadline (``is_leader``) stops a leader
that cannot renew before anyone else can acquire; and the fence refuses a write whose
epoch is not the current one, which covers the leader that was paused past its
deadline and wakes up mid-cycle believing it still leads.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import Counter, Gauge

from .fencing import Fenced, FencedWriter
from .leadership import LeaderSettings, Leadership, leadership
from .loop import Worker, WorkerContext

log = logging.getLogger(__name__)

IS_LEADER = "tradingstack_worker_is_leader"
FENCED_WRITES = "tradingstack_worker_fenced_writes"  # exported as ..._total
NAMES = (IS_LEADER, FENCED_WRITES + "_total")

S = TypeVar("S", bound=LeaderSettings)


class SingletonWorker(Worker[S]):
    """Subclasses implement :meth:`lead` (one cycle's work) and may override
    :meth:`on_lead` (load what the previous leader left)."""

    def __init__(
        self,
        ctx: WorkerContext[S],
        interval_seconds: float,
        *,
        elect: Leadership | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ctx)
        s = ctx.settings
        scope = ctx.keys.singleton_leadership(s.kind)
        self.leadership = elect or leadership(s, ctx.redis, scope)
        self.writer = FencedWriter(
            ctx.redis,
            ctx.retry,
            fence=scope.fence,
            journal=ctx.keys.singleton_journal(s.kind),
            holder=self.leadership.holder,
            marker_prefix=ctx.keys.prefix,
            replicas=s.write_replicas,
            replica_timeout_ms=s.redis_write_replica_timeout_ms,
        )
        self.interval_seconds = interval_seconds
        # Renew three times a lease (client-go renews at 2/3 of it); never slower than the work.
        self.cycle_seconds = min(interval_seconds, s.lease_seconds / 3)
        self.monotonic = monotonic
        self.epoch: int | None = None
        self._due = 0.0
        self.is_leader = Gauge(
            IS_LEADER, "1 while this instance holds its kind's lease", registry=ctx.registry
        )
        self.fenced = Counter(
            FENCED_WRITES,
            "Writes refused because another instance had taken the lease",
            registry=ctx.registry,
        )

    def on_lead(self, epoch: int) -> None:
        """Called once when this instance becomes leader with ``epoch``."""

    @abstractmethod
    def lead(self, epoch: int) -> None:
        """One cycle of work; every write goes through ``self.writer`` with ``epoch``."""

    def step(self) -> None:
        """Renew the lease; while leading, run :meth:`lead` when the interval is due."""
        epoch = self._renew()
        if epoch is None:
            return
        now = self.monotonic()
        if now < self._due:
            return
        self._due = now + self.interval_seconds
        self._lead(epoch)

    def cycle(self) -> None:
        """One whole cycle now, whatever the interval: renew, and :meth:`lead` if leading
        (for a caller that drives the cycles itself, as the tests do with their clock)."""
        epoch = self._renew()
        if epoch is not None:
            self._due = self.monotonic() + self.interval_seconds
            self._lead(epoch)

    def _renew(self) -> int | None:
        """The epoch this instance leads with, or None (standby)."""
        lease = self.leadership.acquire_or_renew(self.monotonic())
        leading = lease is not None and self.leadership.is_leader(self.monotonic())
        self.is_leader.set(1 if leading else 0)
        if lease is None or not leading:
            self.epoch = None
            return None
        if lease.epoch != self.epoch:
            self.epoch = lease.epoch
            log.info("leading", extra={"epoch": lease.epoch, "holder": lease.holder})
            self.on_lead(lease.epoch)
            self._due = 0.0
        return lease.epoch

    def _lead(self, epoch: int) -> None:
        try:
            self.lead(epoch)
        except Fenced as exc:
            # Another instance took over while we were away: step down, write nothing more.
            self.fenced.inc()
            log.warning("write fenced off: another instance leads", extra={"error": str(exc)})
            self.epoch = None
            self.is_leader.set(0)
            self.leadership.release()

    def close(self) -> None:
        self.leadership.release()
        self.is_leader.set(0)
