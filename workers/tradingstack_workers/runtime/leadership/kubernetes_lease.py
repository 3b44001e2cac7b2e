"""Leadership through a coordination.k8s.io/v1 Lease: the in-cluster backend.

The record follows client-go's leader election: ``holderIdentity``,
``leaseDurationSeconds``, ``acquireTime``, ``renewTime``, ``leaseTransitions``.
Every write is a PUT carrying the resourceVersion that was read, so of two
contenders exactly one succeeds; the other gets 409 and has lost the race.

Expiry is judged on the contender's own monotonic clock, as client-go does: a
record held by another instance counts as expired once it has not changed (same
resourceVersion) for ``leaseDurationSeconds`` since this instance first saw it.
Node clocks (``renewTime``) are never compared across machines.

The epoch is ``leaseTransitions``, raised on every acquisition to
``max(leaseTransitions, epoch in Redis) + 1`` so it keeps rising even when the
Lease object is deleted and recreated. Ordering on acquisition: (1) the PUT
succeeds, (2) the epoch is published into Redis (:class:`EpochFence`, raise-only),
(3) only then does :meth:`acquire_or_renew` return a lease and the bot act. From
step 2 on, every order of the previous holder carries a lower epoch and is refused
at the chokepoint; if the process dies between 1 and 2, the next holder's epoch is
still higher than anything published.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client import CoordinationV1Api, V1Lease, V1LeaseSpec, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

from .base import Leadership, LeadershipUnavailable
from .fence import EpochFence

CONFLICT = 409
NOT_FOUND = 404


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _micro_time(moment: datetime.datetime) -> datetime.datetime:
    """The client prints a datetime without fraction when microsecond is 0, which the API
    server's MicroTime (RFC3339 with 6 digits) refuses: keep the fraction present."""
    return moment if moment.microsecond else moment.replace(microsecond=1)


class KubernetesLease(Leadership):
    """One Lease ``name`` in ``namespace``; the epoch is published through ``fence``."""

    def __init__(
        self,
        api: CoordinationV1Api,
        namespace: str,
        name: str,
        holder: str,
        fence: EpochFence,
        *,
        lease_seconds: float,
        safety_seconds: float = 0.5,
        request_timeout: float = 2.0,
        wall: Callable[[], datetime.datetime] = _utc_now,
    ) -> None:
        super().__init__(holder, lease_seconds, safety_seconds)
        self._api = api
        self._namespace = namespace
        self._name = name
        self._fence = fence
        self._timeout = request_timeout
        self._wall = wall
        self._duration = math.ceil(lease_seconds)
        self._observed: tuple[str, float] | None = None  # (resourceVersion, first seen)

    def _call(self, what: str, request: Callable[[], Any]) -> Any:
        """Run one API request; 409 and 404 pass through as ApiException, the rest is 'down'."""
        try:
            return request()
        except ApiException as exc:
            if exc.status in (CONFLICT, NOT_FOUND):
                raise
            raise LeadershipUnavailable(f"{what} lease {self._name}: {exc.status}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LeadershipUnavailable(f"{what} lease {self._name}: {exc}") from exc

    def _read(self) -> V1Lease | None:
        try:
            lease: V1Lease = self._call(
                "read",
                lambda: self._api.read_namespaced_lease(
                    self._name, self._namespace, _request_timeout=self._timeout
                ),
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise LeadershipUnavailable(f"read lease {self._name}: {exc.status}") from exc
        return lease

    def _record(
        self, epoch: int, acquired: datetime.datetime | None, version: str | None
    ) -> V1Lease:
        now = _micro_time(self._wall())
        return V1Lease(
            api_version="coordination.k8s.io/v1",
            kind="Lease",
            metadata=V1ObjectMeta(
                name=self._name, namespace=self._namespace, resource_version=version
            ),
            spec=V1LeaseSpec(
                holder_identity=self.holder,
                lease_duration_seconds=self._duration,
                acquire_time=_micro_time(acquired) if acquired else now,
                renew_time=now,
                lease_transitions=epoch,
            ),
        )

    def _write(self, body: V1Lease, *, create: bool) -> bool:
        """PUT (or POST); False when another writer got there first (409)."""
        try:
            if create:
                self._call(
                    "create",
                    lambda: self._api.create_namespaced_lease(
                        self._namespace, body, _request_timeout=self._timeout
                    ),
                )
            else:
                self._call(
                    "replace",
                    lambda: self._api.replace_namespaced_lease(
                        self._name, self._namespace, body, _request_timeout=self._timeout
                    ),
                )
        except ApiException as exc:
            if exc.status == CONFLICT:
                return False
            raise LeadershipUnavailable(f"write lease {self._name}: {exc.status}") from exc
        return True

    def _expired(self, version: str, now: float) -> bool:
        """True once ``version`` has stayed unchanged for a lease duration on our clock."""
        if self._observed is None or self._observed[0] != version:
            self._observed = (version, now)
            return False
        return now - self._observed[1] >= self._duration

    def _published(self, epoch: int) -> int | None:
        """Publish before acting; a higher epoch already in Redis means we are not current."""
        return epoch if self._fence.publish(epoch) else None

    def _claim(self, now: float) -> int | None:
        current = self._read()
        if current is None:
            epoch = self._fence.current() + 1
            if not self._write(self._record(epoch, None, None), create=True):
                return None
            return self._published(epoch)
        spec = current.spec or V1LeaseSpec()
        version = str((current.metadata or V1ObjectMeta()).resource_version or "")
        transitions = int(spec.lease_transitions or 0)
        if spec.holder_identity == self.holder:
            renewal = self._record(transitions, spec.acquire_time, version)
            return self._published(transitions) if self._write(renewal, create=False) else None
        if spec.holder_identity and not self._expired(version, now):
            return None
        epoch = max(transitions, self._fence.current()) + 1
        if not self._write(self._record(epoch, None, version), create=False):
            return None
        return self._published(epoch)

    def _give_up(self) -> None:
        """Empty the holder (client-go's ReleaseOnCancel) so a standby takes over at once."""
        current = self._read()
        spec = current.spec if current is not None else None
        if current is None or spec is None or spec.holder_identity != self.holder:
            return
        spec.holder_identity = None
        spec.lease_duration_seconds = 1
        spec.renew_time = _micro_time(self._wall())
        self._write(current, create=False)
