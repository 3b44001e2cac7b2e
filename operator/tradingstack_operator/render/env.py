"""The worker environment contract: TS_* variables checked against the workers' settings.

Names come from the settings classes themselves (``env_name``), so a variable the worker
would refuse as unknown fails here, at render time, not in a crash-looping pod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tradingstack_workers.kinds import SETTINGS
from tradingstack_workers.runtime.settings import env_name

from . import names
from .pods import field_env
from .stack import Manifest, Stack

Value = str | int | float | bool | Sequence[str]

#: Where a Redis password is mounted: the admin's in Redis pods, the ``worker`` user's in
#: worker and bot pods (which never see the admin password).
PASSWORD_DIR = "/var/run/tradingstack/redis"
PASSWORD_FILE = f"{PASSWORD_DIR}/password"
#: The ACL user of every worker and bot (see redis_sh/redis.sh for its rights).
WORKER_USER = "worker"
TLS_DIR = "/var/run/tradingstack/redis-tls"
#: What the workers are told, and what their pods' timings are derived from.
SHUTDOWN_GRACE_SECONDS = 25
HEARTBEAT_INTERVAL_SECONDS = 5


def text(value: Value) -> str:
    """A settings value as the workers' settings read it back from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return ",".join(value)


def settings_env(kind: str, values: Mapping[str, Value]) -> list[Manifest]:
    """``TS_*`` entries for settings fields of ``kind``; an unknown field is a bug here."""
    fields = SETTINGS[kind].model_fields
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise KeyError(f"{kind} worker has no settings {', '.join(unknown)}")
    return [{"name": env_name(f), "value": text(v)} for f, v in values.items()]


def redis_values(stack: Stack) -> dict[str, Value]:
    """How a worker reaches Redis: every sentinel by stable hostname, or the one server."""
    spec, domain = stack.spec.redis, stack.options.cluster_domain
    if spec.sentinel_enabled:
        sentinels = [
            f"{host}:{names.SENTINEL_PORT}"
            for host in names.redis_pod_hosts(stack.name, stack.namespace, spec.replicas, domain)
        ]
        return {
            "redis_sentinels": sentinels,
            "redis_master_name": names.MASTER_NAME,
            "redis_sentinel_quorum": spec.sentinel.quorum,
        }
    host = names.redis_service_host(stack.name, stack.namespace, domain)
    scheme = "rediss" if spec.tls.enabled else "redis"
    return {"redis_url": f"{scheme}://{host}:{names.REDIS_PORT}/0"}


def runtime_env(stack: Stack, kind: str) -> list[Manifest]:
    """The variables every worker kind shares, the instance name from the pod's own."""
    values: dict[str, Value] = {
        **redis_values(stack),
        "redis_username": WORKER_USER,
        "redis_password_file": PASSWORD_FILE,
        "key_prefix": stack.spec.key_prefix,
        "http_port": names.HTTP_PORT,
        "heartbeat_interval_seconds": HEARTBEAT_INTERVAL_SECONDS,
        "shutdown_grace_seconds": SHUTDOWN_GRACE_SECONDS,
    }
    if stack.spec.redis.tls.enabled:
        values["redis_tls_ca_file"] = f"{TLS_DIR}/ca.crt"
    return [field_env(env_name("instance"), "metadata.name"), *settings_env(kind, values)]


def password_volume(stack: Stack) -> Manifest:
    """The admin password Secret as a file (Redis pods); the key is renamed to ``password``."""
    auth = stack.spec.redis.auth
    return {
        "name": "redis-auth",
        "secret": {
            "secretName": auth.existing_secret or names.redis_auth(stack.name),
            "items": [{"key": auth.key, "path": "password"}],
            # Readable by the pods' fsGroup only.
            "defaultMode": 0o440,
        },
    }


def worker_password_volume(stack: Stack) -> Manifest:
    """The ``worker`` user's password as ``password`` (worker and bot pods)."""
    return {
        "name": "redis-auth",
        "secret": {
            "secretName": names.redis_users(stack.name),
            "items": [{"key": WORKER_USER, "path": "password"}],
            "defaultMode": 0o440,
        },
    }


def tls_volume(stack: Stack, *, ca_only: bool = False) -> Manifest:
    """The TLS Secret: the CA alone for clients, certificate and key too for Redis pods."""
    keys = ["ca.crt"] if ca_only else ["tls.crt", "tls.key", "ca.crt"]
    return {
        "name": "redis-tls",
        "secret": {
            "secretName": stack.spec.redis.tls.secret_name,
            "items": [{"key": key, "path": key} for key in keys],
            "defaultMode": 0o440,
        },
    }


def worker_volumes(stack: Stack) -> tuple[list[Manifest], list[Manifest]]:
    """(volumes, mounts) a worker or bot pod needs to reach Redis."""
    out, mounts = [worker_password_volume(stack)], [PASSWORD_MOUNT]
    if stack.spec.redis.tls.enabled:
        out.append(tls_volume(stack, ca_only=True))
        mounts.append(TLS_MOUNT)
    return out, mounts


PASSWORD_MOUNT = {"name": "redis-auth", "mountPath": PASSWORD_DIR, "readOnly": True}
TLS_MOUNT = {"name": "redis-tls", "mountPath": TLS_DIR, "readOnly": True}
