"""Ask every sentinel and every Redis pod who the master is. Sentinel decides; we report.

The master reported is the one the sentinels agree on (:func:`agreed`, the workers'
rule); anything that disagrees with it is a split brain: sentinels naming different
masters, two pods reporting role master, a pod reporting master that the sentinels do
not name, or a replica following another host than that master (spotahome's
``CheckAndHeal`` checks the same: a replica left pointing at a dead or cut-off master).
The judgement is the pure :func:`judge`; :func:`observe` does the asking.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis

from tradingstack_workers.password import PasswordError, password_from_bytes
from tradingstack_workers.runtime.sentinel import agreed

from .kube import Kube
from .render import names
from .render.stack import Options
from .resources import resource_of
from .spec import TradingStackSpec

log = logging.getLogger(__name__)

#: A status probe must not hold up reconciliation when pods are unreachable.
PROBE_TIMEOUT = 0.5


@dataclass(frozen=True)
class PodView:
    """What one Redis pod answered; None where it did not answer."""

    host: str
    sentinel_names: str | None = None  # the master host its sentinel names
    role: str | None = None  # "master" or "slave", from ROLE
    follows: str | None = None  # the master host a replica follows


@dataclass(frozen=True)
class RedisView:
    """The probe's verdict: the agreed master, and what disagrees with it."""

    master: str | None = None  # host:port
    split_brain: str | None = None
    problem: str | None = None  # why the pods could not be asked at all


def _short(host: str) -> str:
    return host.split(".", 1)[0]


def judge(pods: Sequence[PodView], quorum: int) -> RedisView:
    """The agreed master and every disagreement among the sentinels and the pods."""
    votes = Counter(p.sentinel_names for p in pods if p.sentinel_names)
    master = agreed(votes, quorum)
    found = []
    if len(votes) > 1:
        named = ", ".join(
            f"{_short(p.host)} names {_short(p.sentinel_names)}" for p in pods if p.sentinel_names
        )
        found.append(f"sentinels disagree ({named})")
    masters = [p.host for p in pods if p.role == "master"]
    if len(masters) > 1:
        found.append("pods " + ", ".join(map(_short, masters)) + " all report role master")
    elif masters and master is not None and masters[0] != master:
        found.append(
            f"{_short(masters[0])} reports role master but the sentinels name {_short(master)}"
        )
    if master is not None:
        astray = [p for p in pods if p.role == "slave" and p.follows and p.follows != master]
        found += [
            f"{_short(p.host)} follows {_short(p.follows or '')}, not {_short(master)}"
            for p in astray
        ]
    return RedisView(
        master=f"{master}:{names.REDIS_PORT}" if master else None,
        split_brain="; ".join(found) or None,
    )


def _ask(host: str, connection: dict[str, Any]) -> PodView:
    sentinel_names = role = follows = None
    try:
        client = redis.Redis(host=host, port=names.SENTINEL_PORT, **connection)
        answer = client.sentinel_get_master_addr_by_name(names.MASTER_NAME)
        if isinstance(answer, tuple | list) and answer:
            sentinel_names = str(answer[0])
    except redis.RedisError as exc:
        log.debug("sentinel did not answer", extra={"host": host, "error": str(exc)})
    try:
        reply = redis.Redis(host=host, port=names.REDIS_PORT, **connection).execute_command("ROLE")
        role = str(reply[0])
        if role == "slave":
            follows = str(reply[1])
    except redis.RedisError as exc:
        log.debug("redis did not answer", extra={"host": host, "error": str(exc)})
    return PodView(host, sentinel_names, role, follows)


def observe(
    hosts: Sequence[str],
    password: str,
    quorum: int,
    *,
    timeout: float = PROBE_TIMEOUT,
    tls_ca: str | None = None,
) -> RedisView:
    """Ask every pod's sentinel and server at once (the admin user), then :func:`judge`."""
    connection: dict[str, Any] = {
        "password": password,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "decode_responses": True,
    }
    if tls_ca is not None:
        connection |= {"ssl": True, "ssl_ca_data": tls_ca}
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        views = list(pool.map(lambda host: _ask(host, connection), hosts))
    return judge(views, quorum)


