"""From the rendered Kubernetes manifests to the local processes that stand in for pods.

The renderer is the one source of truth: each worker Deployment's container command,
environment, probes and grace period are read from its output, and only the values that
exist in a cluster alone are translated (:func:`local_env`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime.settings import env_name

Manifest = dict[str, Any]


class PlanError(ValueError):
    """The rendered manifests hold something ``up`` cannot run locally."""


@dataclass(frozen=True)
class Probe:
    """A container's httpGet probe, as Kubernetes would run it."""

    path: str
    period_s: float
    timeout_s: float
    failure_threshold: int
    initial_delay_s: float = 0.0

    @classmethod
    def from_manifest(cls, probe: Mapping[str, Any]) -> Probe:
        return cls(
            path=str(probe["httpGet"]["path"]),
            period_s=float(probe.get("periodSeconds", 10)),
            timeout_s=float(probe.get("timeoutSeconds", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
            initial_delay_s=float(probe.get("initialDelaySeconds", 0)),
        )


@dataclass(frozen=True)
class Container:
    """One worker Deployment's container, as rendered."""

    deployment: str
    kind: str
    replicas: int
    command: tuple[str, ...]
    env: tuple[Manifest, ...]
    liveness: Probe
    startup: Probe | None
    readiness: Probe | None
    grace_s: float


@dataclass(frozen=True)
class Redis:
    """Where the local Redis answers: the one server, or the sentinels."""

    url: str | None
    sentinels: tuple[tuple[str, int], ...]
    password_file: Path
    #: The ACL user the workers log in as (None: the default user).
    username: str | None = None


@dataclass(frozen=True)
class LocalProcess:
    """One replica of a worker Deployment as a local process."""

    instance: str
    deployment: str
    kind: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    http_port: int
    liveness: Probe
    startup: Probe | None
    readiness: Probe | None
    grace_s: float


def containers(manifests: Sequence[Manifest]) -> list[Container]:
    """Every worker Deployment (workers and bots) in the order the renderer emits them."""
    out: list[Container] = []
    for manifest in manifests:
        if manifest.get("kind") != "Deployment":
            continue
        pod = manifest["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        command = tuple(str(part) for part in container["command"])
        if command[:2] != ("tradingstack", "worker") or len(command) != 3:
            raise PlanError(f"{manifest['metadata']['name']}: unexpected command {command}")
        startup, readiness = container.get("startupProbe"), container.get("readinessProbe")
        out.append(
            Container(
                deployment=str(manifest["metadata"]["name"]),
                kind=command[2],
                replicas=int(manifest["spec"].get("replicas", 1)),
                command=command,
                env=tuple(container.get("env", [])),
                liveness=Probe.from_manifest(container["livenessProbe"]),
                startup=Probe.from_manifest(startup) if startup else None,
                readiness=Probe.from_manifest(readiness) if readiness else None,
                grace_s=float(pod.get("terminationGracePeriodSeconds", 30)),
            )
        )
    return out


def local_env(
    rendered: Sequence[Mapping[str, Any]],
    *,
    instance: str,
    redis: Redis,
    http_port: int,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The pod's environment, with every cluster-only value translated for one machine.

    - ``TS_REDIS_URL`` / ``TS_REDIS_SENTINELS``: cluster DNS names -> the local Redis
      (a direct URL for one server, the sentinels' loopback addresses otherwise).
    - ``TS_REDIS_PASSWORD_FILE``: the mounted Secret -> the data dir's password file of
      ``redis.username`` (``TS_REDIS_USERNAME``: the local Redis has the pods' ``worker``
      user, with the pods' rights; without a username, the default user's).
    - ``TS_INSTANCE`` (downward API ``metadata.name``) -> ``<deployment>-<n>``.
    - ``TS_LEASE_NAMESPACE`` (downward API ``metadata.namespace``) is dropped and
      ``TS_LEADERSHIP=kubernetes`` becomes ``redis``: there is no API server to hold a
      Lease, and the Redis lease is the local runtime's backend.
    - ``TS_HTTP_HOST=127.0.0.1`` (loopback only) and a distinct ``TS_HTTP_PORT``.
    - A Secret's key (the exchange's ``TS_EXCHANGE_API_KEY`` ...) -> the variable of the
      same name in ``environ`` (``up``'s own environment): exported by the person who
      runs it, never written to a file; a required one that is missing is an error.

    Any other downward-API field is refused: it would have no local meaning.
    """
    environ = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for entry in rendered:
        name = str(entry["name"])
        if "valueFrom" not in entry:
            env[name] = str(entry.get("value", ""))
            continue
        secret = entry["valueFrom"].get("secretKeyRef")
        if secret is not None:
            value = _secret_value(name, secret, environ)
            if value is not None:
                env[name] = value
            continue
        field = entry["valueFrom"].get("fieldRef", {}).get("fieldPath")
        if field == "metadata.name":
            env[name] = instance
        elif field == "metadata.namespace" and name == env_name("lease_namespace"):
            continue
        else:
            raise PlanError(f"{name}: no local value for {entry['valueFrom']}")
    _translate_redis(env, redis)
    if env.get(env_name("leadership")) == "kubernetes":
        env[env_name("leadership")] = "redis"
    env[env_name("http_host")] = "127.0.0.1"
    env[env_name("http_port")] = str(http_port)
    return env


def _translate_redis(env: dict[str, str], redis: Redis) -> None:
    """The pod's Redis variables, pointed at the local Redis (see :func:`local_env`)."""
    if env_name("redis_url") in env or env_name("redis_sentinels") in env:
        env.pop(env_name("redis_url"), None)
        env.pop(env_name("redis_sentinels"), None)
        if redis.sentinels:
            env[env_name("redis_sentinels")] = ",".join(f"{h}:{p}" for h, p in redis.sentinels)
        elif redis.url:
            env[env_name("redis_url")] = redis.url
    if env_name("redis_password_file") in env:
        env[env_name("redis_password_file")] = str(redis.password_file)
        if redis.username is None:
            env.pop(env_name("redis_username"), None)
        else:
            env[env_name("redis_username")] = redis.username


def _secret_value(name: str, secret: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """A Secret key's local stand-in: ``up``'s own variable of that name."""
    if name in environ:
        return environ[name]
    if secret.get("optional"):
        return None
    raise PlanError(
        f"{name}: key {secret['key']} of Secret {secret['name']} has no local value;"
        f" export {name} before tradingstack up"
    )


def python_argv(command: Sequence[str]) -> tuple[str, ...]:
    """``tradingstack ...`` run by this interpreter, so an unactivated venv works too."""
    return (sys.executable, "-m", "tradingstack_workers.cli", *command[1:])


def processes(
    found: Sequence[Container],
    redis: Redis,
    ports: Callable[[], int],
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> list[LocalProcess]:
    """Every replica of every container; ``overrides`` (by kind) win last."""
    out: list[LocalProcess] = []
    extra = overrides or {}
    for container in found:
        for n in range(container.replicas):
            instance = f"{container.deployment}-{n}"
            port = ports()
            env = local_env(container.env, instance=instance, redis=redis, http_port=port)
            env.update(extra.get(container.kind, {}))
            out.append(
                LocalProcess(
                    instance=instance,
                    deployment=container.deployment,
                    kind=container.kind,
                    argv=python_argv(container.command),
                    env=env,
                    http_port=port,
                    liveness=container.liveness,
                    startup=container.startup,
                    readiness=container.readiness,
                    grace_s=container.grace_s,
                )
            )
    return out
