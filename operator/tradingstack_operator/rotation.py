"""The shell of the password rollover (reconcile/rotation.py): ask every node, send.

Each pass asks every server and sentinel what it accepts and logs in with, as the admin
(the new admin password first, then the previous ones the caller knows), asks
:func:`~.reconcile.rotation.plan` what to send, sends it, and asks again, until a
pass has nothing to send. Level-based like the reconciler: a node that restarted or was
unreachable is brought along on the next call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tradingstack_workers.password import PasswordError, password_from_bytes

from .kube import Kube
from .reconcile.killswitch import redis_ready
from .reconcile.rollover import Rollover
from .reconcile.rotation import (
    ADMIN,
    LIVE_USERS,
    SENTINEL,
    NodeAuth,
    Plan,
    plan,
    secret_checksum,
    stamped,
    to_stamp,
    workers_rolled,
)
from .render import names
from .render.stack import Options
from .sentinel import CredentialsError, PassCredentials, secret_data
from .spec import TradingStackSpec

log = logging.getLogger(__name__)

#: Passes per call: begin, switch and finish each need what the previous one sent.
PASSES = 4
SERVER_USERS = LIVE_USERS
SENTINEL_USERS = (ADMIN, SENTINEL, "worker")


def _client(host: str, port: int, password: str, connection: Mapping[str, Any]) -> redis.Redis:
    return redis.Redis(host=host, port=port, password=password, decode_responses=True,
                       **connection)  # fmt: skip


def _login(host: str, port: int, admins: Sequence[str], connection: Mapping[str, Any]
           ) -> redis.Redis | None:  # fmt: skip
    for password in admins:
        client = _client(host, port, password, connection)
        try:
            client.ping()
        except redis.AuthenticationError:
            client.close()
            continue
        return client
    log.warning("no admin password accepted", extra={"host": host, "port": port})
    return None


def _hashes(client: redis.Redis, user: str) -> frozenset[str] | None:
    reply = client.acl_getuser(user)  # redis-py answers a dict, or None for no such user
    if not isinstance(reply, dict):
        return None
    hashes = reply.get("passwords")
    return frozenset(str(h) for h in hashes) if isinstance(hashes, list) else frozenset()


def _observe(client: redis.Redis, host: str, sentinel: bool) -> NodeAuth:
    users = SENTINEL_USERS if sentinel else SERVER_USERS
    accepted = {u: h for u in users if (h := _hashes(client, u)) is not None}
    if sentinel:
        reply = client.execute_command("SENTINEL", "CONFIG", "GET", "sentinel-pass")
    else:
        reply = client.config_get("masterauth")
    if isinstance(reply, dict):
        value = next(iter(reply.values()), None)
    else:
        value = reply[1] if len(reply) > 1 else None
    return NodeAuth(host, sentinel, accepted, str(value) if value else None)


def _reach(host: str, port: int, admins: Sequence[str], connection: Mapping[str, Any]
           ) -> tuple[redis.Redis | None, bool]:  # fmt: skip
    """A client logged in as the admin (None: not reached, or no admin password taken),
    and whether the node answered at all."""
    try:
        return _login(host, port, admins, connection), True
    except redis.RedisError as exc:
        log.warning("node not reached", extra={"host": host, "error": str(exc)})
        return None, False


def _under_way(first: Plan | None, refused_admin: bool) -> bool | None:
    """A rollover is under way: a node held another password than ``passwords`` (its
    first pass had something to do, or it took none of the admin passwords we know);
    None: no node could be asked."""
    if refused_admin:
        return True
    return None if first is None else not first.done


def roll_passwords(
    hosts: Sequence[str],
    passwords: Mapping[str, str],
    *,
    previous_admin: Sequence[str] = (),
    workers_rolled: bool,
    sentinel: bool = True,
    connection: Mapping[str, Any] | None = None,
) -> Rollover:
    """Bring every server (and sentinel) of ``hosts`` towards ``passwords`` (user -> new
    password; ``default`` is the admin's); ``previous_admin`` are admin passwords the
    nodes may still hold. Finishes (removes the old passwords) only when
    ``workers_rolled`` and every node answered."""
    connection = connection or {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}
    # redis-py retries a refused AUTH (a ConnectionError) with back-off: a wrong candidate
    # would cost seconds per node. One attempt each; the next call is the retry.
    connection = {"retry": Retry(NoBackoff(), 0), **connection}
    admins = [passwords[ADMIN], *previous_admin]
    ports = [(names.REDIS_PORT, False)] + ([(names.SENTINEL_PORT, True)] if sentinel else [])
    clients: dict[tuple[str, bool], redis.Redis] = {}
    unreachable: list[str] = []
    where = "logging in"
    refused_admin = False  # a node answered, but took no admin password we know
    first: Plan | None = None  # the first pass: what the nodes held before this call
    try:
        for host in hosts:
            for port, is_sentinel in ports:
                client, answered = _reach(host, port, admins, connection)
                refused_admin = refused_admin or (answered and client is None)
                if client is None:
                    unreachable.append(f"{host}:{port}")
                else:
                    clients[(host, is_sentinel)] = client
        step = Plan((), switched=False, done=False)
        for _ in range(PASSES):
            where = "asking"
            nodes = [_observe(c, host, s) for (host, s), c in clients.items()]
            step = plan(nodes, passwords, workers_rolled=workers_rolled and not unreachable)
            if first is None and nodes:
                first = step
            if not step.commands:
                break
            for command in step.commands:
                where = str(command)
                log.info("password rollover", extra={"command": where})
                clients[(command.host, command.sentinel)].execute_command(*command.args)
    except redis.RedisError as exc:
        error = f"{where}: {type(exc).__name__}: {exc}"
        return Rollover(False, False, tuple(unreachable), error,
                        _under_way(first, refused_admin))  # fmt: skip
    finally:
        for client in clients.values():
            client.close()
    under_way = _under_way(first, refused_admin)
    # A node not asked may be the master the workers reach: they move only once every
    # node takes their new password.
    whole = not unreachable
    return Rollover(step.switched and whole, step.done and whole, tuple(unreachable),
                    under_way=under_way)  # fmt: skip


#: The credentials checksum to stamp on the worker and bot pods (None: stamp nothing),
#: and where the rollover stands (None: Redis was not asked, as before its first pod is ready).
Stamp = tuple[str | None, Rollover | None]
#: The reconciler's step: (name, namespace, spec, observed children, the pass's
#: credentials) -> :data:`Stamp`.
RollPasswords = Callable[
    [str, str, TradingStackSpec, Sequence[Mapping[str, Any]], PassCredentials], Stamp
]


def password_rollover(kube: Kube, options: Options | None = None) -> RollPasswords:
    """The reconciler's rollover step: each run brings the stack's Redis towards the
    passwords its Secrets hold now (:func:`roll_passwords`) and says which checksum the
    workers' pods carry, so they roll only once Redis takes their new password, beside
    where the rollover stands (the PasswordsRolledOver condition: .reconcile.rollover).

    The previous admin password is the last one this operator logged in with; an operator
    that restarts between an admin password change and its next run does not know it,
    and the rollover then waits (``Rollover.unreachable``) until the old password is put
    back in the Secret and the change is made again after one run."""
    domain = (options or Options()).cluster_domain
    last_admin: dict[tuple[str, str], str] = {}

    def step(name: str, namespace: str, spec: TradingStackSpec,
             children: Sequence[Mapping[str, Any]],
             credentials: PassCredentials) -> Stamp:  # fmt: skip
        users_secret = names.redis_users(name)
        observed = stamped([dict(c) for c in children], users_secret)
        ready = redis_ready(children)
        try:
            admin = credentials.get()
            passwords = {ADMIN: admin.password}
            data = secret_data(kube, namespace, users_secret) or {}
            for user in LIVE_USERS[1:]:
                if user not in data:
                    raise CredentialsError(f"Secret {users_secret} has no key {user}")
                try:
                    passwords[user] = password_from_bytes(data[user])
                except PasswordError as exc:
                    raise CredentialsError(f"Secret {users_secret} key {user} {exc}") from None
        except CredentialsError as exc:
            log.warning("password rollover waits", extra={"stack": name, "error": str(exc)})
            # A new stack's Secrets are made later in its first run; a running stack's
            # unusable Secret holds a rollover back.
            stuck = Rollover(False, False, error=str(exc), under_way=True)
            return observed, stuck if ready else None
        current = secret_checksum({"worker": passwords["worker"]})
        if not ready:
            # Nothing to log in to (a new stack): its pods start from these Secrets.
            return observed or current, None
        if spec.redis.sentinel_enabled:
            hosts = names.redis_pod_hosts(name, namespace, spec.redis.replicas, domain)
        else:
            hosts = [names.redis_service_host(name, namespace, domain)]
        connection = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0, **admin.tls()}
        key = (namespace, name)
        previous = [p for p in (last_admin.get(key),) if p and p != admin.password]
        result = roll_passwords(
            hosts, passwords, previous_admin=previous,
            workers_rolled=workers_rolled([dict(c) for c in children], users_secret, current),
            sentinel=spec.redis.sentinel_enabled, connection=connection,
        )  # fmt: skip
        if result.error or result.unreachable:
            trouble = {"error": result.error, "unreachable": list(result.unreachable)}
            log.warning("password rollover incomplete", extra={"stack": name, **trouble})
        elif result.done or key not in last_admin:
            last_admin[key] = admin.password
        return to_stamp(observed, current, result.switched), result

    return step