def secret_data(kube: Kube, namespace: str, name: str) -> dict[str, bytes] | None:
    """Every key of Secret ``name``, decoded (an undecodable one left out); None: no Secret."""
    secret = kube.get(resource_of({"apiVersion": "v1", "kind": "Secret"}), namespace, name)
    if secret is None:
        return None
    out = {}
    for key, encoded in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
    return out


def secret_value(kube: Kube, namespace: str, name: str, key: str) -> bytes | None:
    """Key ``key`` of Secret ``name``, decoded; None when either is missing or undecodable."""
    return (secret_data(kube, namespace, name) or {}).get(key)


class CredentialsError(ValueError):
    """The stack's Secret gives no usable password or CA; the message names Secret and key."""


@dataclass(frozen=True)
class Credentials:
    """How the operator reaches a stack's Redis: the admin password, the CA under TLS."""

    password: str
    tls_ca: str | None = None

    def tls(self) -> dict[str, Any]:
        """redis-py's TLS options for this stack: none without a CA."""
        return {} if self.tls_ca is None else {"ssl": True, "ssl_ca_data": self.tls_ca}


def stack_credentials(
    kube: Kube, stack: str, namespace: str, spec: TradingStackSpec
) -> Credentials:
    """The admin password (by the one password rule) and, under TLS, the CA; CredentialsError."""
    auth = spec.redis.auth
    secret_name = auth.existing_secret or names.redis_auth(stack)
    raw = secret_value(kube, namespace, secret_name, auth.key)
    if raw is None:
        raise CredentialsError(f"Secret {secret_name} has no key {auth.key}")
    try:
        password = password_from_bytes(raw)
    except PasswordError as exc:
        raise CredentialsError(f"Secret {secret_name} key {auth.key} {exc}") from None
    tls_ca = None
    if spec.redis.tls.enabled and spec.redis.tls.secret_name is not None:
        ca = secret_value(kube, namespace, spec.redis.tls.secret_name, "ca.crt")
        if ca is None:
            raise CredentialsError(f"Secret {spec.redis.tls.secret_name} has no ca.crt")
        tls_ca = ca.decode("utf-8", "replace")
    return Credentials(password, tls_ca)


class PassCredentials:
    """A stack's credentials for one reconcile pass: read on first use, then handed to each
    step of the pass that logs in to its Redis (the kill switch, the password rollover, the
    master probe). Each step read the admin Secret itself before: three GETs per pass once
    Redis ran. A CredentialsError is kept and raised again to every step that asks."""

    def __init__(self, read: Callable[[], Credentials]) -> None:
        self._read = read
        self._read_once: Credentials | CredentialsError | None = None

    @classmethod
    def of(cls, kube: Kube, stack: str, namespace: str, spec: TradingStackSpec) -> PassCredentials:
        """The stack's Secrets through ``kube`` (:func:`stack_credentials`)."""
        return cls(lambda: stack_credentials(kube, stack, namespace, spec))

    def get(self) -> Credentials:
        """The credentials; CredentialsError when the Secrets give none usable."""
        if self._read_once is None:
            try:
                self._read_once = self._read()
            except CredentialsError as exc:
                self._read_once = exc
        if isinstance(self._read_once, CredentialsError):
            raise self._read_once
        return self._read_once


def sentinel_master(
    stack: str, namespace: str, spec: TradingStackSpec, credentials: PassCredentials,
    options: Options | None = None,
) -> RedisView:  # fmt: skip
    """The stack's Redis as its sentinels and pods report it (the password from its Secret)."""
    domain = (options or Options()).cluster_domain
    try:
        admin = credentials.get()
    except CredentialsError as exc:
        return RedisView(problem=str(exc))
    hosts = names.redis_pod_hosts(stack, namespace, spec.redis.replicas, domain)
    return observe(hosts, admin.password, spec.redis.sentinel.quorum, tls_ca=admin.tls_ca)
