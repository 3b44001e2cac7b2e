"""Sentinel discovery that trusts a master only when enough sentinels agree on it.

redis-py's ``Sentinel`` takes the first sentinel's answer (``min_other_sentinels`` only
counts the peers that sentinel knows of, not whether they agree). A pod that comes back
alone after an outage restarts its sentinel with an old view; trusting it is how two
masters get clients. Here every sentinel is asked, and a master is used only when at
least ``quorum`` of them name it and more of them name it than any other: the rule of
the Redis pods' scripts (``agreed_master`` in redis_sh/lib.sh) and of the operator's
probe, defined once in :func:`agreed`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

import redis
from redis.sentinel import MasterNotFoundError, Sentinel

A = TypeVar("A")


def agreed(votes: Mapping[A, int], quorum: int) -> A | None:
    """The address at least ``quorum`` sentinels name, more than name any other; else None."""
    ranked = Counter(votes).most_common(2)
    if not ranked:
        return None
    (top, count), runner_up = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0)
    if count >= quorum and count > runner_up:
        return top
    return None


class AgreeingSentinel(Sentinel):
    """A ``Sentinel`` whose ``discover_master`` needs ``quorum`` agreeing sentinels."""

    def __init__(self, sentinels: list[tuple[str, int]], quorum: int, **kwargs: Any) -> None:
        super().__init__(sentinels, **kwargs)  # type: ignore[no-untyped-call]
        self.quorum = quorum
        # One thread per sentinel: an unreachable one costs one timeout, not one each.
        self._pool = ThreadPoolExecutor(max_workers=len(sentinels), thread_name_prefix="sentinel")
        self._closed = threading.Event()

    def _ask(self, sentinel: redis.Redis, service_name: str) -> tuple[str, int] | None:
        try:
            state = sentinel.sentinel_master(service_name)
        finally:
            # An ask still under way when discover_master returned early, then close():
            # its connection went back to the pool after close() emptied it.
            if self._closed.is_set():
                sentinel.connection_pool.disconnect()
        if not isinstance(state, dict):
            return None
        if not self.check_master_state(state, service_name):  # type: ignore[no-untyped-call]
            return None
        return str(state["ip"]), int(state["port"])

    def close(self) -> None:
        """Close every sentinel connection and stop the asking threads.

        A client made by :meth:`master_for` keeps this manager: :func:`close_client` closes
        both. A caller that makes one per run (the operator, per reconcile) must close it,
        or each run leaves connections open on every sentinel and its threads behind.
        """
        self._closed.set()
        for sentinel in self.sentinels:
            sentinel.close()
            sentinel.connection_pool.disconnect()
        # Not waiting: an unreachable sentinel's ask ends with its socket timeout.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def discover_master(self, service_name: str) -> tuple[str, int]:
        """(host, port) of the master ``quorum`` sentinels agree on; MasterNotFoundError."""
        votes: Counter[tuple[str, int]] = Counter()
        errors: list[str] = []
        down = 0  # answered, but see the master down (or too few other sentinels)
        asked = [self._pool.submit(self._ask, s, service_name) for s in self.sentinels]
        majority = 2 * self.quorum > len(self.sentinels)
        for done in as_completed(asked):
            try:
                address = done.result()
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
                errors.append(str(exc))
                continue
            if address is None:
                down += 1
                continue
            votes[address] += 1
            # With a majority quorum no other address can still draw level: stop waiting
            # for slow or unreachable sentinels.
            if majority and votes[address] >= self.quorum:
                return address
        master = agreed(votes, self.quorum)
        if master is None:
            seen = ", ".join(f"{h}:{p} x{n}" for (h, p), n in votes.items()) or "none"
            raise MasterNotFoundError(
                f"no {self.quorum} sentinels agree on a master for {service_name!r}"
                f" (named: {seen}; seeing it down: {down}; errors: {len(errors)})"
            )
        return master


def close_client(client: redis.Redis) -> None:
    """Close ``client`` and, when it came from :class:`AgreeingSentinel`, its sentinels."""
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    client.close()
    # close() leaves a pool it was given (master_for gives one) connected.
    client.connection_pool.disconnect()
    if isinstance(manager, AgreeingSentinel):
        manager.close()
