"""Write the kill switch into a stack's Redis, through Sentinel, and read it back.

The reconciler calls :func:`sentinel_kill_switch`'s writer first on every run (see
``reconcile/killswitch.py`` for what the status then says). It reaches the master as the
workers do: through the sentinels by their stable pod hostnames (or the one server's
Service without Sentinel), with the password from the stack's Secret, and short
timeouts, so an unreachable Redis costs a reconciliation a second, not a hang.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis

from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime import book, killswitch
from tradingstack_workers.runtime.redis_client import RedisUnavailable, RetryPolicy
from tradingstack_workers.runtime.sentinel import AgreeingSentinel, close_client

from .reconcile.killswitch import KillSwitch, WriteKillSwitch
from .render import names
from .render.stack import Options
from .sentinel import CredentialsError, PassCredentials
from .spec import TradingStackSpec

log = logging.getLogger(__name__)

#: Seconds per connection attempt and per command: an unreachable Redis must not stall.
TIMEOUT = 1.0
#: How long a write waits for a replica to hold it.
REPLICA_WAIT_MS = 1000

#: A client for a stack's current master: (name, namespace, spec, the pass's credentials).
Connect = Callable[[str, str, TradingStackSpec, PassCredentials], redis.Redis]


def kill_switch_on(connect: Connect) -> WriteKillSwitch:
    """A writer that sets ``spec.halted`` in the Redis ``connect`` reaches, and reads it back.

    With Sentinel the write counts only once a replica holds it (a failover keeps it).
    """

    def write(name: str, namespace: str, spec: TradingStackSpec,
              credentials: PassCredentials) -> KillSwitch:  # fmt: skip
        replicas = 1 if spec.redis.sentinel_enabled else 0
        try:
            client = connect(name, namespace, spec, credentials)
            try:
                keys = Keys(spec.key_prefix)
                state = killswitch.engage(
                    client, keys, spec.halted,
                    replicas=replicas, replica_timeout_ms=REPLICA_WAIT_MS,
                )  # fmt: skip
                if not spec.paused:  # a paused stack's bots are left as they run
                    _retire_removed_bots(client, keys, name, spec)
            finally:
                close_client(client)
        except redis.RedisError as exc:
            log.warning("kill switch not written", extra={"stack": name, "error": str(exc)})
            return KillSwitch(wanted=spec.halted, error=f"Redis unreachable: {exc}")
        except CredentialsError as exc:
            log.warning("kill switch not written", extra={"stack": name, "error": str(exc)})
            return KillSwitch(wanted=spec.halted, error=str(exc))
        replicated = state.replicated
        error = None if replicated else f"no replica acknowledged within {REPLICA_WAIT_MS} ms"
        return KillSwitch(spec.halted, state.halted, replicated, error)

    return write


def _retire_removed_bots(
    client: redis.Redis, keys: Keys, name: str, spec: TradingStackSpec
) -> None:
    """The book holds the declared bots' accounts only (``runtime.book``): a removed bot's
    cash must not stay in the gate's capacity. A failure is logged, not raised: the
    switch is written, and the next reconciliation retires again.

    This runs before the reconciliation deletes the removed bot's Deployment, so its
    pod may write once more while it stops: the next resync retires it again. A paused
    stack's children are not converged, so a removed bot may still run: not retired."""
    declared = [names.account(name, bot.name) for bot in spec.bots]
    try:
        dropped = book.retire(client, RetryPolicy(budget_seconds=TIMEOUT), keys, declared)
    except (redis.RedisError, RedisUnavailable) as exc:
        log.warning("removed bots not retired from the book",
                    extra={"stack": name, "error": str(exc)})  # fmt: skip
        return
    if dropped:
        log.info("removed bots retired from the book", extra={"stack": name, "accounts": dropped})


def sentinel_connect(options: Options | None = None) -> Connect:
    """The stack's master as ``quorum`` sentinels agree on it (a lone sentinel's old view is
    never trusted, as for the workers), or its one server; the admin password by the one
    password rule, over TLS when the stack has it. CredentialsError when the Secret is
    unusable."""
    domain = (options or Options()).cluster_domain

    def connect(name: str, namespace: str, spec: TradingStackSpec,
                credentials: PassCredentials) -> redis.Redis:  # fmt: skip
        admin = credentials.get()
        common: dict[str, Any] = {
            "password": admin.password,
            "socket_timeout": TIMEOUT,
            "socket_connect_timeout": TIMEOUT,
            **admin.tls(),
        }
        if not spec.redis.sentinel_enabled:
            host = names.redis_service_host(name, namespace, domain)
            return redis.Redis(host=host, port=names.REDIS_PORT, decode_responses=True, **common)
        hosts = [
            (host, names.SENTINEL_PORT)
            for host in names.redis_pod_hosts(name, namespace, spec.redis.replicas, domain)
        ]
        sentinel = AgreeingSentinel(hosts, spec.redis.sentinel.quorum, sentinel_kwargs=common)
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            names.MASTER_NAME, decode_responses=True, **common
        )
        return client

    return connect


def unreachable(
    _name: str, _namespace: str, spec: TradingStackSpec, _credentials: PassCredentials
) -> KillSwitch:
    """The writer of an operator that cannot reach the pods (out of cluster)."""
    return KillSwitch(
        wanted=spec.halted,
        error="this operator does not reach the stack's Redis (TS_OPERATOR_PROBE_SENTINEL is"
        " off): use tradingstack halt|resume NAME --sentinel HOST:PORT",
    )


def sentinel_kill_switch(options: Options | None = None) -> WriteKillSwitch:
    """The production writer: through the stack's sentinels."""
    return kill_switch_on(sentinel_connect(options))
