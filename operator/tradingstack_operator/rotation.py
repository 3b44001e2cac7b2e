"""The shell of the password rollover (render/redis_rotation.py): ask every node, send.

Each pass asks every server and sentinel what it accepts and logs in with, as the admin
(the new admin password first, then the previous ones the caller knows), asks
:func:`~.render.redis_rotation.plan` what to send, sends it, and asks again, until a
pass has nothing to send. Level-based like the reconciler: a node that restarted or was
unreachable is brought along on the next call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .render import names
from .render.redis_rotation import (
    ADMIN,
    REPLICATION,
    SENTINEL,
    NodeAuth,
    Plan,
    plan,
)

log = logging.getLogger(__name__)

#: Passes per call: begin, switch and finish each need what the previous one sent.
PASSES = 4
SERVER_USERS = (ADMIN, REPLICATION, SENTINEL, "worker", "exporter")
SENTINEL_USERS = (ADMIN, SENTINEL, "worker")


@dataclass(frozen=True)
class Rollover:
    """Where a rollover stands after a call, and the nodes that could not be asked."""

    switched: bool
    done: bool
    unreachable: tuple[str, ...] = ()
    error: str | None = None


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
    try:
        for host in hosts:
            for port, is_sentinel in ports:
                try:
                    client = _login(host, port, admins, connection)
                except redis.RedisError as exc:
                    log.warning("node not reached", extra={"host": host, "error": str(exc)})
                    client = None
                if client is None:
                    unreachable.append(f"{host}:{port}")
                else:
                    clients[(host, is_sentinel)] = client
        step = Plan((), switched=False, done=False)
        for _ in range(PASSES):
            where = "asking"
            nodes = [_observe(c, host, s) for (host, s), c in clients.items()]
            step = plan(nodes, passwords, workers_rolled=workers_rolled and not unreachable)
            if not step.commands:
                break
            for command in step.commands:
                where = str(command)
                log.info("password rollover", extra={"command": where})
                clients[(command.host, command.sentinel)].execute_command(*command.args)
    except redis.RedisError as exc:
        error = f"{where}: {type(exc).__name__}: {exc}"
        return Rollover(False, False, tuple(unreachable), error)
    finally:
        for client in clients.values():
            client.close()
    return Rollover(step.switched, step.done and not unreachable, tuple(unreachable))
