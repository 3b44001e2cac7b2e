"""One leadership interface for every backend: who may trade an account, and until when.

Time is an injected monotonic clock (``now``), read by the caller *before* it calls
the backend: the local deadline is computed from that instant, so it always falls
before the backend's own expiry (which starts when the request arrives), less a
safety margin for clock-rate drift. ``is_leader(now)`` turns False at the deadline
whether or not a renewal was attempted: a paused or partitioned leader stops
submitting by itself, before anyone else can acquire.

A backend failure (Redis or the API server unreachable) keeps the lease already
held; it decays at its deadline. Backends never retry for long: a renewal that
outlasts the lease is worth nothing.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass

log = logging.getLogger(__name__)


class LeadershipUnavailable(Exception):
    """The backend could not be asked (network, server error); the lease is unchanged."""


@dataclass(frozen=True)
class Lease:
    """A held lease: ``epoch`` is the fencing token every order carries."""

    epoch: int
    #: On the caller's monotonic clock; past it the holder must not act.
    deadline: float
    holder: str


def unique_holder(instance: str) -> str:
    """A holder id unique to this process: a restarted pod with the same hostname must
    acquire anew (new epoch) rather than renew its previous incarnation's lease."""
    return f"{instance}-{uuid.uuid4().hex[:8]}"


class Leadership(ABC):
    """Acquire, renew, release; ``is_leader`` is the only question the trading loop asks."""

    def __init__(self, holder: str, lease_seconds: float, safety_seconds: float) -> None:
        if lease_seconds <= safety_seconds or safety_seconds < 0:
            raise ValueError(
                f"lease_seconds ({lease_seconds}) must exceed "
                f"safety_seconds ({safety_seconds}) >= 0"
            )
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.safety_seconds = safety_seconds
        self._lease: Lease | None = None

    @abstractmethod
    def _claim(self, now: float) -> int | None:
        """Acquire or renew at the backend: the epoch held, or None when another holds it.

        Raises :class:`LeadershipUnavailable` when the backend cannot be asked.
        """

    @abstractmethod
    def _give_up(self) -> None:
        """Hand the lease back at the backend (only if still ours)."""

    def acquire_or_renew(self, now: float) -> Lease | None:
        """Try once; ``now`` is the monotonic time taken just before this call."""
        try:
            epoch = self._claim(now)
        except LeadershipUnavailable as exc:
            log.warning("leadership backend unavailable", extra={"error": str(exc)})
            return self._lease if self.is_leader(now) else None
        if epoch is None:
            if self._lease is not None:
                log.warning("leadership lost", extra={"epoch": self._lease.epoch})
            self._lease = None
            return None
        if self._lease is None or self._lease.epoch != epoch:
            log.info("leadership acquired", extra={"epoch": epoch, "holder": self.holder})
        self._lease = Lease(epoch, now + self.lease_seconds - self.safety_seconds, self.holder)
        return self._lease

    def is_leader(self, now: float) -> bool:
        """True only while a lease is held and its deadline has not passed."""
        return self._lease is not None and now < self._lease.deadline

    @property
    def lease(self) -> Lease | None:
        return self._lease

    @property
    def epoch(self) -> int | None:
        """The fencing token of the lease held (None when not leader)."""
        return None if self._lease is None else self._lease.epoch

    def release(self) -> None:
        """Stop acting at once, then hand the lease back so a standby need not wait it out."""
        self._lease = None
        try:
            self._give_up()
        except LeadershipUnavailable as exc:
            log.warning("lease not released; it expires by itself", extra={"error": str(exc)})
